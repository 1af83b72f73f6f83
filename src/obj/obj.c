/* obj.c - the object store on JetStream (see obj.h).
 *
 * Layout: pure helpers (names, meta JSON, digests, parsing), bucket
 * configuration, asynchronous single requests (meta read and write, purge)
 * and the object list (a short-lived consumer on a worker thread).  The
 * streaming put session lives in put.c, the chunk reader in reader.c. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nats/nats.h>
#include <nettle/sha2.h>

#include "log.h"
#include "nats/conn.h"
#include "nats/js.h"
#include "nats/msgget.h"
#include "nats/scan.h"
#include "util.h"
#include "nats/subjects.h"

#define TWO_MIN_NS (120LL * 1000000000LL)
#define SUBJ_MAX 2400            /* "$O.<bucket>.M.<base64 of 1024 bytes>" fits */

/* --- names and subjects ----------------------------------------------------- */

bool jg_obj_bucket_valid(const char *b)
{
    if (!b || !*b || strlen(b) > 200)
        return false;
    for (const char *p = b; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return false;
    return true;
}

bool jg_obj_name_valid(const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > JG_OBJ_MAX_NAME)
        return false;
    while (*p) {
        int n;
        if (*p < 0x80)
            n = 0;
        else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
            n = 1;
        else if ((*p & 0xf0) == 0xe0)
            n = 2;
        else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
            n = 3;
        else
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

char *jg_obj_name_encode(const char *name)
{
    return jg_base64_encode(name, strlen(name), true);
}

jg_status jg_obj_nuid(char out[23])
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return JG_ERR_NOMEM;
    const char *s = (const char *)inbox;
    if (strncmp(s, "_INBOX.", 7) == 0)
        s += 7;
    snprintf(out, 23, "%s", s);
    natsInbox_Destroy(inbox);
    return JG_OK;
}

static void meta_subject(const char *bucket, const char *enc, char *out, size_t outlen)
{
    jg_subj_obj_meta(bucket, enc, out, outlen);
}

/* --- ObjectInfo ------------------------------------------------------------ */

void jg_obj_info_free(struct jg_obj_info *i)
{
    if (!i)
        return;
    free(i->name);
    free(i->description);
    cJSON_Delete(i->headers);
    cJSON_Delete(i->metadata);
    free(i->link_bucket);
    free(i->link_name);
    free(i->bucket);
    free(i->nuid);
    free(i->mtime);
    free(i->digest);
    free(i);
}

static char *jstrdup(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static uint64_t jnum(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1.8e19 ? (uint64_t)v->valuedouble
                                                                               : 0;
}

jg_status jg_obj_info_parse(const char *json, size_t len, struct jg_obj_info **ret)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    struct jg_obj_info *i = NULL;
    jg_status st = JG_ERR_INTERNAL;

    if (!cJSON_IsObject(root))
        goto out;
    i = calloc(1, sizeof(*i));
    if (!i) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    i->name = jstrdup(root, "name");
    if (!i->name)
        goto out;
    i->description = jstrdup(root, "description");
    if (i->description && !*i->description) {
        free(i->description);
        i->description = NULL;
    }
    cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "headers");
    if (cJSON_IsObject(h) && h->child)
        i->headers = cJSON_Duplicate(h, true);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (cJSON_IsObject(md) && md->child)
        i->metadata = cJSON_Duplicate(md, true);
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "options");
    if (cJSON_IsObject(opt)) {
        i->max_chunk_size = (uint32_t)jnum(opt, "max_chunk_size");
        const cJSON *link = cJSON_GetObjectItemCaseSensitive(opt, "link");
        if (cJSON_IsObject(link)) {
            i->is_link = true;
            i->link_bucket = jstrdup(link, "bucket");
            i->link_name = jstrdup(link, "name");
            if (i->link_name && !*i->link_name) {
                free(i->link_name);
                i->link_name = NULL;
            }
            if (!i->link_bucket)
                goto out;
        }
    }
    i->bucket = jstrdup(root, "bucket");
    i->nuid = jstrdup(root, "nuid");
    i->size = jnum(root, "size");
    i->chunks = jnum(root, "chunks");
    i->mtime = jstrdup(root, "mtime");
    i->digest = jstrdup(root, "digest");
    if (i->digest && !*i->digest) {
        free(i->digest);
        i->digest = NULL;
    }
    i->deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "deleted"));
    *ret = i;
    i = NULL;
    st = JG_OK;
