/* janitor.c - purges orphan object chunks (see janitor.h). */
#include "autoconfig.h"
#include "obj/janitor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "nats/conn.h"
#include "nats/js.h"
#include "nats/scan.h"
#include "obj/obj.h"
#include "util.h"
#include "nats/subjects.h"

struct jg_janitor {
    struct jg_app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

struct strset {
    char **v;
    size_t n, cap;
};

static void set_add(struct strset *s, const char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    if ((s->v[s->n] = strdup(str)))
        s->n++;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool set_has(const struct strset *s, const char *str)
{
    return s->n && bsearch(&str, s->v, s->n, sizeof(char *), cmp);
}

static void set_done(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* live objects' nuids, from the last meta message of each name */
static void on_meta(void *ctx, natsMsg *m, uint64_t seq, int64_t ts)
{
    struct jg_obj_info *info = NULL;
    if (jg_obj_info_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &info) != JG_OK)
        return;
    if (!info->deleted && info->nuid && *info->nuid)
        set_add(ctx, info->nuid);
    jg_obj_info_free(info);
}

struct chunks {
    struct strset nuids; /* "<nuid>" of chunk subjects whose newest chunk is old */
    int64_t before_ns;
};

static void on_chunk(void *ctx, natsMsg *m, uint64_t seq, int64_t ts)
{
    struct chunks *c = ctx;
    const char *subj = natsMsg_GetSubject(m), *dot = strrchr(subj, '.');
    if (dot && ts < c->before_ns)
        set_add(&c->nuids, dot + 1);
}

/* A blocking API request: JG_OK with *ret_json (caller frees), else the
 * mapped error with the server's code in *ecode. */
static jg_status api_call(struct jg_app *app, const char *api, const char *body, int64_t timeout,
                          cJSON **ret_json, int *ecode)
{
    natsMsg *reply = NULL;
    *ret_json = NULL;
    if (natsConnection_RequestString(&reply, jg_nats_conn(app->nats), api, body, timeout) !=
        NATS_OK)
        return jg_nats_connected(app->nats) ? JG_ERR_NATS_TIMEOUT : JG_ERR_NATS_UNAVAILABLE;
    return jg_js_reply_json(reply, ret_json, ecode, NULL, 0);
}

/* jg_js_remove_subject(), waited for: a filtered purge, or on a replicated
 * stream one deletion per message (nats-server before 2.9.18 replays a
 * filtered purge, on a restarting replica, as the removal of everything
 * before it).  Its callback runs on the loop thread, which keeps
 * running until the janitor has stopped. */
struct removal {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    jg_status st;
};

static void on_removed(void *ctx, jg_status st, uint64_t count)
{
    struct removal *r = ctx;
    (void)count;
    pthread_mutex_lock(&r->lock);
    r->st = st;
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static jg_status remove_subject(struct jg_app *app, const char *stream, const char *subject,
                                bool replicated)
{
    struct removal r = {.done = false};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    jg_js_remove_subject(app->nats, stream, subject, replicated, false, on_removed, &r);
    pthread_mutex_lock(&r.lock);
    while (!r.done)
        pthread_cond_wait(&r.cond, &r.lock);
    pthread_mutex_unlock(&r.lock);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
    return r.st;
}

static int clean_bucket(struct jg_app *app, const char *bucket)
{
    char stream[300], filter[300], api[400];
    struct strset live = {0};
    struct chunks old = {.before_ns = jg_realtime_ns() - app->cfg.obj_janitor_age_ms * 1000000LL};
    int64_t timeout = app->cfg.request_timeout_ms;
    int purged = 0, ecode = 0;
    cJSON *json = NULL;

    jg_js_stream_name(JG_BUCKET_OBJ, bucket, stream, sizeof(stream));
    jg_subj_api("STREAM.INFO", stream, NULL, api, sizeof(api));
    if (api_call(app, api, "", timeout, &json, &ecode) != JG_OK) {
        cJSON_Delete(json);
        return 0;
    }
    bool replicated = jg_js_num(cJSON_GetObjectItemCaseSensitive(json, "config"), "num_replicas", 1) > 1;
    cJSON_Delete(json);
    /* chunks first: an object committed after this look is newer than the age */
    jg_subj_obj_chunks(bucket, ">", filter, sizeof(filter));
    if (jg_scan_last_per_subject(app->nats, stream, filter, true, timeout, on_chunk, &old) != JG_OK ||
        old.nuids.n == 0)
        goto out;
    jg_subj_obj_meta(bucket, ">", filter, sizeof(filter));
    if (jg_scan_last_per_subject(app->nats, stream, filter, false, timeout, on_meta, &live) != JG_OK)
        goto out;
    qsort(live.v, live.n, sizeof(char *), cmp);
    for (size_t i = 0; i < old.nuids.n; i++) {
        if (set_has(&live, old.nuids.v[i]))
            continue;
        char subject[600];
        jg_subj_obj_chunks(bucket, old.nuids.v[i], subject, sizeof(subject));
        jg_status st = remove_subject(app, stream, subject, replicated);
        if (st == JG_OK) {
            purged++;
            jg_info("janitor: purged orphan chunks '%s' of bucket '%s'", old.nuids.v[i], bucket);
        } else if (st == JG_ERR_NATS_TIMEOUT || st == JG_ERR_NATS_UNAVAILABLE) {
            break;
        }
    }
out:
    set_done(&live);
    set_done(&old.nuids);
    return purged;
}

int jg_janitor_pass(struct jg_app *app)
{
    natsConnection *nc = jg_nats_conn(app->nats);
    int offset = 0, total = 0, purged = 0;
    struct strset buckets = {0};
    char names_api[64];

    jg_subj_api("STREAM.NAMES", NULL, NULL, names_api, sizeof(names_api));
    do {
        natsMsg *reply = NULL;
        cJSON *json = NULL;
        char body[64];
        snprintf(body, sizeof(body), "{\"offset\":%d}", offset);
        if (!jg_nats_connected(app->nats) ||
            natsConnection_RequestString(&reply, nc, names_api, body,
                                         app->cfg.request_timeout_ms) != NATS_OK ||
            jg_js_reply_json(reply, &json, NULL, NULL, 0) != JG_OK)
            break;
        const cJSON *s, *streams = cJSON_GetObjectItemCaseSensitive(json, "streams");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(json, "total");
        int got = 0;
        total = cJSON_IsNumber(t) ? t->valueint : 0;
        cJSON_ArrayForEach(s, streams)
        {
            got++;
            size_t pl = strlen(JG_SUBJ_OBJ_STREAM_PREFIX);
            if (cJSON_IsString(s) && strncmp(s->valuestring, JG_SUBJ_OBJ_STREAM_PREFIX, pl) == 0)
                set_add(&buckets, s->valuestring + pl);
        }
        cJSON_Delete(json);
        offset += got;
        if (!got)
            break;
    } while (offset < total);
    for (size_t i = 0; i < buckets.n; i++)
        purged += clean_bucket(app, buckets.v[i]);
    set_done(&buckets);
    return purged;
}

static void *janitor_main(void *arg)
{
    struct jg_janitor *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        int64_t every = __atomic_load_n(&j->app->cfg.obj_janitor_interval_ms, __ATOMIC_RELAXED);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = every > 0 ? every : 60000;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cond, &j->lock, &ts);
        if (j->stop || every <= 0)
            continue;
        pthread_mutex_unlock(&j->lock);
        if (jg_nats_connected(j->app->nats))
            jg_janitor_pass(j->app);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

jg_status jg_janitor_start(struct jg_app *app, struct jg_janitor **ret)
{
    struct jg_janitor *j = calloc(1, sizeof(*j));
    if (!j)
        return JG_ERR_NOMEM;
    j->app = app;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    if (pthread_create(&j->thread, NULL, janitor_main, j) != 0) {
        pthread_cond_destroy(&j->cond);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return JG_ERR_INTERNAL;
    }
    *ret = j;
    return JG_OK;
}

void jg_janitor_stop(struct jg_janitor *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
}
