/* kv.c - key-value operations on JetStream (see kv.h). */
#include "autoconfig.h"
#include "kv/kv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "nats/js.h"
#include "nats/msgget.h"
#include "nats/scan.h"
#include "nats/conn.h"
#include "util.h"
#include "nats/subjects.h"

#define MAX_KEY_LEN 2048
#define MAX_HISTORY_STEPS 100000

/* --- validation ------------------------------------------------------- */

bool jg_kv_bucket_valid(const char *b)
{
    if (!b || !*b || strlen(b) > 200)
        return false;
    for (const char *p = b; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return false;
    return true;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '/' || c == '_' || c == '=' || c == '.';
}

bool jg_kv_key_valid(const char *k)
{
    size_t len = k ? strlen(k) : 0;
    if (!len || len > MAX_KEY_LEN || k[0] == '.' || k[len - 1] == '.' || strstr(k, "..") ||
        strncmp(k, "_kv", 3) == 0)
        return false;
    for (const char *p = k; *p; p++)
        if (!key_char(*p))
            return false;
    return true;
}

bool jg_kv_filter_valid(const char *f)
{
    size_t len = f ? strlen(f) : 0;
    if (!len || len > MAX_KEY_LEN || f[0] == '.' || f[len - 1] == '.' || strstr(f, ".."))
        return false;
    const char *tok = f;
    for (;;) {
        const char *dot = strchr(tok, '.');
        size_t tl = dot ? (size_t)(dot - tok) : strlen(tok);
        if (tl == 1 && (*tok == '*' || *tok == '>')) {
            if (*tok == '>' && dot)
                return false;
        } else {
            for (size_t i = 0; i < tl; i++)
                if (!key_char(tok[i]))
                    return false;
        }
        if (!dot)
            break;
        tok = dot + 1;
    }
    return true;
}

bool jg_kv_filter_match(const char *pat, const char *key)
{
    const char *p = pat, *k = key;
    for (;;) {
        const char *pd = strchr(p, '.'), *kd = strchr(k, '.');
        size_t pl = pd ? (size_t)(pd - p) : strlen(p), kl = kd ? (size_t)(kd - k) : strlen(k);
        if (pl == 1 && *p == '>')
            return true;
        if (!(pl == 1 && *p == '*') && (pl != kl || strncmp(p, k, pl) != 0))
            return false;
        if (!pd || !kd)
            return !pd && !kd;
        p = pd + 1;
        k = kd + 1;
    }
}

const char *jg_kv_op_name(enum jg_kv_op op)
{
    static const char *names[] = {"PUT", "DEL", "PURGE"};
    return names[op];
}

/* --- client input ------------------------------------------------------ */

jg_status jg_kv_etag_parse(const char *v, uint64_t *ret)
{
    char buf[32];
    size_t len = strlen(v);
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
        if (len - 2 >= sizeof(buf))
            return JG_ERR_INVALID_PARAMETER;
        memcpy(buf, v + 1, len - 2);
        buf[len - 2] = '\0';
        v = buf;
    }
    return jg_u64_parse(v, ret) == JG_OK ? JG_OK : JG_ERR_INVALID_PARAMETER;
}

bool jg_kv_etag_list_match(const char *list, uint64_t rev)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        size_t n = strcspn(p, ",");
        char tag[40];
        if (n && n < sizeof(tag)) {
            memcpy(tag, p, n);
            while (n && (tag[n - 1] == ' ' || tag[n - 1] == '\t'))
                n--;
            tag[n] = '\0';
            uint64_t r;
            if (jg_kv_etag_parse(tag, &r) == JG_OK && r == rev)
                return true;
        }
        p += strcspn(p, ",");
    }
    return false;
}