out:
    jg_obj_info_free(i);
    cJSON_Delete(root);
    return st;
}

static cJSON *options_json(const struct jg_obj_info *i)
{
    cJSON *opt = cJSON_CreateObject();
    if (i->is_link) {
        cJSON *l = cJSON_AddObjectToObject(opt, "link");
        cJSON_AddStringToObject(l, "bucket", i->link_bucket ? i->link_bucket : "");
        if (i->link_name)
            cJSON_AddStringToObject(l, "name", i->link_name);
    }
    if (i->max_chunk_size)
        cJSON_AddNumberToObject(opt, "max_chunk_size", i->max_chunk_size);
    return opt;
}

static cJSON *info_json(const struct jg_obj_info *i, bool api)
{
    char when[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", i->name);
    if (i->description || api)
        cJSON_AddStringToObject(o, "description", i->description ? i->description : "");
    if (i->headers)
        cJSON_AddItemToObject(o, "headers", cJSON_Duplicate(i->headers, true));
    if (i->metadata)
        cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(i->metadata, true));
    cJSON_AddItemToObject(o, "options", options_json(i));
    cJSON_AddStringToObject(o, "bucket", i->bucket ? i->bucket : "");
    cJSON_AddStringToObject(o, "nuid", i->nuid ? i->nuid : "");
    cJSON_AddNumberToObject(o, "size", (double)i->size);
    if (api && i->stored_ns > 0) {
        jg_time_rfc3339(i->stored_ns, when);
        cJSON_AddStringToObject(o, "mtime", when);
    } else {
        cJSON_AddStringToObject(o, "mtime", i->mtime ? i->mtime : "0001-01-01T00:00:00Z");
    }
    cJSON_AddNumberToObject(o, "chunks", (double)i->chunks);
    if (i->digest || api)
        cJSON_AddStringToObject(o, "digest", i->digest ? i->digest : "");
    if (i->deleted || api)
        cJSON_AddBoolToObject(o, "deleted", i->deleted);
    if (api)
        cJSON_AddNumberToObject(o, "revision", (double)i->revision);
    return o;
}

