/* buckets.c - the bucket cache (see buckets.h): which KV and
 * object buckets exist, with the few stream settings the request path
 * needs, for a few seconds; dropped on stream advisories that change a
 * configuration, on jetgate's own bucket changes and on reconnect. */
#include "autoconfig.h"
#include "nats/buckets.h"
#include "nats/js.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "nats/subjects.h"

#define CACHE_TTL_MS 5000
#define CACHE_SLOTS 1024u

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
    static const char prefix[] = JG_SUBJ_STREAM_ADVISORY_PREFIX;
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
        size_t kl = strlen(JG_SUBJ_KV_STREAM_PREFIX), ol = strlen(JG_SUBJ_OBJ_STREAM_PREFIX);
        if (strncmp(stream, JG_SUBJ_KV_STREAM_PREFIX, kl) == 0)
            jg_buckets_forget(b, JG_BUCKET_KV, stream + kl);
        else if (strncmp(stream, JG_SUBJ_OBJ_STREAM_PREFIX, ol) == 0)
            jg_buckets_forget(b, JG_BUCKET_OBJ, stream + ol);
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
    if (natsConnection_Subscribe(&b->advisories, jg_nats_conn(n), JG_SUBJ_STREAM_ADVISORIES,
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
    char stream[280];        /* failover: the request goes to a new leader at once */
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
    JG_ASSERT_LOOP_THREAD(l->b->nats);

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
    char api[300];
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
    jg_js_stream_name(kind, bucket, l->stream, sizeof(l->stream));
    jg_subj_api("STREAM.INFO", l->stream, NULL, api, sizeof(api));
    /* half the request's time at most: the operation that follows a lookup
     * has its own timeout, and both must end within about one request
     * timeout (a lookup waits while a stream has no leader) */
    int64_t t = *b->request_timeout_ms / 2;
    jg_status st = jg_nats_request_leader(b->nats, r, l->stream, api, NULL, NULL, 0, 0,
                                          t > 250 ? t : 250, on_info, l);
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