jg_status jg_kv_bucket_cfg_parse(const char *body, size_t len, struct jg_kv_bucket_cfg *c,
                                 char *why, size_t wl)
{
    cJSON *root = NULL;
    jg_status st = JG_OK;
    if (len == 0)
        return JG_OK; /* all defaults */
    if (strlen(body) != len || !(root = cJSON_ParseWithOpts(body, NULL, true)) ||
        !cJSON_IsObject(root)) {
        snprintf(why, wl, "the body must be a JSON object");
        st = JG_ERR_INVALID_CONFIG;
        goto out;
    }
    for (const cJSON *f = root->child; f; f = f->next) {
        const char *k = f->string;
        if (strcmp(k, "description") == 0) {
            if (!cJSON_IsString(f)) {
                snprintf(why, wl, "'description' must be a string");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            /* a repeated field: the last one counts, as for the others */
            free(c->description);
            c->description = strdup(f->valuestring);
            if (!c->description) {
                c->has_description = false;
                snprintf(why, wl, "out of memory");
                st = JG_ERR_NOMEM;
                goto out;
            }
            c->has_description = true;
        } else if (strcmp(k, "history") == 0) {
            if (jg_js_json_i64(f, &c->history) != JG_OK || c->history < 1 || c->history > 64) {
                snprintf(why, wl, "'history' must be an integer from 1 to 64");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_history = true;
        } else if (strcmp(k, "ttl") == 0) {
            if (jg_js_json_duration(f, &c->ttl) != JG_OK) {
                snprintf(why, wl, "'ttl' must be nanoseconds or a duration such as \"1h\"");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_ttl = true;
        } else if (strcmp(k, "max_value_size") == 0 || strcmp(k, "max_bytes") == 0) {
            int64_t v;
            if (jg_js_json_i64(f, &v) != JG_OK || v < -1 || v == 0 || v > INT32_MAX * 1024LL * 1024) {
                snprintf(why, wl, "'%s' must be -1 (unlimited) or a positive integer", k);
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            if (k[4] == 'v') {
                c->max_value_size = v;
                c->has_mvs = true;
            } else {
                c->max_bytes = v;
                c->has_mb = true;
            }
        } else if (strcmp(k, "storage") == 0) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "file") != 0 && strcmp(f->valuestring, "memory") != 0)) {
                snprintf(why, wl, "'storage' must be \"file\" or \"memory\"");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            snprintf(c->storage, sizeof(c->storage), "%s", f->valuestring);
            c->has_storage = true;
        } else if (strcmp(k, "replicas") == 0) {
            if (jg_js_json_i64(f, &c->replicas) != JG_OK || c->replicas < 1 || c->replicas > 5) {
                snprintf(why, wl, "'replicas' must be an integer from 1 to 5");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_replicas = true;
        } else {
            snprintf(why, wl, "unknown field '%.64s'", k);
            st = JG_ERR_INVALID_CONFIG;
            goto out;
        }
    }
out:
    cJSON_Delete(root);
    return st;
}

void jg_kv_bucket_cfg_done(struct jg_kv_bucket_cfg *c)
{
    if (!c)
        return;
    free(c->description);
    c->description = NULL;
}

/* --- entries ----------------------------------------------------------- */

void jg_kv_entry_free(struct jg_kv_entry *e)
{
    if (!e)
        return;
    free(e->bucket);
    free(e->key);
    free(e->content_type);
    free(e->value_buf);
    jg_nats_msg_release(e->msg);
    free(e);
}

cJSON *jg_kv_entry_json(const struct jg_kv_entry *e)
{
    char when[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    jg_time_rfc3339(e->created_ns, when);
    cJSON_AddStringToObject(o, "bucket", e->bucket);
    cJSON_AddStringToObject(o, "key", e->key);
    cJSON_AddStringToObject(o, "created", when);
    cJSON_AddNumberToObject(o, "revision", (double)e->revision);
    cJSON_AddNumberToObject(o, "delta", (double)e->delta);
    cJSON_AddStringToObject(o, "operation", jg_kv_op_name(e->op));
    if (e->op == JG_KV_PUT) {
        char *b64 = jg_base64_encode(e->value, e->value_len, false);
        if (b64) {
            cJSON_AddStringToObject(o, "value", b64);
            free(b64);
        }
    }
    return o;
}

static enum jg_kv_op op_from_header(const char *v)
{
    if (v && strcmp(v, "DEL") == 0)
        return JG_KV_DEL;
    if (v && strcmp(v, "PURGE") == 0)
        return JG_KV_PURGE;
    return JG_KV_PUT;
}

static jg_status entry_new(const char *bucket, const char *subject, struct jg_kv_entry **ret)
{
    char prefix[300];
    struct jg_kv_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return JG_ERR_NOMEM;
    size_t pl = jg_subj_kv_prefix(bucket, prefix, sizeof(prefix));
    e->bucket = strdup(bucket);
    e->key = strdup(subject && strncmp(subject, prefix, pl) == 0 ? subject + pl : "");
    if (!e->bucket || !e->key) {
        jg_kv_entry_free(e);
        return JG_ERR_NOMEM;
    }
    *ret = e;
    return JG_OK;
}

void jg_kv_parse_header_block(const char *h, size_t len, enum jg_kv_op *op, char **ctype)
{
    const char *end = h + len, *line = h;
    *op = JG_KV_PUT;
    *ctype = NULL;
    /* skip the "NATS/1.0" status line */
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && line != h) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (nl == 12 && strncmp(line, "KV-Operation", 12) == 0) {
                if (vl == 3 && strncmp(v, "DEL", 3) == 0)
                    *op = JG_KV_DEL;
                else if (vl == 5 && strncmp(v, "PURGE", 5) == 0)
                    *op = JG_KV_PURGE;
            } else if (nl == 12 && strncasecmp(line, "Content-Type", 12) == 0 && !*ctype) {
                *ctype = strndup(v, vl);
            }
        }
        line = eol + 1;
    }
}