char *jg_obj_info_meta_json(const struct jg_obj_info *i)
{
    cJSON *o = info_json(i, false);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

cJSON *jg_obj_info_api_json(const struct jg_obj_info *i)
{
    return info_json(i, true);
}

const char *jg_obj_info_header(const struct jg_obj_info *i, const char *name)
{
    if (!i->headers)
        return NULL;
    for (const cJSON *h = i->headers->child; h; h = h->next) {
        if (!h->string || strcasecmp(h->string, name) != 0)
            continue;
        if (cJSON_IsString(h))
            return h->valuestring;
        if (cJSON_IsArray(h) && cJSON_IsString(h->child))
            return h->child->valuestring;
    }
    return NULL;
}

void jg_obj_digest_format(const uint8_t sha[32], char out[54])
{
    char *b = jg_base64_encode(sha, 32, true);
    snprintf(out, 54, "%s%s", JG_OBJ_DIGEST_PREFIX, b ? b : "");
    free(b);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

jg_status jg_obj_digest_parse(const char *d, uint8_t ret[32])
{
    char norm[80];
    size_t n = 0;
    if (!d || strncasecmp(d, JG_OBJ_DIGEST_PREFIX, 8) != 0)
        return JG_ERR_INVALID_PARAMETER;
    d += 8;
    size_t len = strlen(d);
    if (len == 64) {
        bool hex = true;
        for (size_t k = 0; k < 64 && hex; k++)
            hex = hexval((unsigned char)d[k]) >= 0;
        if (hex) {
            for (size_t k = 0; k < 32; k++)
                ret[k] = (uint8_t)(hexval((unsigned char)d[2 * k]) * 16 +
                                   hexval((unsigned char)d[2 * k + 1]));
            return JG_OK;
        }
    }
    for (const char *p = d; *p && *p != '='; p++) {
        if (n >= 60)
            return JG_ERR_INVALID_PARAMETER;
        norm[n++] = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    }
    while (n % 4)
        norm[n++] = '=';
    norm[n] = '\0';
    char *raw = NULL;
    size_t rl = 0;
    if (jg_base64_decode(norm, n, false, &raw, &rl) != JG_OK)
        return JG_ERR_INVALID_PARAMETER;
    jg_status st = rl == 32 ? JG_OK : JG_ERR_INVALID_PARAMETER;
    if (st == JG_OK)
        memcpy(ret, raw, 32);
    free(raw);
    return st;
}

bool jg_obj_header_name_valid(const char *name)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(name);
    return n > 0 && n <= 255 && strspn(name, tchar) == n;
}

bool jg_obj_header_value_valid(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

void jg_obj_canonical_header(char *name)
{
    bool up = true;
    for (char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c >= 0x80)
            return; /* as Go: leave names with odd characters alone */
    }
    for (char *p = name; *p; p++) {
        *p = (char)(up ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
        up = *p == '-';
    }
}

/* --- HTTP-adjacent parsing ------------------------------------------------- */

static bool parse_u64_span(const char *s, size_t n, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *ret = v;
    return true;
}

enum jg_obj_range_kind jg_obj_range_parse(const char *h, uint64_t size, uint64_t *ret_start,
                                          uint64_t *ret_end)
{
    uint64_t a, b;
    if (!h)
        return JG_RANGE_NONE;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "bytes", 5) != 0)
        return JG_RANGE_NONE;
    h += 5;
    while (*h == ' ' || *h == '\t')
        h++;
    if (*h++ != '=')
        return JG_RANGE_NONE;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t len = strlen(h);
    while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (memchr(h, ',', len))
        return JG_RANGE_NONE; /* several ranges: send it all */
    const char *dash = memchr(h, '-', len);
    if (!dash)
        return JG_RANGE_NONE;
    size_t al = (size_t)(dash - h), bl = len - al - 1;
    if (al == 0) {
        if (!parse_u64_span(dash + 1, bl, &b))
            return JG_RANGE_NONE;
        if (b == 0 || size == 0)
            return JG_RANGE_UNSATISFIABLE;
        *ret_start = b >= size ? 0 : size - b;
        *ret_end = size - 1;
        return JG_RANGE_OK;
    }
    if (!parse_u64_span(h, al, &a))
        return JG_RANGE_NONE;
    if (bl == 0) {
        b = UINT64_MAX;
    } else {
        if (!parse_u64_span(dash + 1, bl, &b))
            return JG_RANGE_NONE;
        if (b < a)
            return JG_RANGE_NONE;
    }
    if (a >= size)
        return JG_RANGE_UNSATISFIABLE;
    *ret_start = a;
    *ret_end = b >= size ? size - 1 : b;
    return JG_RANGE_OK;
}

