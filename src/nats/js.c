/* js.c - JetStream API helpers and the bucket cache (see js.h). */
#include "autoconfig.h"
#include "nats/js.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define CACHE_TTL_MS 5000
#define CACHE_SLOTS 1024u

void jg_js_stream_name(enum jg_bucket_kind kind, const char *bucket, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s_%s", kind == JG_BUCKET_KV ? "KV" : "OBJ", bucket);
}

jg_status jg_js_json_i64(const cJSON *v, int64_t *ret)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return JG_ERR_INVALID_CONFIG;
    *ret = (int64_t)v->valuedouble;
    return JG_OK;
}

jg_status jg_js_json_duration(const cJSON *v, int64_t *ret)
{
    if (cJSON_IsString(v))
        return jg_duration_parse(v->valuestring, ret) == JG_OK ? JG_OK : JG_ERR_INVALID_CONFIG;
    if (jg_js_json_i64(v, ret) != JG_OK || *ret < 0)
        return JG_ERR_INVALID_CONFIG;
    return JG_OK;
}

/* An integer member written as its literal: cJSON holds numbers as
 * doubles and prints a large one with 15 digits when that is within its
 * tolerance, which would send a ttl of 1e15 ns and more a few nanoseconds
 * off. */
static void add_int(cJSON *o, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

char *jg_js_stream_config(const struct jg_js_stream_spec *s)
{
    char subj[300], stream[300];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    jg_js_stream_name(s->kind, s->bucket, stream, sizeof(stream));
    cJSON_AddStringToObject(o, "name", stream);
    if (s->description && *s->description)
        cJSON_AddStringToObject(o, "description", s->description);
    cJSON *subjects = cJSON_AddArrayToObject(o, "subjects");
    if (s->kind == JG_BUCKET_KV) {
        snprintf(subj, sizeof(subj), "$KV.%s.>", s->bucket);
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
    } else {
        snprintf(subj, sizeof(subj), "$O.%s.C.>", s->bucket);
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
        snprintf(subj, sizeof(subj), "$O.%s.M.>", s->bucket);
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
    }
    cJSON_AddStringToObject(o, "retention", "limits");
    add_int(o, "max_consumers", -1);
    add_int(o, "max_msgs", -1);
    add_int(o, "max_bytes", s->max_bytes);
    add_int(o, "max_age", s->max_age_ns);
    add_int(o, "max_msgs_per_subject", s->per_subject);
    add_int(o, "max_msg_size", s->max_msg_size);
    cJSON_AddStringToObject(o, "storage", s->storage ? s->storage : "file");
    cJSON_AddStringToObject(o, "discard", "new");
    add_int(o, "num_replicas", s->replicas);
    if (s->duplicate_window_ns > 0)
        add_int(o, "duplicate_window", s->duplicate_window_ns);
    cJSON_AddBoolToObject(o, "allow_rollup_hdrs", true);
    cJSON_AddBoolToObject(o, "deny_delete", s->deny_delete);
    cJSON_AddBoolToObject(o, "deny_purge", false);
    cJSON_AddBoolToObject(o, "allow_direct", true);
    cJSON_AddBoolToObject(o, "mirror_direct", false);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

jg_status jg_js_api(struct jg_nats *n, struct jg_nats_req *r, const char *api, const char *body,
                    int flags, jg_nats_reply_fn fn, void *ctx)
{
    char subj[512];
    snprintf(subj, sizeof(subj), "$JS.API.%s", api);
    return jg_nats_request(n, r, subj, NULL, body, body ? strlen(body) : 0, flags, 0, fn, ctx);
}

jg_status jg_js_error_status(int code, int err_code, const char *desc)
{
    switch (err_code) {
    case 10059: /* stream not found */
        return JG_ERR_BUCKET_NOT_FOUND;
    case 10037: /* no message found */
        return JG_ERR_KEY_NOT_FOUND;
    case 10071: /* wrong last sequence */
    case 10164:
        return JG_ERR_REVISION_MISMATCH;
    case 10058: /* stream name in use */
        return JG_ERR_BUCKET_EXISTS;
    case 10054: /* message size exceeds maximum allowed */
        return JG_ERR_PAYLOAD_TOO_LARGE;
    case 10109: /* stream sealed */
        return JG_ERR_BUCKET_SEALED;
    case 10023: /* insufficient resources */
    case 10047: /* insufficient storage resources available */
        return JG_ERR_INSUFFICIENT_STORAGE;
    case 10077: /* store failed: maximum bytes/messages exceeded, ... */
        if (desc && (strstr(desc, "maximum") || strstr(desc, "resources") ||
                     strstr(desc, "storage")))
            return JG_ERR_INSUFFICIENT_STORAGE;
        return JG_ERR_INTERNAL;
    case 10052: /* invalid stream config */
    case 10025: /* replicas > 1 not supported in non-clustered mode */
    case 10074: /* replicas configuration cannot be larger than cluster size */
    case 10027: /* max age below minimum */
    case 10056: /* stream name / subject overlap */
    case 10065:
    case 10049:
        return JG_ERR_INVALID_CONFIG;
    default:
        break;
    }
    /* account or server limits: "resource limits exceeded for account",
     * "insufficient resources" (the err_code differs between versions) */
    if (desc && (strstr(desc, "resource limits exceeded") || strstr(desc, "insufficient resources") ||
                 strstr(desc, "insufficient storage")))
        return JG_ERR_INSUFFICIENT_STORAGE;
    if (code == 404)
        return JG_ERR_BUCKET_NOT_FOUND;
    if (code == 503)
        return JG_ERR_NATS_UNAVAILABLE;
    if (code == 400 && desc && strstr(desc, "config"))
        return JG_ERR_INVALID_CONFIG;
    return JG_ERR_INTERNAL;
}

jg_status jg_js_ack_seq(natsMsg *msg, uint64_t *ret_seq)
{
    const char *d = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    char buf[256];
    if (!d || len < 12 || len >= (int)sizeof(buf) || jg_nats_msg_status(msg))
        return JG_ERR_INTERNAL;
    memcpy(buf, d, (size_t)len);
    buf[len] = '\0';
    if (strncmp(buf, "{\"stream\":", 10) != 0 || strstr(buf, "\"error\""))
        return JG_ERR_INTERNAL;
    const char *p = strstr(buf, "\"seq\":");
    if (!p)
        return JG_ERR_INTERNAL;
    p += 6;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || (*end != ',' && *end != '}'))
        return JG_ERR_INTERNAL;
    *ret_seq = v;
    return JG_OK;
}

jg_status jg_js_reply_json(natsMsg *msg, cJSON **ret_json, int *ret_err_code, char *desc,
                           size_t desclen)
{
    jg_status st = JG_OK;
    cJSON *root = NULL;
    int status = jg_nats_msg_status(msg);

    if (ret_err_code)
        *ret_err_code = 0;
    if (desc && desclen)
        desc[0] = '\0';
    if (status == 503) {
        st = JG_ERR_NATS_UNAVAILABLE;
        if (desc)
            snprintf(desc, desclen, "JetStream not available (no responders)");
        goto out;
    }
    root = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    if (!root) {
        st = JG_ERR_INTERNAL;
        if (desc)
            snprintf(desc, desclen, "unreadable JetStream reply");
        goto out;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (err) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(err, "err_code");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(err, "description");
        int ecode = cJSON_IsNumber(ec) ? ec->valueint : 0;
        if (ret_err_code)
            *ret_err_code = ecode;
        if (desc && cJSON_IsString(d))
            snprintf(desc, desclen, "%s", d->valuestring);
        st = jg_js_error_status(cJSON_IsNumber(c) ? c->valueint : 0, ecode,
                                cJSON_IsString(d) ? d->valuestring : NULL);
        goto out;
    }
    *ret_json = root;
    root = NULL;
out:
    cJSON_Delete(root);
    jg_nats_msg_release(msg);
    return st;
}

/* A double as int64: those in [-2^63, 2^63), and 2^63 itself, which is
 * what an integer near INT64_MAX becomes as a double, as INT64_MAX (as
 * jg_bucketm_config_text writes it). */
static bool double_i64(double v, int64_t *ret)
{
    if (v == 9223372036854775808.0)
        *ret = INT64_MAX;
    else if (v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        *ret = (int64_t)v;
    else
        return false;
    return true;
}

int64_t jg_js_num(const cJSON *o, const char *name, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    int64_t n;
    if (!cJSON_IsNumber(v) || !double_i64(v->valuedouble, &n))
        return def;
    return n;
}

bool jg_js_num_is(const cJSON *o, const char *name, int64_t def, int64_t want)
{
    int64_t have = jg_js_num(o, name, def), w;
    if (have == want)
        return true;
    return double_i64((double)want, &w) && have == w;
}

bool jg_js_ints_raw(cJSON *item)
{
    for (cJSON *c = item->child; c; c = c->next) {
        if (cJSON_IsNumber(c)) {
            double v = c->valuedouble;
            char buf[32];
            int64_t n;
            if (v > -1e15 && v < 1e15)
                continue; /* cJSON prints these as integers already */
            if (!double_i64(v, &n) || v != (double)n)
                continue; /* beyond int64, or not integral */
            snprintf(buf, sizeof(buf), "%lld", (long long)n);
            char *text = strdup(buf);
            if (!text)
                return false;
            /* in place, so the member keeps its name; cJSON_Delete frees
             * valuestring whatever the type */
            c->type = cJSON_Raw | (c->type & cJSON_StringIsConst);
            c->valuestring = text;
        } else if (c->child && !jg_js_ints_raw(c)) {
            return false;
        }
    }
    return true;
}

const char *jg_js_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static bool json_bool(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

jg_status jg_bucket_info_from_json(enum jg_bucket_kind kind, const char *bucket,
                                   const cJSON *si, struct jg_bucket_info *info)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(si, "config");
    if (!cJSON_IsObject(cfg))
        return JG_ERR_INTERNAL;
    memset(info, 0, sizeof(*info));
    info->kind = kind;
    snprintf(info->name, sizeof(info->name), "%s", bucket);
    info->max_msg_size = jg_js_num(cfg, "max_msg_size", -1);
    info->max_bytes = jg_js_num(cfg, "max_bytes", -1);
    info->history = jg_js_num(cfg, "max_msgs_per_subject", -1);
    info->replicas = (int)jg_js_num(cfg, "num_replicas", 1);
    info->allow_direct = json_bool(cfg, "allow_direct");
    info->sealed = json_bool(cfg, "sealed");
    return JG_OK;
}

/* --- cache ---------------------------------------------------------------- */

struct slot {
    bool used;
    int64_t expires_ms;
    struct jg_bucket_info info;
};

struct jg_buckets {
    struct jg_nats *nats;
    const int64_t *request_timeout_ms; /* the configuration's (changes on reload) */
    natsSubscription *advisories;
    bool adv_done;           /* its last callback ran (lock) */
    pthread_cond_t adv_cond;
    pthread_mutex_t lock;
    struct slot slots[CACHE_SLOTS];
};

static unsigned slot_of(enum jg_bucket_kind kind, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)kind;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h & (CACHE_SLOTS - 1);
}

/* Whether s holds the bucket (lock held). */
static bool slot_holds(const struct slot *s, enum jg_bucket_kind kind, const char *bucket)
{
    return s->used && s->info.kind == kind && strcmp(s->info.name, bucket) == 0;
}

/* Stream created, updated, deleted or restored by anyone: forget what we
 * knew.  Leader elections and lost quorums change nothing the cache holds,
 * and forgetting then would send the next request to a stream-info call
 * that no leader answers. */
static void on_advisory(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    static const char prefix[] = "$JS.EVENT.ADVISORY.STREAM.";
    static const char *const events[] = {"CREATED.", "UPDATED.", "DELETED.", "RESTORE_COMPLETE."};
    struct jg_buckets *b = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const char *stream = strrchr(subj, '.');
    bool config = false;
    if (strncmp(subj, prefix, sizeof(prefix) - 1) == 0)
        for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
            config = config || strncmp(subj + sizeof(prefix) - 1, events[i], strlen(events[i])) == 0;
    if (stream && config) {
        stream++;
        if (strncmp(stream, "KV_", 3) == 0)
            jg_buckets_forget(b, JG_BUCKET_KV, stream + 3);
        else if (strncmp(stream, "OBJ_", 4) == 0)
            jg_buckets_forget(b, JG_BUCKET_OBJ, stream + 4);
    }
    jg_nats_msg_release(msg);
}

static void on_advisories_done(void *closure)
{
    struct jg_buckets *b = closure;
    pthread_mutex_lock(&b->lock);
    b->adv_done = true;
    pthread_cond_broadcast(&b->adv_cond);
    pthread_mutex_unlock(&b->lock);
}

jg_status jg_buckets_new(struct jg_nats *n, const int64_t *request_timeout_ms,
                         struct jg_buckets **ret)
{
    struct jg_buckets *b = calloc(1, sizeof(*b));
    if (!b)
        return JG_ERR_NOMEM;
    b->nats = n;
    b->request_timeout_ms = request_timeout_ms;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->adv_cond, NULL);
    if (natsConnection_Subscribe(&b->advisories, jg_nats_conn(n), "$JS.EVENT.ADVISORY.STREAM.*.*",
                                 on_advisory, b) != NATS_OK ||
        natsSubscription_SetOnCompleteCB(b->advisories, on_advisories_done, b) != NATS_OK) {
        jg_warn("nats: cannot follow stream advisories; bucket changes by other clients are "
                "seen within %d s", CACHE_TTL_MS / 1000);
        natsSubscription_Destroy(b->advisories);
        b->advisories = NULL;
    }
    *ret = b;
    return JG_OK;
}

