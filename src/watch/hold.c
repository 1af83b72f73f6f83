/* hold.c - held reads (see watch.h): a hold is a watcher with no queue on
 * its bucket's shared live feed of every key; a matching change, its
 * deadline or the end of its bucket is told to its owner on the loop
 * thread through one task per hold, posted at most once at a time. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdint.h>
#include <string.h>

/* The task on the loop thread: tells what was gathered since it was
 * posted, unless the owner closed the hold. */
static void hold_task(void *ctx)
{
    struct jg_watch *w = ctx;
    atomic_store(&w->hold_posted, false);
    unsigned why = atomic_exchange(&w->hold_why, 0);
    if (why && w->hold_fn)
        w->hold_fn(w->hold_ctx, why);
    jg_watcher_unref(w);
}

void jg_hold_tell(struct jg_watch *w, unsigned why)
{
    atomic_fetch_or(&w->hold_why, why);
    if (atomic_exchange(&w->hold_posted, true))
        return;
    jg_watcher_ref(w);
    jg_nats_post(w->eng->nats, &w->hold_task, hold_task, w);
}

unsigned jg_hold_slot(const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h & (HOLD_SLOTS - 1);
}

void jg_hold_deliver(struct feed *f, struct ev *e, struct wakes *wk)
{
    if (!f->keyed || !e->key)
        return;
    for (struct jg_watch *w = f->keyed[jg_hold_slot(e->key)]; w; w = w->fnext)
        if (strcmp(w->filters[0], e->key) == 0)
            jg_watcher_deliver(w, e, false, wk);
}

int64_t jg_hold_expire(struct jg_watch_engine *eng, int64_t now)
{
    int64_t next = INT64_MAX;
    if (eng->held == 0)
        return next;
    for (struct jg_watch *w = eng->watchers; w; w = w->enext) {
        if (!w->hold || w->hold_deadline_ms == INT64_MAX)
            continue;
        if (w->hold_deadline_ms <= now) {
            w->hold_deadline_ms = INT64_MAX;
            jg_hold_tell(w, JG_HOLD_TIMEOUT);
        } else if (w->hold_deadline_ms - now < next) {
            next = w->hold_deadline_ms - now;
        }
    }
    return next;
}

int64_t jg_watch_held_count(struct jg_watch_engine *eng)
{
    pthread_mutex_lock(&eng->lock);
    int64_t n = eng->held;
    pthread_mutex_unlock(&eng->lock);
    return n;
}

uint64_t jg_watch_hold_seq(struct jg_watch *w)
{
    return w ? atomic_load(&w->hold_seq) : 0;
}