jg_status jg_kv_entry_from_stored(const char *bucket, const cJSON *m, struct jg_kv_entry **ret)
{
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(m, "subject");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(m, "time");
    const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(m, "hdrs");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    struct jg_kv_entry *e = NULL;
    jg_status st;

    if (!cJSON_IsString(subj) || !cJSON_IsNumber(seq))
        return JG_ERR_INTERNAL;
    st = entry_new(bucket, subj->valuestring, &e);
    if (st != JG_OK)
        return st;
    e->revision = seq->valuedouble > 0 && seq->valuedouble < 1.8e19 ? (uint64_t)seq->valuedouble : 0;
    if (cJSON_IsString(time))
        jg_time_parse_rfc3339(time->valuestring, &e->created_ns);
    if (cJSON_IsString(hdrs)) {
        char *raw;
        size_t rl;
        if (jg_base64_decode(hdrs->valuestring, strlen(hdrs->valuestring), false, &raw, &rl) ==
            JG_OK) {
            jg_kv_parse_header_block(raw, rl, &e->op, &e->content_type);
            free(raw);
        }
    }
    if (cJSON_IsString(data)) {
        st = jg_base64_decode(data->valuestring, strlen(data->valuestring), false, &e->value_buf,
                              &e->value_len);
        if (st != JG_OK) {
            jg_kv_entry_free(e);
            return JG_ERR_INTERNAL;
        }
        e->value = e->value_buf;
    } else {
        e->value = "";
    }
    *ret = e;
    return JG_OK;
}

/* --- fetch: one stored message by last-of-key, sequence or next-of-key -- */

typedef void (*fetch_fn)(void *ctx, jg_status st, struct jg_kv_entry *e);

/* A read through the one read routine (nats/msgget.h), policy
 * JG_MSGGET_KV. */
struct fetch {
    struct jg_msgget get;
    const char *bucket;  /* owned by the operation */
    fetch_fn fn;
    void *ctx;
    char stream[300];
    char subject[MAX_KEY_LEN + 300];
};

/* The entry of a stored message: headers from a direct get's reply, or
 * the header block of a leader's. */
static jg_status entry_from_msg(const char *bucket, struct jg_stored_msg *m,
                                struct jg_kv_entry **ret)
{
    struct jg_kv_entry *e = NULL;
    jg_status st;

    if (m->seq == 0)
        return JG_ERR_INTERNAL;
    st = entry_new(bucket, m->subject, &e);
    if (st != JG_OK)
        return st;
    e->revision = m->seq;
    e->created_ns = m->time_ns;
    if (m->msg) {
        const char *ct = jg_nats_msg_header(m->msg, "Content-Type");
        e->op = op_from_header(jg_nats_msg_header(m->msg, "KV-Operation"));
        if (ct)
            e->content_type = strdup(ct);
    } else if (m->hdrs) {
        jg_kv_parse_header_block(m->hdrs, m->hdrs_len, &e->op, &e->content_type);
    }
    /* the entry takes the data's owner */
    e->msg = m->msg;
    e->value_buf = m->buf;
    e->value = m->data;
    e->value_len = m->len;
    m->msg = NULL;
    m->buf = NULL;
    *ret = e;
    return JG_OK;
}

jg_status jg_kv_entry_from_direct(const char *bucket, natsMsg *msg, struct jg_kv_entry **ret)
{
    struct jg_stored_msg m;
    int status = jg_nats_msg_status(msg);
    if (status) {
        jg_nats_msg_release(msg);
        return status == 404 || status == 408 ? JG_ERR_KEY_NOT_FOUND
               : status == 503               ? JG_ERR_NATS_UNAVAILABLE
                                             : JG_ERR_INTERNAL;
    }
    jg_stored_msg_from_direct(msg, &m);
    jg_status st = entry_from_msg(bucket, &m, ret);
    jg_stored_msg_clear(&m);
    return st;
}

