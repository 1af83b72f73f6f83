/* deleted.c - noticing that a watched bucket was deleted (see
 * watch_int.h): its watchers end with an `error` event
 * (bucket_not_found).  Three signs, from the most to the least reliable: a
 * client's stream deletion request (then STREAM.INFO asks until the stream
 * is gone), the stream and consumer deletion advisories, and, last, a feed
 * whose heartbeats stop (engine.c).  The subscriptions' callbacks run on
 * libnats' delivery pool, on_check on the loop thread. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "nats/js.h"
#include "nats/subjects.h"
#include "util.h"

/* A client asked to delete a stream that feeds read: STREAM.INFO asks,
 * CHECK_TRIES at most, until the stream is gone (its feeds end) or still
 * there after the last.  Waiting in eng->checks (eng->lock) or in flight
 * (owned by the request). */
#define CHECK_TRIES 6
static const int check_delay_ms[CHECK_TRIES] = {0, 50, 200, 500, 1200, 2500};

struct stream_check {
    struct stream_check *next;
    struct jg_watch_engine *eng;
    char stream[300];
    int tries;               /* asks sent */
    int64_t due_ms;
    struct jg_nats_req nreq;
};

void jg_deleted_stream_gone(struct jg_watch_engine *eng, const char *stream)
{
    struct wakes wk = {0};
    pthread_mutex_lock(&eng->lock);
    for (struct feed *f = eng->feeds; f; f = f->lnext) {
        pthread_mutex_lock(&f->lock);
        if (!f->dead && strcmp(f->stream, stream) == 0) {
            f->dead = true;
            jg_feed_fail_watchers(f, "bucket_not_found", &wk);
            jg_consumer_unsubscribe(f);
            f->shared = false;
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng->lock);
    jg_wakes_run(&wk);
}

/* Best effort only: nats-server 2.9 queues this advisory after closing the
 * stream's send loop and often drops it. */
static void on_stream_deleted(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                              void *closure)
{
    char stream[300];
    (void)nc;
    (void)sub;
    if (jg_subj_deletion_parse(JG_SUBJ_STREAM_DELETED, natsMsg_GetSubject(msg), stream,
                               sizeof(stream), NULL)) {
        jg_debug("watch: stream '%s' deleted", stream);
        jg_deleted_stream_gone(closure, stream);
    }
    natsMsg_Destroy(msg);
}

/* The server deleted a consumer.  When it is the current consumer of a
 * feed, the feed did not ask for it: the bucket is being deleted or someone
 * removed the consumer.  A new consumer tells which: its creation fails with
 * "stream not found" and every feed of the bucket ends (stream_gone), or it
 * goes on from the last revision handled.  These advisories can be dropped
 * too (the same send loop); a feed that hears nothing ends after
 * HB_MISSED_MS without a heartbeat. */
static void on_consumer_deleted(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                                void *closure)
{
    struct jg_watch_engine *eng = closure;
    const char *consumer = NULL;
    char stream[300];
    (void)nc;
    (void)sub;
    if (!jg_subj_deletion_parse(JG_SUBJ_CONSUMER_DELETED, natsMsg_GetSubject(msg), stream,
                                sizeof(stream), &consumer))
        goto out;
    pthread_mutex_lock(&eng->lock);
    for (struct feed *f = eng->feeds; f; f = f->lnext) {
        pthread_mutex_lock(&f->lock);
        if (!f->dead && f->name[0] && strcmp(f->name, consumer) == 0 &&
            strcmp(f->stream, stream) == 0) {
            f->need_create = true;
            jg_consumer_restart(f, "consumer deleted by the server");
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng->lock);
out:
    natsMsg_Destroy(msg);
}

/* A feed not yet ended reads stream (eng->lock held)? */
static bool stream_watched(struct jg_watch_engine *eng, const char *stream)
{
    for (struct feed *f = eng->feeds; f; f = f->lnext)
        if (!f->dead && strcmp(f->stream, stream) == 0)
            return true;
    return false;
}

/* Queues c to be sent check_delay_ms[c->tries] from now (eng->lock held). */
static void check_queue(struct stream_check *c)
{
    struct jg_watch_engine *eng = c->eng;
    c->due_ms = jg_now_ms() + check_delay_ms[c->tries];
    c->next = eng->checks;
    eng->checks = c;
    pthread_cond_signal(&eng->cond);
}

/* The answer to STREAM.INFO (loop thread). */
static void on_check(void *ctx, jg_status st, natsMsg *msg)
{
    struct stream_check *c = ctx;
    struct jg_watch_engine *eng = c->eng;
    cJSON *json = NULL;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, NULL, 0);
    else
        natsMsg_Destroy(msg);
    cJSON_Delete(json);
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        jg_debug("watch: stream '%s' deleted", c->stream);
        jg_deleted_stream_gone(eng, c->stream);
        free(c);
        return;
    }
    pthread_mutex_lock(&eng->lock);
    if (!eng->stop && c->tries < CHECK_TRIES && stream_watched(eng, c->stream)) {
        check_queue(c);
        c = NULL;
    }
    pthread_mutex_unlock(&eng->lock);
    free(c);
}