jg_status jg_obj_content_digest_parse(const char *h, bool *ret_found, uint8_t ret_sha[32])
{
    *ret_found = false;
    if (!h)
        return JG_OK;
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ',')
            p++;
        size_t kl = (size_t)(p - key);
        while (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
            kl--;
        bool sha = kl == 7 && strncasecmp(key, "sha-256", 7) == 0;
        if (*p != '=') {
            if (sha)
                return JG_ERR_INVALID_PARAMETER;
            continue;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *val = p;
        while (*p && *p != ',')
            p++;
        size_t vl = (size_t)(p - val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
            vl--;
        if (!sha)
            continue;
        if (vl < 3 || val[0] != ':' || val[vl - 1] != ':')
            return JG_ERR_INVALID_PARAMETER;
        char *raw = NULL;
        size_t rl = 0;
        if (jg_base64_decode(val + 1, vl - 2, false, &raw, &rl) != JG_OK)
            return JG_ERR_INVALID_PARAMETER;
        if (rl != 32) {
            free(raw);
            return JG_ERR_INVALID_PARAMETER;
        }
        memcpy(ret_sha, raw, 32);
        free(raw);
        *ret_found = true;
        return JG_OK;
    }
    return JG_OK;
}

/* --- buckets ------------------------------------------------------------------- */

void jg_obj_bucket_cfg_done(struct jg_obj_bucket_cfg *c)
{
    free(c->description);
    c->description = NULL;
}

jg_status jg_obj_bucket_cfg_parse(const char *body, size_t len, struct jg_obj_bucket_cfg *c,
                                  char *why, size_t wl)
{
    cJSON *root = NULL;
    jg_status st = JG_ERR_INVALID_CONFIG;
    if (len == 0)
        return JG_OK;
    if (strlen(body) != len || !(root = cJSON_ParseWithOpts(body, NULL, true)) ||
        !cJSON_IsObject(root)) {
        snprintf(why, wl, "the body must be a JSON object");
        goto out;
    }
    for (const cJSON *f = root->child; f; f = f->next) {
        const char *k = f->string;
        if (strcmp(k, "description") == 0) {
            if (!cJSON_IsString(f)) {
                snprintf(why, wl, "'description' must be a string");
                goto out;
            }
            free(c->description);
            c->description = strdup(f->valuestring);
            c->has_description = true;
        } else if (strcmp(k, "ttl") == 0) {
            if (jg_js_json_duration(f, &c->ttl) != JG_OK) {
                snprintf(why, wl, "'ttl' must be nanoseconds or a duration such as \"1h\"");
                goto out;
            }
            c->has_ttl = true;
        } else if (strcmp(k, "max_bytes") == 0) {
            if (jg_js_json_i64(f, &c->max_bytes) != JG_OK || c->max_bytes < -1 || c->max_bytes == 0) {
                snprintf(why, wl, "'max_bytes' must be -1 (unlimited) or a positive integer");
                goto out;
            }
            c->has_max_bytes = true;
        } else if (strcmp(k, "storage") == 0) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "file") != 0 && strcmp(f->valuestring, "memory") != 0)) {
                snprintf(why, wl, "'storage' must be \"file\" or \"memory\"");
                goto out;
            }
            snprintf(c->storage, sizeof(c->storage), "%s", f->valuestring);
            c->has_storage = true;
        } else if (strcmp(k, "replicas") == 0) {
            if (jg_js_json_i64(f, &c->replicas) != JG_OK || c->replicas < 1 || c->replicas > 5) {
                snprintf(why, wl, "'replicas' must be an integer from 1 to 5");
                goto out;
            }
            c->has_replicas = true;
        } else {
            snprintf(why, wl, "unknown field '%.64s'", k);
            goto out;
        }
    }
    st = JG_OK;
out:
    cJSON_Delete(root);
    return st;
}

char *jg_obj_stream_config(const char *bucket, const struct jg_obj_bucket_cfg *c)
{
    struct jg_js_stream_spec s = {
        .kind = JG_BUCKET_OBJ,
        .bucket = bucket,
        .description = c->has_description ? c->description : NULL,
        .storage = c->has_storage ? c->storage : NULL,
        .max_bytes = c->has_max_bytes ? c->max_bytes : -1,
        .max_age_ns = c->has_ttl ? c->ttl : 0,
        .per_subject = -1,
        .max_msg_size = -1,
        .replicas = c->has_replicas ? c->replicas : 1,
    };
    return jg_js_stream_config(&s);
}


bool jg_obj_bucket_cfg_same(const cJSON *cfg, const struct jg_obj_bucket_cfg *c)
{
    int64_t mb = c->has_max_bytes ? c->max_bytes : -1;
    return strcmp(jg_js_str(cfg, "description"), c->has_description ? c->description : "") == 0 &&
           jg_js_num_is(cfg, "max_age", 0, c->has_ttl ? c->ttl : 0) &&
           (mb <= 0 ? jg_js_num(cfg, "max_bytes", -1) <= 0 : jg_js_num_is(cfg, "max_bytes", -1, mb)) &&
           strcmp(*jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file",
                  c->has_storage ? c->storage : "file") == 0 &&
           jg_js_num_is(cfg, "num_replicas", 1, c->has_replicas ? c->replicas : 1);
}

