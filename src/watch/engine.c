/* engine.c - the watch engine object (see watch.h and watch_int.h): made
 * by main.c, started on the first watcher (its thread and the
 * subscriptions of deleted.c), stopped at shutdown.  Its thread sends
 * keepalives and creates consumers again after a reconnect, a lost
 * heartbeat or a pause; there is no thread per watcher. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "util.h"

static const char *const resume_path_name[R_PATHS] = {"consumer", "shared", "ring"};

jg_status jg_watch_engine_new(struct jg_config *cfg, struct jg_nats *nats, atomic_bool *stopping,
                              struct jg_watch_engine **ret)
{
    struct jg_watch_engine *eng = calloc(1, sizeof(*eng));
    if (!eng)
        return JG_ERR_NOMEM;
    pthread_mutex_init(&eng->lock, NULL);
    pthread_cond_init(&eng->cond, NULL);
    eng->cfg = cfg;
    eng->nats = nats;
    eng->stopping = stopping;
    *ret = eng;
    return JG_OK;
}

void jg_watch_engine_free(struct jg_watch_engine *eng)
{
    if (!eng)
        return;
    jg_watch_shutdown(eng);
    jg_ev_unref(eng->keepalive);
    free(eng->addrs);
    pthread_cond_destroy(&eng->cond);
    pthread_mutex_destroy(&eng->lock);
    free(eng);
}

bool jg_engine_nats_usable(struct jg_watch_engine *eng)
{
    return !atomic_load(eng->stopping) && jg_nats_connected(eng->nats);
}

/* Keepalives and feeds that need a consumer (eng->lock held). */
static void engine_tick(struct jg_watch_engine *eng, struct wakes *wk)
{
    int64_t now = jg_now_ms(), ka = eng->cfg->watch_keepalive_ms;
    struct jg_nats_stats ns;
    size_t low = (size_t)eng->cfg->watch_queue_bytes / 4;

    for (struct jg_watch *w = eng->watchers; w; w = w->enext) {
        pthread_mutex_lock(&w->lock);
        bool due = !w->ended && now - w->last_queued_ms >= ka;
        pthread_mutex_unlock(&w->lock);
        if (due)
            jg_watcher_push(w, eng->keepalive, true, wk);
    }
    if (atomic_load(eng->stopping))
        return;
    bool connected = jg_nats_connected(eng->nats), restart_all = false;
    jg_nats_get_stats(eng->nats, &ns);
    if (connected && ns.reconnects != eng->reconnects_seen) {
        eng->reconnects_seen = ns.reconnects;
        restart_all = true;
    }
    for (struct feed *f = eng->feeds; f; f = f->lnext) {
        pthread_mutex_lock(&f->lock);
        if (f->dead) {
            /* nothing */
        } else if (f->paused) {
            struct jg_watch *w = f->watchers;
            bool drained = true;
            if (w) {
                pthread_mutex_lock(&w->lock);
                drained = w->qbytes <= low;
                pthread_mutex_unlock(&w->lock);
            }
            if (drained && connected)
                jg_consumer_restart(f, "reader caught up");
        } else if (restart_all && connected) {
            jg_consumer_restart(f, "reconnect");
        } else if (f->need_create && !f->creating) {
            if (connected)
                jg_consumer_create(f);
        } else if (!f->creating && connected && now - f->last_msg_ms > HB_MISSED_MS) {
            jg_consumer_restart(f, "missed heartbeats");
        }
        jg_progress_tick(f, now, wk);
        pthread_mutex_unlock(&f->lock);
    }
}

static void *engine_main(void *arg)
{
    struct jg_watch_engine *eng = arg;
    pthread_mutex_lock(&eng->lock);
    while (!eng->stop) {
        struct wakes wk = {0};
        engine_tick(eng, &wk);
        pthread_mutex_unlock(&eng->lock);
        jg_wakes_run(&wk);
        pthread_mutex_lock(&eng->lock);
        if (eng->stop)
            break;
        int64_t tick = eng->cfg->watch_keepalive_ms / 2, every = jg_progress_every(eng->cfg);
        if (every > 0 && every / 2 < tick)
            tick = every / 2;
        if (tick > TICK_MAX_MS)
            tick = TICK_MAX_MS;
        if (tick < 20)
            tick = 20;
        int64_t until_check = jg_deleted_checks_run(eng, jg_now_ms());
        if (until_check < tick)
            tick = until_check < 1 ? 1 : until_check;
        int64_t until_hold = jg_hold_expire(eng, jg_now_ms());
        if (until_hold < tick)
            tick = until_hold < 1 ? 1 : until_hold;
        eng->wake_ms = jg_now_ms() + tick;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += tick / 1000;
        ts.tv_nsec += (tick % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&eng->cond, &eng->lock, &ts);
    }
    pthread_mutex_unlock(&eng->lock);
    return NULL;
}