static void fetched(void *ctx, jg_status st, struct jg_stored_msg *m)
{
    struct fetch *f = ctx;
    struct jg_kv_entry *e = NULL;
    if (st == JG_OK) {
        st = entry_from_msg(f->bucket, m, &e);
        jg_stored_msg_clear(m);
    }
    f->fn(f->ctx, st, e);
}

/* seq 0 and !next: the key's last message; seq > 0: that sequence
 * (next: the key's first message at or after seq).  A leader's "no
 * message" is asked of the replicas for the current value only. */
static void fetch_start(struct jg_app *app, const struct jg_bucket_info *info, struct fetch *f,
                        const char *bucket, const char *key, uint64_t seq, bool next,
                        fetch_fn fn, void *ctx)
{
    struct jg_msgget *g = &f->get;

    f->bucket = bucket;
    f->fn = fn;
    f->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, f->stream, sizeof(f->stream));
    jg_subj_kv_key(bucket, key, f->subject, sizeof(f->subject));
    *g = (struct jg_msgget){
        .nats = app->nats,
        .buckets = app->buckets,
        .kind = JG_BUCKET_KV,
        .bucket = bucket,
        .stream = f->stream,
        .subject = f->subject,
        .seq = seq,
        .next = next,
        .leader = info->replicas > 1 || !info->allow_direct,
        .replicas = info->replicas > 1 && info->allow_direct && seq == 0 && !next,
        .single = info->replicas <= 1,
        .policy = JG_MSGGET_KV,
        .request_timeout_ms = app->cfg.request_timeout_ms,
        .fn = fetched,
        .ctx = f,
    };
    jg_status st = jg_msgget_start(g);
    if (st != JG_OK)
        fn(ctx, st, NULL);
}

/* --- get --------------------------------------------------------------- */

struct get_op {
    struct jg_app *app;
    char *bucket, *key;
    uint64_t revision;
    jg_kv_get_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
    struct fetch fetch;
};

static void get_op_free(struct get_op *op)
{
    free(op); /* bucket and key live in the same block */
}

static void get_fetched(void *ctx, jg_status st, struct jg_kv_entry *e)
{
    struct get_op *op = ctx;
    jg_kv_get_fn fn = op->fn;
    void *fctx = op->ctx;

    if (st == JG_OK && op->revision && strcmp(e->key, op->key) != 0) {
        jg_kv_entry_free(e);
        e = NULL;
        st = JG_ERR_KEY_NOT_FOUND;
    }
    if (st == JG_OK && e->op != JG_KV_PUT)
        st = JG_ERR_KEY_NOT_FOUND;
    if (st == JG_ERR_NATS_UNAVAILABLE && jg_nats_connected(op->app->nats))
        (void)jg_buckets_no_responders(op->app->buckets, JG_BUCKET_KV, op->bucket);
    get_op_free(op);
    fn(fctx, st, e);
}

static void get_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct get_op *op = ctx;
    if (st != JG_OK) {
        jg_kv_get_fn fn = op->fn;
        void *fctx = op->ctx;
        get_op_free(op);
        fn(fctx, st, NULL);
        return;
    }
    fetch_start(op->app, info, &op->fetch, op->bucket, op->key, op->revision, false,
                get_fetched, op);
}

void jg_kv_get(struct jg_app *app, const char *bucket, const char *key, uint64_t revision,
               jg_kv_get_fn fn, void *ctx)
{
    size_t bl = strlen(bucket) + 1, kl = strlen(key) + 1;
    struct get_op *op = malloc(sizeof(*op) + bl + kl);
    if (!op) {
        fn(ctx, JG_ERR_NOMEM, NULL);
        return;
    }
    memset(op, 0, sizeof(*op));
    op->bucket = (char *)(op + 1);
    op->key = op->bucket + bl;
    memcpy(op->bucket, bucket, bl);
    memcpy(op->key, key, kl);
    op->app = app;
    op->revision = revision;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &op->lookup, get_bucket, op);
}

/* --- history ------------------------------------------------------------ */

struct hist_op {
    struct jg_app *app;
    char *bucket, *key;
    struct jg_bucket_info info;
    jg_kv_history_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
    struct fetch fetch;
    struct jg_kv_entry **entries;
    size_t count, cap;
};

static void hist_finish(struct hist_op *op, jg_status st)
{
    if (st == JG_OK && op->count == 0)
        st = JG_ERR_KEY_NOT_FOUND;
    if (st != JG_OK) {
        for (size_t i = 0; i < op->count; i++)
            jg_kv_entry_free(op->entries[i]);
        free(op->entries);
        op->entries = NULL;
        op->count = 0;
    }
    for (size_t i = 0; i < op->count; i++)
        op->entries[i]->delta = op->count - 1 - i;
    jg_kv_history_fn fn = op->fn;
    void *fctx = op->ctx;
    struct jg_kv_entry **entries = op->entries;
    size_t count = op->count;
    free(op->bucket);
    free(op->key);
    free(op);
    fn(fctx, st, entries, count);
}