cJSON *jg_obj_bucket_status_json(const char *bucket, const cJSON *si)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(si, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(si, "state");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int64_t mb = jg_js_num(cfg, "max_bytes", -1);
    cJSON_AddStringToObject(o, "bucket", bucket);
    cJSON_AddStringToObject(o, "description", jg_js_str(cfg, "description"));
    cJSON_AddNumberToObject(o, "ttl", (double)jg_js_num(cfg, "max_age", 0));
    cJSON_AddStringToObject(o, "storage", *jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file");
    cJSON_AddNumberToObject(o, "replicas", (double)jg_js_num(cfg, "num_replicas", 1));
    cJSON_AddBoolToObject(o, "sealed", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "sealed")));
    cJSON_AddNumberToObject(o, "size", (double)jg_js_num(state, "bytes", 0));
    cJSON_AddNumberToObject(o, "max_bytes", (double)(mb <= 0 ? -1 : mb));
    return o;
}

/* --- meta read ------------------------------------------------------------------ */

struct info_op {
    struct jg_app *app;
    char *bucket, *name;
    struct jg_bucket_info binfo;
    jg_obj_info_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
    struct jg_msgget get;   /* policy JG_MSGGET_META (nats/msgget.h) */
    char stream[300], msubj[SUBJ_MAX];
};

static void info_finish(struct info_op *op, jg_status st, struct jg_obj_info *info)
{
    jg_obj_info_fn fn = op->fn;
    void *fctx = op->ctx;
    struct jg_bucket_info binfo = op->binfo;
    free(op->bucket);
    free(op->name);
    free(op);
    fn(fctx, st, info, &binfo);
}

static void on_meta(void *ctx, jg_status st, struct jg_stored_msg *m)
{
    struct info_op *op = ctx;
    struct jg_obj_info *info = NULL;

    if (st == JG_OK) {
        st = jg_obj_info_parse(m->data, m->len, &info);
        if (st == JG_OK) {
            if (m->seq)
                info->revision = m->seq;
            if (m->time_ns)
                info->stored_ns = m->time_ns;
        }
        jg_stored_msg_clear(m);
    } else if (st == JG_ERR_KEY_NOT_FOUND) {
        st = JG_ERR_OBJECT_NOT_FOUND;
    }
    if (st == JG_ERR_INTERNAL)
        jg_debug("obj: unreadable meta for '%s' in '%s'", op->name, op->bucket);
    info_finish(op, st, info);
}

static void info_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct info_op *op = ctx;
    if (st != JG_OK) {
        info_finish(op, st, NULL);
        return;
    }
    op->binfo = *binfo;
    char *enc = jg_obj_name_encode(op->name);
    if (!enc) {
        info_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, op->stream, sizeof(op->stream));
    meta_subject(op->bucket, enc, op->msubj, sizeof(op->msubj));
    free(enc);
    op->get = (struct jg_msgget){
        .nats = op->app->nats,
        .buckets = op->app->buckets,
        .kind = JG_BUCKET_OBJ,
        .bucket = op->bucket,
        .stream = op->stream,
        .subject = op->msubj,
        .leader = binfo->replicas > 1 || !binfo->allow_direct,
        .replicas = binfo->replicas > 1 && binfo->allow_direct,
        .single = binfo->replicas <= 1,
        .policy = JG_MSGGET_META,
        .request_timeout_ms = op->app->cfg.request_timeout_ms,
        .fn = on_meta,
        .ctx = op,
    };
    st = jg_msgget_start(&op->get);
    if (st != JG_OK)
        info_finish(op, st, NULL);
}

void jg_obj_info_get(struct jg_app *app, const char *bucket, const char *name, jg_obj_info_fn fn,
                     void *ctx)
{
    struct info_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->name = strdup(name))) {
        if (op)
            free(op->bucket);
        free(op);
        fn(ctx, JG_ERR_NOMEM, NULL, NULL);
        return;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, info_bucket, op);
}

/* --- meta write -------------------------------------------------------------------- */

struct seq_op {
    struct jg_app *app;
    char *bucket;
    jg_obj_seq_fn fn;
    void *ctx;
    struct jg_nats_req req;
};

