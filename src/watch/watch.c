/* watch.c - opening and closing watchers (see watch.h): the bucket's
 * stream info decides where a watcher starts (its initial values, a resume
 * point, a time, or now), then it gets a feed of its own or goes straight
 * onto its bucket's shared feed. */
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

/* Where a new feed for w starts, from the stream's first and last
 * sequence: a resume point that is gone (or from another life of the
 * bucket) gets `reset` and starts over with the current values. */
static void choose_start(struct jg_watch *w, struct feed *f, uint64_t first, uint64_t last)
{
    w->last_rev = last;
    if (w->has_resume && (w->resume > last || (first > 0 && w->resume + 1 < first))) {
        struct ev *e = jg_ev_control("reset", 0,
                                     "{\"resumeRevision\":%llu,\"firstRevision\":%llu,"
                                     "\"lastRevision\":%llu}",
                                     (unsigned long long)w->resume, (unsigned long long)first,
                                     (unsigned long long)last);
        if (e)
            jg_watcher_push(w, e, true, NULL);
        jg_ev_unref(e);
        atomic_fetch_add(&w->eng->resets, 1);
        w->has_resume = false;
        w->has_start_time = false;
        w->include = JG_WATCH_LAST_VALUE;
    }
    if (w->has_resume) {
        f->policy = P_FROM_SEQ;
        f->last_seq = w->covered = w->resume;
        w->sent_id = w->resume; /* the client has it */
    } else if (w->has_start_time) {
        f->policy = P_FROM_TIME;
        f->start_ns = w->start_ns;
    } else if (w->include == JG_WATCH_UPDATES_ONLY) {
        f->policy = P_FROM_SEQ;
        f->last_seq = w->covered = last;
        f->init_done = true;
    } else if (w->include == JG_WATCH_ALL_HISTORY) {
        f->policy = P_ALL;
    } else {
        f->policy = P_LAST_PER_SUBJECT;
    }
}

/* Puts w on the shared feed when a resume allows it, else on f, its own
 * feed, whose consumer is then created.  Takes f's reference. */
static void start_feed(struct jg_watch *w, struct feed *f, struct wakes *wk)
{
    struct jg_watch_engine *eng = w->eng;
    pthread_mutex_lock(&eng->lock);
    if (w->has_resume) {
        enum resume_path path = jg_ring_resume(w, f->key, wk);
        atomic_fetch_add(&eng->resumes[path], 1);
        if (path != R_CONSUMER) {
            pthread_mutex_unlock(&eng->lock);
            jg_feed_unref(f);
            return;
        }
    }
    jg_feed_list_add(f);
    pthread_mutex_lock(&f->lock);
    jg_feed_attach(f, w);
    if (f->init_done)
        jg_watcher_synced(w, wk);
    pthread_mutex_unlock(&f->lock);
    pthread_mutex_unlock(&eng->lock);
    jg_feed_ref(f);
    if (f->init_done)
        jg_ring_try_join(f); /* live only: join the shared feed at once if there is one */
    pthread_mutex_lock(&f->lock);
    if (!f->dead)
        jg_consumer_create(f);
    pthread_mutex_unlock(&f->lock);
    jg_feed_unref(f);
}

/* The stream info of the watched bucket (loop thread). */
static void on_info(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_watch *w = ctx;
    struct wakes wk = {0};
    cJSON *json = NULL;
    char desc[256] = "";
    struct feed *f = NULL;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK)
        goto out;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(json, "state");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(state, "first_seq");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(state, "last_seq");
    f = jg_feed_new(w);
    if (!f) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    choose_start(w, f, cJSON_IsNumber(fs) ? (uint64_t)fs->valuedouble : 0,
                 cJSON_IsNumber(ls) ? (uint64_t)ls->valuedouble : 0);
    start_feed(w, f, &wk);
out:
    cJSON_Delete(json);
    if (st != JG_OK)
        jg_debug("watch: '%s' not opened: %s", w->bucket, *desc ? desc : jg_status_title(st));
    w->ready(w->ready_ctx, st);
    jg_wakes_run(&wk);
    jg_watcher_unref(w);
}

/* A hold: a watcher with no queue that tells hold_fn of the first change. */
static void hold_init(struct jg_watch *w, const struct jg_watch_params *p,
                      jg_watch_hold_fn hold_fn, void *ctx, int64_t deadline_ms)
{
    w->hold = true;
    w->keyed = p->kind == JG_WATCH_KV && !p->scope && p->filters && p->filters[0] &&
               !p->filters[1] && !strpbrk(p->filters[0], "*>") &&
               (!p->prefixes || !p->prefixes[0]);
    w->hold_fn = hold_fn;
    w->hold_ctx = ctx;
    w->hold_deadline_ms = deadline_ms;
    atomic_init(&w->hold_why, 0);
    atomic_init(&w->hold_seq, 0);
    atomic_init(&w->hold_posted, false);
}

/* Starts the engine if needed and lists w in it, counted as a held read
 * (JG_ERR_TOO_MANY_REQUESTS over max_held_reads) or an open watcher (its
 * reserved place taken over). */
