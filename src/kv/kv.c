/* kv.c - key-value operations on JetStream (see kv.h). */
#include "autoconfig.h"
#include "kv/kv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nats/buckets.h"
#include "nats/js.h"
#include "nats/msgget.h"
#include "nats/conn.h"
#include "util.h"
#include "nats/subjects.h"

#define MAX_KEY_LEN JG_KV_MAX_KEY_LEN
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

enum jg_kv_op jg_kv_op_from_header(const char *v)
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
        e->op = jg_kv_op_from_header(jg_nats_msg_header(m->msg, "KV-Operation"));
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
    JG_ASSERT_LOOP_THREAD(f->get.nats);
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
    char stream[sizeof(JG_SUBJ_KV_STREAM_PREFIX) + 256]; /* failover: see write_send */
    char gen_msg_id[48];
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
    JG_ASSERT_LOOP_THREAD(op->app->nats);
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

/* Failover: a write to a replicated bucket is sent again to the stream's
 * new leader within its deadline (jg_nats_request_leader); a Nats-Msg-Id
 * (the client's Idempotency-Key, or one of jetgate's) makes the stream keep
 * one copy when an earlier send was stored after all. */
static void write_ensure_msg_id(struct write_op *op)
{
    if (op->info.replicas > 1 && !op->msg_id) {
        jg_nats_msg_id(op->app->nats, op->gen_msg_id, sizeof(op->gen_msg_id));
        op->msg_id = op->gen_msg_id;
    }
}

static jg_status write_send(struct write_op *op, const char *subj, const char *const *hdrs)
{
    if (op->info.replicas <= 1)
        return jg_nats_request(op->app->nats, &op->pub, subj, hdrs, op->value, op->len,
                               JG_NATS_WRITE, 0, on_ack, op);
    snprintf(op->stream, sizeof(op->stream), "%s%s", JG_SUBJ_KV_STREAM_PREFIX, op->bucket);
    return jg_nats_request_leader(op->app->nats, &op->pub, op->stream, subj, hdrs, op->value,
                                  op->len, JG_NATS_WRITE, 0, on_ack, op);
}

static void write_publish(struct write_op *op)
{
    char subj[MAX_KEY_LEN + 300], seqtxt[24];
    const char *hdrs[12];
    size_t h = 0;

    write_ensure_msg_id(op);
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
    jg_status st = write_send(op, subj, hdrs);
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