static void seq_finish(struct seq_op *op, jg_status st, uint64_t seq)
{
    jg_obj_seq_fn fn = op->fn;
    void *fctx = op->ctx;
    free(op->bucket);
    free(op);
    if (fn)
        fn(fctx, st, seq);
}

static void on_seq_reply(void *ctx, jg_status st, natsMsg *msg)
{
    struct seq_op *op = ctx;
    cJSON *json = NULL;
    char desc[256] = "";
    uint64_t seq = 0;
    if (st == JG_OK && jg_nats_msg_status(msg) == 503) {
        natsMsg_Destroy(msg);
        st = jg_buckets_no_responders(op->app->buckets, JG_BUCKET_OBJ, op->bucket);
    } else if (st == JG_OK) {
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    }
    if (st == JG_ERR_REVISION_MISMATCH)
        st = JG_ERR_PRECONDITION_FAILED;
    if (st == JG_OK) {
        seq = (uint64_t)jg_js_num(json, "seq", 0);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "duplicate")))
            st = JG_ERR_OBJECT_EXISTS;
    }
    else if (st != JG_ERR_PRECONDITION_FAILED && st != JG_ERR_OBJECT_EXISTS)
        jg_debug("obj: meta write in '%s' failed: %s", op->bucket, desc);
    cJSON_Delete(json);
    seq_finish(op, st, seq);
}

static struct seq_op *seq_op_new(struct jg_app *app, const char *bucket, jg_obj_seq_fn fn,
                                 void *ctx)
{
    struct seq_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket))) {
        free(op);
        if (fn)
            fn(ctx, JG_ERR_NOMEM, 0);
        return NULL;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    return op;
}

void jg_obj_meta_write(struct jg_app *app, const char *bucket, const struct jg_obj_info *info,
                       int64_t expect_seq, const char *msg_id, jg_obj_seq_fn fn, void *ctx)
{
    char subj[SUBJ_MAX], seqtxt[24];
    const char *hdrs[8];
    size_t h = 0;
    struct seq_op *op = seq_op_new(app, bucket, fn, ctx);
    if (!op)
        return;
    char *enc = jg_obj_name_encode(info->name);
    char *json = jg_obj_info_meta_json(info);
    if (!enc || !json) {
        free(enc);
        free(json);
        seq_finish(op, JG_ERR_NOMEM, 0);
        return;
    }
    meta_subject(bucket, enc, subj, sizeof(subj));
    free(enc);
    hdrs[h++] = "Nats-Rollup";
    hdrs[h++] = "sub";
    if (expect_seq >= 0) {
        snprintf(seqtxt, sizeof(seqtxt), "%lld", (long long)expect_seq);
        hdrs[h++] = "Nats-Expected-Last-Subject-Sequence";
        hdrs[h++] = seqtxt;
    }
    if (msg_id) {
        hdrs[h++] = "Nats-Msg-Id";
        hdrs[h++] = msg_id;
    }
    hdrs[h] = NULL;
    jg_status st = jg_nats_request(app->nats, &op->req, subj, hdrs, json, strlen(json),
                                   JG_NATS_WRITE, 0, on_seq_reply, op);
    free(json);
    if (st != JG_OK)
        seq_finish(op, st, 0);
}

/* --- purge of a subject ------------------------------------------------------------ *
 * jg_js_remove_subject(): on replicated buckets one deletion per message,
 * never a filtered purge, which nats-server before 2.9.18 replays on a
 * restarting replica as the removal of every older object. */

struct purge_op {
    struct jg_app *app;
    char *bucket, *subject;
    jg_obj_seq_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
};

static void purge_done(void *ctx, jg_status st, uint64_t count)
{
    struct purge_op *op = ctx;
    jg_obj_seq_fn fn = op->fn;
    void *fctx = op->ctx;
    free(op->bucket);
    free(op->subject);
    free(op);
    if (fn)
        fn(fctx, st, count);
}

static void purge_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct purge_op *op = ctx;
    char stream[300];
    if (st != JG_OK) {
        purge_done(op, st, 0);
        return;
    }
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, stream, sizeof(stream));
    jg_js_remove_subject(op->app->nats, stream, op->subject, binfo->replicas > 1, false,
                         purge_done, op);
}