static jg_status engine_list(struct jg_watch_engine *eng, struct jg_watch *w,
                             struct jg_watch_place *place, int64_t deadline_ms)
{
    pthread_mutex_lock(&eng->lock);
    jg_status st = jg_engine_start(eng);
    if (st == JG_OK && w->hold && eng->held >= eng->cfg->max_held_reads)
        st = JG_ERR_TOO_MANY_REQUESTS;
    if (st == JG_OK) {
        if (w->hold) {
            eng->held++;
            if (deadline_ms < eng->wake_ms)
                pthread_cond_signal(&eng->cond); /* sooner than the engine thread wakes */
        } else {
            place->held = false; /* the watcher's now, given back by jg_watch_close */
            eng->reserved--;
            eng->open++;
        }
        w->listed = true;
        w->enext = eng->watchers;
        if (eng->watchers)
            eng->watchers->eprev = w;
        eng->watchers = w;
    }
    pthread_mutex_unlock(&eng->lock);
    return st;
}

/* Opens a watcher, or a hold when hold_fn is set (place is NULL then). */
static jg_status watch_open(struct jg_watch_engine *eng, struct jg_watch_place *place,
                            const struct jg_watch_params *p, const struct jg_watch_sink *sink,
                            jg_watch_ready_fn ready, void *ctx, struct jg_watch **ret_watch,
                            jg_watch_hold_fn hold_fn, int64_t deadline_ms)
{
    struct jg_watch *w = calloc(1, sizeof(*w));
    jg_status st = JG_ERR_NOMEM;
    char api[400];

    JG_ASSERT_LOOP_THREAD(eng->nats);
    if (!w)
        goto fail;
    if (hold_fn)
        hold_init(w, p, hold_fn, ctx, deadline_ms);
    atomic_init(&w->refs, 1);
    pthread_mutex_init(&w->lock, NULL);
    w->eng = eng;
    w->kind = p->kind;
    w->bucket = strdup(p->bucket);
    w->filters = jg_strv_dup(p->filters);
    w->prefixes = jg_strv_dup(p->prefixes);
    if (p->scope && !(w->scope = jg_strv_dup(p->scope)))
        goto fail;
    if (!w->bucket || !w->filters || !w->prefixes)
        goto fail;
    jg_js_stream_name(p->kind == JG_WATCH_KV ? JG_BUCKET_KV : JG_BUCKET_OBJ, p->bucket, w->stream,
                      sizeof(w->stream));
    w->include = w->hold ? JG_WATCH_UPDATES_ONLY : p->include;
    w->ignore_deletes = !w->hold && p->ignore_deletes;
    w->meta_only = p->kind == JG_WATCH_KV && (w->hold || p->meta_only);
    w->has_resume = p->has_resume;
    w->resume = p->resume;
    w->has_start_time = !w->hold && p->has_start_time;
    w->start_ns = p->start_ns;
    if (place) {
        snprintf(w->addr, sizeof(w->addr), "%s", place->addr);
        w->token = place->token;
    }
    if (sink)
        w->sink = *sink;
    w->ready = ready;
    w->ready_ctx = ctx;
    w->last_queued_ms = jg_now_ms();
    struct ev *retry = jg_ev_new(0, NULL, false, "retry: 2000\n\n", 13);
    if (!retry)
        goto fail;
    jg_watcher_push(w, retry, true, NULL);
    jg_ev_unref(retry);

    st = engine_list(eng, w, place, deadline_ms);
    if (st != JG_OK)
        goto fail;
    *ret_watch = w;
    jg_watcher_ref(w); /* for on_info */
    jg_subj_js_api("STREAM.INFO", w->stream, NULL, api, sizeof(api));
    st = jg_js_api(eng->nats, &w->info_req, api, NULL, 0, on_info, w);
    if (st != JG_OK) {
        ready(ctx, st);
        jg_watcher_unref(w);
    }
    return JG_OK;
fail:
    if (place)
        jg_watch_unreserve(eng, place);
    if (w) {
        w->sink.release = NULL;
        jg_watcher_unref(w);
    }
    return st;
}

jg_status jg_watch_open(struct jg_watch_engine *eng, struct jg_watch_place *place,
                        const struct jg_watch_params *p, const struct jg_watch_sink *sink,
                        jg_watch_ready_fn ready, void *ctx, struct jg_watch **ret_watch)
{
    return watch_open(eng, place, p, sink, ready, ctx, ret_watch, NULL, 0);
}

jg_status jg_watch_hold(struct jg_watch_engine *eng, const struct jg_watch_params *p,
                        int64_t deadline_ms, jg_watch_hold_fn fn, jg_watch_ready_fn ready,
                        void *ctx, struct jg_watch **ret_watch)
{
    return watch_open(eng, NULL, p, NULL, ready, ctx, ret_watch, fn, deadline_ms);
}

void jg_watch_close(struct jg_watch *w)
{
    struct jg_watch *drop = NULL;
    struct feed *f;
    if (!w)
        return;
    struct jg_watch_engine *eng = w->eng;
    pthread_mutex_lock(&eng->lock);
    if (w->listed) {
        w->listed = false;
        if (w->eprev)
            w->eprev->enext = w->enext;
        else
            eng->watchers = w->enext;
        if (w->enext)
            w->enext->eprev = w->eprev;
        if (w->hold) {
            eng->held--;
        } else {
            eng->open--;
            jg_limits_put(eng, w->addr, w->token);
        }
    }
    w->hold_fn = NULL; /* nothing more is told (loop thread, as the task) */
    f = w->feed;
    if (f) {
        jg_feed_ref(f);
        pthread_mutex_lock(&f->lock);
        w->closed = true;
        drop = jg_feed_detach(f, w);
        if (f->nwatchers == 0) {
            jg_feed_end(f);
            jg_feed_list_remove(f);
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng->lock);
    pthread_mutex_lock(&w->lock);
    w->ended = true;
    pthread_mutex_unlock(&w->lock);
    jg_feed_unref(f);
    jg_watcher_unref(drop);
    jg_watcher_unref(w);
}