static void hist_fetched(void *ctx, jg_status st, struct jg_kv_entry *e)
{
    struct hist_op *op = ctx;
    if (st == JG_ERR_KEY_NOT_FOUND) {
        hist_finish(op, JG_OK);
        return;
    }
    if (st != JG_OK) {
        hist_finish(op, st);
        return;
    }
    if (strcmp(e->key, op->key) != 0 || op->count >= MAX_HISTORY_STEPS) {
        jg_kv_entry_free(e);
        hist_finish(op, JG_OK);
        return;
    }
    if (op->count == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 8;
        struct jg_kv_entry **n = realloc(op->entries, cap * sizeof(*n));
        if (!n) {
            jg_kv_entry_free(e);
            hist_finish(op, JG_ERR_NOMEM);
            return;
        }
        op->entries = n;
        op->cap = cap;
    }
    op->entries[op->count++] = e;
    fetch_start(op->app, &op->info, &op->fetch, op->bucket, op->key, e->revision + 1, true,
                hist_fetched, op);
}

static void hist_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct hist_op *op = ctx;
    if (st != JG_OK) {
        hist_finish(op, st);
        return;
    }
    op->info = *info;
    fetch_start(op->app, info, &op->fetch, op->bucket, op->key, 1, true, hist_fetched, op);
}

void jg_kv_history(struct jg_app *app, const char *bucket, const char *key,
                   jg_kv_history_fn fn, void *ctx)
{
    struct hist_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->key = strdup(key))) {
        if (op) {
            free(op->bucket);
            free(op);
        }
        fn(ctx, JG_ERR_NOMEM, NULL, 0);
        return;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &op->lookup, hist_bucket, op);
}

/* --- write -------------------------------------------------------------- */

struct write_op {
    struct jg_app *app;
    char *bucket, *key;
    char *value;
    size_t len;
    struct jg_kv_write w;
    char *content_type, *msg_id;
    bool retried;            /* create: second attempt over a tombstone */
    uint64_t expect_seq;     /* what the publish expects */
    bool expect_set;
    struct jg_bucket_info info;
    jg_kv_write_fn fn;
    void *ctx;
    struct jg_nats_req lookup, pub;
    struct fetch fetch;
};

static void write_finish(struct write_op *op, jg_status st, uint64_t rev)
{
    jg_kv_write_fn fn = op->fn;
    void *fctx = op->ctx;
    free(op); /* the strings and the value live in the same block */
    fn(fctx, st, rev);
}

static void write_publish(struct write_op *op);

static void write_tombstone_checked(void *ctx, jg_status st, struct jg_kv_entry *e)
{
    struct write_op *op = ctx;
    if (st == JG_OK && e->op != JG_KV_PUT) {
        op->retried = true;
        op->expect_seq = e->revision;
        jg_kv_entry_free(e);
        write_publish(op);
        return;
    }
    jg_kv_entry_free(e);
    if (st == JG_OK || st == JG_ERR_KEY_NOT_FOUND)
        st = JG_ERR_KEY_EXISTS;
    write_finish(op, st, 0);
}

static void on_ack(void *ctx, jg_status st, natsMsg *msg)
{
    struct write_op *op = ctx;
    cJSON *json = NULL;
    uint64_t rev = 0;
    char desc[256] = "";

    if (st == JG_OK && jg_js_ack_seq(msg, &rev) == JG_OK) {
        jg_nats_msg_release(msg); /* the common case, without a JSON tree */
        write_finish(op, JG_OK, rev);
        return;
    }
    if (st == JG_OK) {
        if (jg_nats_msg_status(msg) == 503) {
            /* no stream listens: between leaders, or the bucket is gone */
            jg_nats_msg_release(msg);
            st = jg_buckets_no_responders(op->app->buckets, JG_BUCKET_KV, op->bucket);
        } else {
            st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
        }
    }
    if (st == JG_OK) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(json, "seq");
        if (cJSON_IsNumber(seq))
            rev = (uint64_t)seq->valuedouble;
        else
            st = JG_ERR_INTERNAL;
    }
    cJSON_Delete(json);
    if (st == JG_ERR_REVISION_MISMATCH && op->w.expect == JG_KV_EXPECT_CREATE) {
        if (op->retried) {
            write_finish(op, JG_ERR_KEY_EXISTS, 0);
            return;
        }
        fetch_start(op->app, &op->info, &op->fetch, op->bucket, op->key, 0, false,
                    write_tombstone_checked, op);
        return;
    }
    if (st != JG_OK && st != JG_ERR_REVISION_MISMATCH)
        jg_debug("kv: write to '%s' in '%s' failed: %s", op->key, op->bucket, desc);
    write_finish(op, st, rev);
}

