/* ring.c - shared live feeds (see watch_int.h): one consumer per bucket,
 * server filter and headers-only setting serves every watcher that has
 * caught up; its ring of recent events lets a watcher join (or resume) a
 * little behind the feed without a gap. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <string.h>

void jg_ring_push(struct feed *f, struct ev *e)
{
    while (f->ring_n && (f->ring_n == RING_MAX || f->ring_bytes + e->len > RING_BYTES)) {
        struct ev *old = f->ring[f->ring_start];
        f->ring_from = old->seq;
        f->ring_bytes -= old->len;
        jg_ev_unref(old);
        f->ring_start = (f->ring_start + 1) % RING_MAX;
        f->ring_n--;
    }
    if (e->len > RING_BYTES) {
        f->ring_from = e->seq;
        return;
    }
    jg_ev_ref(e);
    f->ring[(f->ring_start + f->ring_n) % RING_MAX] = e;
    f->ring_n++;
    f->ring_bytes += e->len;
}

/* What the shared feed s can give w, whose point is w->covered (s->lock
 * held): R_SHARED when s has not passed it, R_RING when the ring still
 * holds every event after it (queued now, so w is where s is), else
 * R_CONSUMER. */
static enum resume_path catch_up(struct feed *s, struct jg_watch *w, struct wakes *wk)
{
    if (w->covered >= s->last_seq)
        return R_SHARED;
    if (s->ring_from > w->covered)
        return R_CONSUMER;
    for (size_t i = 0; i < s->ring_n; i++)
        jg_watcher_deliver(w, s->ring[(s->ring_start + i) % RING_MAX], false, wk);
    if (w->covered < s->last_seq)
        w->covered = s->last_seq;
    return R_RING;
}

struct feed *jg_ring_shared_find(struct jg_watch_engine *eng, const char *key)
{
    for (struct feed *f = eng->feeds; f; f = f->lnext)
        if (f->shared && !f->dead && strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

/* A private feed's watcher caught up: move it to the shared live feed, or
 * make this feed the shared one. */
void jg_ring_try_join(struct feed *p)
{
    struct jg_watch_engine *eng = p->eng;
    struct wakes wk = {0};
    struct jg_watch *drop = NULL;

    jg_feed_ref(p);
    pthread_mutex_lock(&eng->lock);
    pthread_mutex_lock(&p->lock);
    if (p->dead || p->shared || p->paused || p->verifying || p->nwatchers != 1 || !p->init_done)
        goto out;
    struct jg_watch *w = p->watchers;
    if (w->closed)
        goto out;
    struct feed *s = jg_ring_shared_find(eng, p->key);
    if (!s) {
        p->shared = true;
        p->ring_from = p->last_seq;
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    bool ok = catch_up(s, w, &wk) != R_CONSUMER && !w->closed;
    if (ok) {
        drop = jg_feed_detach(p, w);
        jg_feed_attach(s, w);
        w->synced = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (ok) {
        jg_feed_end(p);
        jg_feed_list_remove(p);
    }
out:
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&eng->lock);
    jg_feed_unref(p);
    jg_watcher_unref(drop);
    jg_wakes_run(&wk);
}

/* A resuming watcher (covered = resume point) goes straight onto the shared
 * live feed of key when that feed has not passed the resume point or still
 * holds everything after it in its ring: no consumer of its own.  Returns
 * the path taken, or R_CONSUMER when it needs a consumer (eng->lock held). */
enum resume_path jg_ring_resume(struct jg_watch *w, const char *key, struct wakes *wk)
{
    struct feed *s = jg_ring_shared_find(w->eng, key);
    enum resume_path path = R_CONSUMER;
    if (!s)
        return R_CONSUMER;
    pthread_mutex_lock(&s->lock);
    path = catch_up(s, w, wk);
    if (path != R_CONSUMER) {
        jg_feed_attach(s, w);
        jg_watcher_synced(w, wk);
    }
    pthread_mutex_unlock(&s->lock);
    return path;
}