void jg_obj_purge_subject(struct jg_app *app, const char *bucket, const char *subject,
                          jg_obj_seq_fn fn, void *ctx)
{
    struct purge_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->subject = strdup(subject))) {
        if (op)
            free(op->bucket);
        free(op);
        if (fn)
            fn(ctx, JG_ERR_NOMEM, 0);
        return;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, purge_bucket, op);
}

/* --- list: last meta per name through an ephemeral push consumer ------------------ *
 * A push consumer delivers only to a subject with a subscription of its own,
 * so each listing subscribes to a fresh inbox and reads it on a short-lived
 * worker thread (listings are rare; their number is capped). */



struct list_op {
    struct jg_app *app;
    char *bucket;
    bool include_deleted;
    struct jg_nats_req lookup;
    jg_obj_want_fn want;
    jg_obj_list_fn fn;
    void *ctx;
    cJSON *arr;
    jg_status st;                /* the scan's outcome, for list_done */
    struct jg_loop_task task;
};

static void list_msg(void *ctx, natsMsg *m, uint64_t sseq, int64_t ts)
{
    struct list_op *op = ctx;
    struct jg_obj_info *info = NULL;
    if (jg_obj_info_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &info) != JG_OK)
        return;
    info->revision = sseq;
    info->stored_ns = ts;
    if ((!info->deleted || op->include_deleted) &&
        (!op->want || op->want(op->ctx, info->name ? info->name : "")))
        cJSON_AddItemToArray(op->arr, jg_obj_info_api_json(info));
    jg_obj_info_free(info);
}

static jg_status list_run(struct list_op *op)
{
    char stream[300], filter[300];
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, stream, sizeof(stream));
    jg_subj_obj_meta(op->bucket, ">", filter, sizeof(filter));
    return jg_scan_last_per_subject(op->app->nats, stream, filter, false,
                                    op->app->cfg.request_timeout_ms, list_msg, op);
}

static void list_finish(struct list_op *op, jg_status st)
{
    jg_obj_list_fn fn = op->fn;
    void *fctx = op->ctx;
    cJSON *arr = st == JG_OK ? op->arr : NULL;
    if (st != JG_OK)
        cJSON_Delete(op->arr);
    free(op->bucket);
    free(op);
    fn(fctx, st, arr);
}

/* The end of the scan, back on the loop thread. */
static void list_done(void *arg)
{
    struct list_op *op = arg;
    list_finish(op, op->st);
}

/* The scan itself, on a worker thread: blocking calls. */
static void list_work(void *arg)
{
    struct list_op *op = arg;
    op->st = list_run(op);
    jg_nats_post(op->app->nats, &op->task, list_done, op);
}

static void list_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct list_op *op = ctx;
    if (st == JG_OK && (st = jg_scan_spawn(list_work, op)) == JG_OK)
        return;
    list_finish(op, st);
}

void jg_obj_list(struct jg_app *app, const char *bucket, bool include_deleted,
                 jg_obj_want_fn want, jg_obj_list_fn fn, void *ctx)
{
    struct list_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->arr = cJSON_CreateArray())) {
        if (op)
            free(op->bucket);
        free(op);
        fn(ctx, JG_ERR_NOMEM, NULL);
        return;
    }
    op->app = app;
    op->include_deleted = include_deleted;
    op->want = want;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, list_bucket, op);
}


bool jg_obj_etag_list_matches(const char *list, const char *digest, bool weak_ok)
{
    const char *q = list;
    while (q && *q) {
        while (*q == ' ' || *q == ',' || *q == '\t')
            q++;
        if (!*q)
            break;
        if (*q == '*')
            return true;
        if (weak_ok && q[0] == 'W' && q[1] == '/')
            q += 2;
        size_t n = strcspn(q, ","), m = n;
        while (m && (q[m - 1] == ' ' || q[m - 1] == '\t'))
            m--;
        const char *t = q;
        if (m >= 2 && t[0] == '"' && t[m - 1] == '"') {
            t++;
            m -= 2;
        }
        if (digest && strlen(digest) == m && strncmp(t, digest, m) == 0)
            return true;
        q += n;
    }
    return false;
}