static void write_publish(struct write_op *op)
{
    char subj[MAX_KEY_LEN + 300], seqtxt[24];
    const char *hdrs[12];
    size_t h = 0;

    jg_subj_kv_key(op->bucket, op->key, subj, sizeof(subj));
    if (op->w.op == JG_KV_DEL) {
        hdrs[h++] = "KV-Operation";
        hdrs[h++] = "DEL";
    } else if (op->w.op == JG_KV_PURGE) {
        hdrs[h++] = "KV-Operation";
        hdrs[h++] = "PURGE";
        hdrs[h++] = "Nats-Rollup";
        hdrs[h++] = "sub";
    }
    if (op->expect_set) {
        snprintf(seqtxt, sizeof(seqtxt), "%llu", (unsigned long long)op->expect_seq);
        hdrs[h++] = "Nats-Expected-Last-Subject-Sequence";
        hdrs[h++] = seqtxt;
    }
    if (op->msg_id) {
        hdrs[h++] = "Nats-Msg-Id";
        hdrs[h++] = op->msg_id;
    }
    if (op->content_type && op->w.op == JG_KV_PUT) {
        hdrs[h++] = "Content-Type";
        hdrs[h++] = op->content_type;
    }
    hdrs[h] = NULL;
    jg_status st = jg_nats_request(op->app->nats, &op->pub, subj, hdrs, op->value, op->len,
                                   JG_NATS_WRITE, 0, on_ack, op);
    if (st != JG_OK)
        write_finish(op, st, 0);
}

static void write_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct write_op *op = ctx;
    if (st != JG_OK) {
        write_finish(op, st, 0);
        return;
    }
    op->info = *info;
    if (info->sealed) {
        write_finish(op, JG_ERR_BUCKET_SEALED, 0);
        return;
    }
    int64_t max_payload = jg_nats_max_payload(op->app->nats);
    size_t overhead = 256 + strlen(op->key) + (op->content_type ? strlen(op->content_type) : 0) +
                      (op->msg_id ? strlen(op->msg_id) : 0);
    if ((info->max_msg_size >= 0 && (int64_t)op->len > info->max_msg_size) ||
        (info->max_bytes >= 0 && (int64_t)op->len > info->max_bytes) ||
        (max_payload > 0 && (int64_t)(op->len + overhead) > max_payload)) {
        write_finish(op, JG_ERR_PAYLOAD_TOO_LARGE, 0);
        return;
    }
    write_publish(op);
}

void jg_kv_write(struct jg_app *app, const char *bucket, const char *key, const void *value,
                 size_t len, const struct jg_kv_write *w, jg_kv_write_fn fn, void *ctx)
{
    size_t bl = strlen(bucket) + 1, kl = strlen(key) + 1;
    size_t cl = w->content_type ? strlen(w->content_type) + 1 : 0;
    size_t ml = w->msg_id ? strlen(w->msg_id) + 1 : 0;
    /* one block: the op, then bucket, key, content type, msg id, value */
    struct write_op *op = malloc(sizeof(*op) + bl + kl + cl + ml + len + 1);
    if (!op) {
        fn(ctx, JG_ERR_NOMEM, 0);
        return;
    }
    memset(op, 0, sizeof(*op));
    char *p = (char *)(op + 1);
    op->bucket = memcpy(p, bucket, bl);
    op->key = memcpy(p += bl, key, kl);
    p += kl;
    if (cl) {
        op->content_type = memcpy(p, w->content_type, cl);
        p += cl;
    }
    if (ml) {
        op->msg_id = memcpy(p, w->msg_id, ml);
        p += ml;
    }
    op->value = p;
    if (len)
        memcpy(op->value, value, len);
    op->len = len;
    op->app = app;
    op->w = *w;
    op->fn = fn;
    op->ctx = ctx;
    if (w->expect == JG_KV_EXPECT_REVISION) {
        op->expect_set = true;
        op->expect_seq = w->revision;
    } else if (w->expect == JG_KV_EXPECT_CREATE) {
        op->expect_set = true;
        op->expect_seq = 0;
    }
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &op->lookup, write_bucket, op);
}