int64_t jg_deleted_checks_run(struct jg_watch_engine *eng, int64_t now)
{
    int64_t next = TICK_MAX_MS;
    struct stream_check **pp = &eng->checks;
    while (*pp) {
        struct stream_check *c = *pp;
        if (c->due_ms > now) {
            if (c->due_ms - now < next)
                next = c->due_ms - now;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        char api[400];
        jg_subj_js_api("STREAM.INFO", c->stream, NULL, api, sizeof(api));
        c->tries++;
        if (!jg_engine_nats_usable(eng) ||
            jg_js_api(eng->nats, &c->nreq, api, NULL, 0, on_check, c) != JG_OK)
            free(c); /* NATS away: the reconnect re-creates every consumer */
    }
    return next;
}

/* A client asked to delete a stream.  nats-server may drop the deletion
 * advisories (on_stream_deleted, on_consumer_deleted) but not a client's
 * request: the feeds of the stream ask for it until it is gone.  The
 * request is seen before the server acts on it, hence the repeated asks. */
static void on_stream_delete_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                                     void *closure)
{
    struct jg_watch_engine *eng = closure;
    char stream[300];
    (void)nc;
    (void)sub;
    if (jg_subj_deletion_parse(JG_SUBJ_STREAM_DELETE_REQUEST, natsMsg_GetSubject(msg), stream,
                               sizeof(stream), NULL)) {
        pthread_mutex_lock(&eng->lock);
        bool dup = false;
        for (struct stream_check *c = eng->checks; c && !dup; c = c->next)
            if (strcmp(c->stream, stream) == 0) {
                c->tries = 0; /* asked again: start over */
                c->due_ms = jg_now_ms();
                dup = true;
            }
        struct stream_check *c = NULL;
        if (!dup && !eng->stop && stream_watched(eng, stream) && (c = calloc(1, sizeof(*c)))) {
            c->eng = eng;
            snprintf(c->stream, sizeof(c->stream), "%s", stream);
            check_queue(c);
        }
        pthread_cond_signal(&eng->cond);
        pthread_mutex_unlock(&eng->lock);
    }
    natsMsg_Destroy(msg);
}

bool jg_deleted_follow(struct jg_watch_engine *eng)
{
    return natsConnection_Subscribe(&eng->adv, eng->nc,
                                    jg_subj_deletion_wildcard(JG_SUBJ_STREAM_DELETED),
                                    on_stream_deleted, eng) == NATS_OK &&
           natsConnection_Subscribe(&eng->cadv, eng->nc,
                                    jg_subj_deletion_wildcard(JG_SUBJ_CONSUMER_DELETED),
                                    on_consumer_deleted, eng) == NATS_OK &&
           natsConnection_Subscribe(&eng->delreq, eng->nc,
                                    jg_subj_deletion_wildcard(JG_SUBJ_STREAM_DELETE_REQUEST),
                                    on_stream_delete_request, eng) == NATS_OK;
}

void jg_deleted_unfollow(struct jg_watch_engine *eng)
{
    natsSubscription *subs[] = {eng->adv, eng->cadv, eng->delreq};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (subs[i]) {
            natsSubscription_Unsubscribe(subs[i]);
            natsSubscription_Destroy(subs[i]);
        }
    }
    eng->adv = eng->cadv = eng->delreq = NULL;
    pthread_mutex_lock(&eng->lock);
    while (eng->checks) {
        struct stream_check *c = eng->checks;
        eng->checks = c->next;
        free(c);
    }
    pthread_mutex_unlock(&eng->lock);
}