void jg_buckets_stop(struct jg_buckets *b)
{
    if (!b || !b->advisories)
        return;
    if (natsSubscription_Unsubscribe(b->advisories) == NATS_OK) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        pthread_mutex_lock(&b->lock);
        while (!b->adv_done && pthread_cond_timedwait(&b->adv_cond, &b->lock, &ts) == 0)
            ;
        pthread_mutex_unlock(&b->lock);
    }
    natsSubscription_Destroy(b->advisories);
    b->advisories = NULL;
}

void jg_buckets_free(struct jg_buckets *b)
{
    if (!b)
        return;
    jg_buckets_stop(b);
    pthread_cond_destroy(&b->adv_cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

struct lookup {
    struct jg_buckets *b;
    enum jg_bucket_kind kind;
    char bucket[256];
    jg_buckets_fn fn;        /* NULL for a background refresh */
    void *ctx;
    struct jg_nats_req own;  /* the request of a background refresh */
};

static void store(struct jg_buckets *b, const struct jg_bucket_info *info)
{
    struct slot *s = &b->slots[slot_of(info->kind, info->name)];
    pthread_mutex_lock(&b->lock);
    s->used = true;
    s->expires_ms = jg_now_ms() + CACHE_TTL_MS;
    s->info = *info;
    pthread_mutex_unlock(&b->lock);
}

static void on_info(void *ctx, jg_status st, natsMsg *msg)
{
    struct lookup *l = ctx;
    cJSON *json = NULL;
    struct jg_bucket_info info;
    char desc[256];

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st == JG_OK)
        st = jg_bucket_info_from_json(l->kind, l->bucket, json, &info);
    if (st == JG_OK)
        store(l->b, &info);
    else if (st == JG_ERR_BUCKET_NOT_FOUND)
        jg_buckets_forget(l->b, l->kind, l->bucket);
    cJSON_Delete(json);
    if (l->fn)
        l->fn(l->ctx, st, st == JG_OK ? &info : NULL);
    free(l);
}

jg_status jg_buckets_no_responders(struct jg_buckets *b, enum jg_bucket_kind kind,
                                   const char *bucket)
{
    struct slot *s = &b->slots[slot_of(kind, bucket)];
    bool replicated = false;
    pthread_mutex_lock(&b->lock);
    if (slot_holds(s, kind, bucket))
        replicated = s->info.replicas > 1;
    pthread_mutex_unlock(&b->lock);
    if (replicated)
        return JG_ERR_NATS_UNAVAILABLE;
    jg_buckets_forget(b, kind, bucket);
    return JG_ERR_BUCKET_NOT_FOUND;
}

void jg_buckets_lookup(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket,
                       struct jg_nats_req *r, jg_buckets_fn fn, void *ctx)
{
    struct slot *s = &b->slots[slot_of(kind, bucket)];
    struct jg_bucket_info info;
    bool hit = false;
    bool stale = false;
    int64_t now = jg_now_ms();

    /* An expired entry is still answered from (a stream leader being
     * elected must not stall every request on a stream-info call) and
     * refreshed in the background; deletions reach the cache at once
     * through the stream advisories. */
    pthread_mutex_lock(&b->lock);
    if (slot_holds(s, kind, bucket)) {
        info = s->info;
        hit = true;
        if (s->expires_ms <= now) {
            stale = true;
            s->expires_ms = now + CACHE_TTL_MS; /* one refresh at a time */
        }
    }
    pthread_mutex_unlock(&b->lock);
    if (hit) {
        if (stale) /* in the background: nobody waits for it */
            jg_buckets_recheck(b, kind, bucket, NULL, NULL, NULL);
        fn(ctx, JG_OK, &info);
        return;
    }
    jg_buckets_recheck(b, kind, bucket, r, fn, ctx);
}

void jg_buckets_recheck(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket,
                        struct jg_nats_req *r, jg_buckets_fn fn, void *ctx)
{
    char api[300], stream[280];
    struct lookup *l = calloc(1, sizeof(*l));
    if (!l) {
        if (fn)
            fn(ctx, JG_ERR_NOMEM, NULL);
        return;
    }
    if (!r)
        r = &l->own;
    l->b = b;
    l->kind = kind;
    snprintf(l->bucket, sizeof(l->bucket), "%s", bucket);
    l->fn = fn;
    l->ctx = ctx;
    jg_js_stream_name(kind, bucket, stream, sizeof(stream));
    snprintf(api, sizeof(api), "$JS.API.STREAM.INFO.%s", stream);
    /* half the request's time at most: the operation that follows a lookup
     * has its own timeout, and both must end within about one request
     * timeout (a lookup waits while a stream has no leader) */
    int64_t t = *b->request_timeout_ms / 2;
    jg_status st = jg_nats_request(b->nats, r, api, NULL, NULL, 0, 0, t > 250 ? t : 250, on_info, l);
    if (st != JG_OK) {
        free(l);
        if (fn)
            fn(ctx, st, NULL);
    }
}

void jg_buckets_forget(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket)
{
    struct slot *s = &b->slots[slot_of(kind, bucket)];
    pthread_mutex_lock(&b->lock);
    if (slot_holds(s, kind, bucket))
        s->used = false;
    pthread_mutex_unlock(&b->lock);
}

void jg_buckets_clear(struct jg_buckets *b)
{
    pthread_mutex_lock(&b->lock);
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        b->slots[i].used = false;
    pthread_mutex_unlock(&b->lock);
}