/* --- scan: the last message of every key, on a worker thread ----------- */

struct scan;
/* Called for each current message (headers only) of the scan. */
typedef void (*scan_item_fn)(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts_ns);
typedef void (*scan_done_fn)(struct scan *s, jg_status st);

struct scan {
    struct jg_app *app;
    char *bucket;
    char stream[300];
    char filter_subject[MAX_KEY_LEN + 300];
    struct jg_nats_req lookup;
    scan_item_fn item;
    scan_done_fn done;
    void *ctx;
    jg_status st;                /* the scan's outcome, for scan_done */
    struct jg_loop_task task;
};

static void scan_free(struct scan *s)
{
    free(s->bucket);
    free(s);
}

static void scan_msg(void *ctx, natsMsg *m, uint64_t seq, int64_t ts)
{
    struct scan *s = ctx;
    const char *subj = natsMsg_GetSubject(m);
    char prefix[300];
    size_t pl = jg_subj_kv_prefix(s->bucket, prefix, sizeof(prefix));
    if (strlen(subj) > pl)
        s->item(s, subj + pl, op_from_header(jg_nats_msg_header(m, "KV-Operation")), ts);
}

/* The end of a scan, back on the loop thread. */
static void scan_done(void *arg)
{
    struct scan *s = arg;
    s->done(s, s->st);
    scan_free(s);
}

/* The scan itself, on a worker thread: blocking calls. */
static void scan_work(void *arg)
{
    struct scan *s = arg;
    s->st = jg_scan_last_per_subject(s->app->nats, s->stream, s->filter_subject, true,
                                     s->app->cfg.request_timeout_ms, scan_msg, s);
    jg_nats_post(s->app->nats, &s->task, scan_done, s);
}

static void scan_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct scan *s = ctx;
    if (st == JG_OK && (st = jg_scan_spawn(scan_work, s)) == JG_OK)
        return;
    s->done(s, st);
    scan_free(s);
}

static void scan_start(struct jg_app *app, const char *bucket, const char *filter,
                       scan_item_fn item, scan_done_fn done, void *ctx)
{
    struct scan *s = calloc(1, sizeof(*s));
    if (!s || !(s->bucket = strdup(bucket))) {
        free(s);
        struct scan tmp = {.ctx = ctx};
        done(&tmp, JG_ERR_NOMEM);
        return;
    }
    s->app = app;
    s->item = item;
    s->done = done;
    s->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, s->stream, sizeof(s->stream));
    jg_subj_kv_key(bucket, filter ? filter : ">", s->filter_subject, sizeof(s->filter_subject));
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &s->lookup, scan_bucket, s);
}

/* --- keys --------------------------------------------------------------- */

struct keys_op {
    char **filters, **prefixes;  /* NULL-terminated copies */
    char **scope;                /* access limit (jg_auth_scope), NULL for none */
    bool match_here;
    struct jg_buf json;
    size_t n;
    jg_kv_keys_fn fn;
    void *ctx;
};



static void json_str(struct jg_buf *b, const char *s)
{
    jg_buf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            jg_buf_append(b, e, 2);
        } else if (c < 0x20) {
            jg_buf_printf(b, "\\u%04x", c);
        } else {
            jg_buf_append(b, p, 1);
        }
    }
    jg_buf_append(b, "\"", 1);
}

static bool keys_wanted(struct keys_op *k, const char *key)
{
    if (!jg_auth_scope_allows(k->scope, key))
        return false;
    if (!k->match_here)
        return true;
    bool f_ok = !k->filters[0], p_ok = !k->prefixes[0];
    for (size_t i = 0; !f_ok && k->filters[i]; i++)
        f_ok = jg_kv_filter_match(k->filters[i], key);
    for (size_t i = 0; !p_ok && k->prefixes[i]; i++)
        p_ok = strncmp(key, k->prefixes[i], strlen(k->prefixes[i])) == 0;
    return f_ok && p_ok;
}

static void keys_item(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts)
{
    struct keys_op *k = s->ctx;
    if (op != JG_KV_PUT || !keys_wanted(k, key))
        return;
    if (k->n++)
        jg_buf_append(&k->json, ",", 1);
    json_str(&k->json, key);
}

static void keys_done(struct scan *s, jg_status st)
{
    struct keys_op *k = s->ctx;
    size_t len = 0;
    char *json = NULL;
    if (st == JG_OK) {
        jg_buf_append(&k->json, "]", 1);
        json = jg_buf_take(&k->json, &len);
    }
    jg_kv_keys_fn fn = k->fn;
    void *fctx = k->ctx;
    jg_buf_done(&k->json);
    jg_strv_free(k->filters);
    jg_strv_free(k->prefixes);
    jg_strv_free(k->scope);
    free(k);
    fn(fctx, st, json, len);
}