jg_status jg_engine_start(struct jg_watch_engine *eng)
{
    if (eng->started)
        return JG_OK;
    if (eng->stop)
        return JG_ERR_NATS_UNAVAILABLE; /* shut down */
    eng->nc = jg_nats_conn(eng->nats);
    if (!eng->keepalive)
        eng->keepalive = jg_ev_new(0, NULL, false, ": keepalive\n\n", 13);
    if (!eng->keepalive)
        return JG_ERR_NOMEM;
    struct jg_nats_stats ns;
    jg_nats_get_stats(eng->nats, &ns);
    eng->reconnects_seen = ns.reconnects;
    if (!jg_deleted_follow(eng))
        jg_warn("watch: cannot follow stream deletions; watchers of a deleted bucket end after "
                "a missed heartbeat");
    if (pthread_create(&eng->thread, NULL, engine_main, eng) != 0) {
        jg_ev_unref(eng->keepalive);
        eng->keepalive = NULL;
        return JG_ERR_INTERNAL;
    }
    eng->started = true;
    return JG_OK;
}

void jg_watch_shutdown(struct jg_watch_engine *eng)
{
    if (!eng)
        return;
    pthread_mutex_lock(&eng->lock);
    bool started = eng->started;
    eng->stop = true;
    eng->started = false;
    pthread_cond_signal(&eng->cond);
    pthread_mutex_unlock(&eng->lock);
    if (!started)
        return;
    pthread_join(eng->thread, NULL);
    jg_deleted_unfollow(eng);
}

/* --- metrics --------------------------------------------------------------- */

int64_t jg_watch_open_count(struct jg_watch_engine *eng)
{
    pthread_mutex_lock(&eng->lock);
    int64_t n = eng->open;
    pthread_mutex_unlock(&eng->lock);
    return n;
}

void jg_watch_metrics(struct jg_watch_engine *eng, struct jg_buf *b)
{
    pthread_mutex_lock(&eng->lock);
    int64_t open = eng->open, feeds = eng->nfeeds, held = eng->held;
    pthread_mutex_unlock(&eng->lock);
    jg_buf_printf(b,
                  "# HELP jetgate_held_reads Blocking reads held (waiting for a change).\n"
                  "# TYPE jetgate_held_reads gauge\n"
                  "jetgate_held_reads %lld\n",
                  (long long)held);
    jg_buf_printf(b,
                  "# HELP jetgate_watchers_open Server-Sent Events watch streams open.\n"
                  "# TYPE jetgate_watchers_open gauge\n"
                  "jetgate_watchers_open %lld\n"
                  "# HELP jetgate_watch_consumers JetStream consumers serving watches.\n"
                  "# TYPE jetgate_watch_consumers gauge\n"
                  "jetgate_watch_consumers %lld\n"
                  "# HELP jetgate_watch_events_total Change events queued to watch streams.\n"
                  "# TYPE jetgate_watch_events_total counter\n"
                  "jetgate_watch_events_total %llu\n"
                  "# HELP jetgate_watch_overflows_total Watch streams ended because the client "
                  "could not keep up.\n"
                  "# TYPE jetgate_watch_overflows_total counter\n"
                  "jetgate_watch_overflows_total %llu\n"
                  "# HELP jetgate_watch_resets_total Watch resumes that started over (revision "
                  "no longer held).\n"
                  "# TYPE jetgate_watch_resets_total counter\n"
                  "jetgate_watch_resets_total %llu\n"
                  "# HELP jetgate_watch_consumer_creates_total Consumers created for watches "
                  "(first and after gaps, reconnects, pauses).\n"
                  "# TYPE jetgate_watch_consumer_creates_total counter\n"
                  "jetgate_watch_consumer_creates_total %llu\n"
                  "# HELP jetgate_watch_rollup_restarts_total Watch consumers started again "
                  "because a rollup moved them past changes.\n"
                  "# TYPE jetgate_watch_rollup_restarts_total counter\n"
                  "jetgate_watch_rollup_restarts_total %llu\n"
                  "# HELP jetgate_watch_progress_total Progress events queued to quiet watch "
                  "streams.\n"
                  "# TYPE jetgate_watch_progress_total counter\n"
                  "jetgate_watch_progress_total %llu\n"
                  "# HELP jetgate_watch_resumes_total Watch resumes by what served the changes "
                  "after the resume point (resets are counted apart).\n"
                  "# TYPE jetgate_watch_resumes_total counter\n",
                  (long long)open, (long long)feeds,
                  (unsigned long long)atomic_load(&eng->events),
                  (unsigned long long)atomic_load(&eng->overflows),
                  (unsigned long long)atomic_load(&eng->resets),
                  (unsigned long long)atomic_load(&eng->restarts),
                  (unsigned long long)atomic_load(&eng->rollup_restarts),
                  (unsigned long long)atomic_load(&eng->progress));
    for (size_t i = 0; i < sizeof(resume_path_name) / sizeof(resume_path_name[0]); i++)
        jg_buf_printf(b, "jetgate_watch_resumes_total{path=\"%s\"} %llu\n", resume_path_name[i],
                      (unsigned long long)atomic_load(&eng->resumes[i]));
}