void jg_kv_keys(struct jg_app *app, const char *bucket, char **filters, char **prefixes,
                char *const *scope, jg_kv_keys_fn fn, void *ctx)
{
    struct keys_op *k = calloc(1, sizeof(*k));
    if (!k || !(k->filters = jg_strv_dup(filters)) || !(k->prefixes = jg_strv_dup(prefixes)) ||
        (scope && !(k->scope = jg_strv_dup(scope)))) {
        if (k) {
            jg_strv_free(k->filters);
            jg_strv_free(k->prefixes);
            jg_strv_free(k->scope);
            free(k);
        }
        fn(ctx, JG_ERR_NOMEM, NULL, 0);
        return;
    }
    k->fn = fn;
    k->ctx = ctx;
    jg_buf_init(&k->json);
    jg_buf_append(&k->json, "[", 1);
    /* one filter and no prefix: let the server filter; else match here */
    const char *server_filter = NULL;
    if (k->filters[0] && !k->filters[1] && !k->prefixes[0])
        server_filter = k->filters[0];
    else
        k->match_here = k->filters[0] || k->prefixes[0];
    scan_start(app, bucket, server_filter, keys_item, keys_done, k);
}

/* --- purge deletes ------------------------------------------------------ */

struct purge_op {
    struct jg_app *app;
    char *bucket;
    char stream[300];
    int64_t older_than_ns;
    int64_t now_ns;
    struct {
        char *key;
        int keep;
    } *items;
    size_t n, cap, next;
    struct jg_nats_req req;
    jg_kv_done_fn fn;
    void *ctx;
};

static void purge_finish(struct purge_op *p, jg_status st, const char *detail)
{
    jg_kv_done_fn fn = p->fn;
    void *fctx = p->ctx;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].key);
    free(p->items);
    free(p->bucket);
    free(p);
    fn(fctx, st, detail);
}

static void purge_next(struct purge_op *p);

static void on_purged(void *ctx, jg_status st, uint64_t count)
{
    struct purge_op *p = ctx;
    (void)count;
    if (st != JG_OK) {
        purge_finish(p, st, "");
        return;
    }
    purge_next(p);
}

/* Each marker's subject: all of it, or (keep 1) all but the marker, by a
 * filtered purge even on replicated buckets: KV streams deny message
 * deletion (as every KV client creates them), so the one-deletion-per-
 * message way of jg_js_remove_subject is closed, and nats-server before
 * 2.9.18 replays this purge on a restarting replica as the removal of
 * everything before it (see the README). */
static void purge_next(struct purge_op *p)
{
    char subj[MAX_KEY_LEN + 300];
    if (p->next >= p->n) {
        purge_finish(p, JG_OK, "");
        return;
    }
    size_t i = p->next++;
    jg_subj_kv_key(p->bucket, p->items[i].key, subj, sizeof(subj));
    jg_js_remove_subject(p->app->nats, p->stream, subj, false, p->items[i].keep > 0, on_purged, p);
}

static void purge_item(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts)
{
    struct purge_op *p = s->ctx;
    if (op == JG_KV_PUT)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void *n = realloc(p->items, cap * sizeof(*p->items));
        if (!n)
            return;
        p->items = n;
        p->cap = cap;
    }
    p->items[p->n].key = strdup(key);
    if (!p->items[p->n].key)
        return;
    p->items[p->n].keep = p->older_than_ns > 0 && p->now_ns - ts < p->older_than_ns ? 1 : 0;
    p->n++;
}

static void purge_scanned(struct scan *s, jg_status st)
{
    struct purge_op *p = s->ctx;
    if (st != JG_OK) {
        purge_finish(p, st, "");
        return;
    }
    purge_next(p);
}

void jg_kv_purge_deletes(struct jg_app *app, const char *bucket, int64_t older_than_ns,
                         jg_kv_done_fn fn, void *ctx)
{
    struct purge_op *p = calloc(1, sizeof(*p));
    if (!p || !(p->bucket = strdup(bucket))) {
        free(p);
        fn(ctx, JG_ERR_NOMEM, "");
        return;
    }
    p->app = app;
    p->older_than_ns = older_than_ns;
    p->now_ns = jg_realtime_ns();
    p->fn = fn;
    p->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, p->stream, sizeof(p->stream));
    scan_start(app, bucket, NULL, purge_item, purge_scanned, p);
}
