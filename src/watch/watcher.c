/* watcher.c - a watcher's queue of events (see watch_int.h): events are
 * queued by reference, bounded by watch_queue_bytes, read by the HTTP
 * stream; delivery from a feed, synced, overflow and error events. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "util.h"

void jg_watcher_ref(struct jg_watch *w)
{
    atomic_fetch_add(&w->refs, 1);
}

void jg_watcher_unref(struct jg_watch *w)
{
    if (!w || atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    struct qnode *q = w->head;
    while (q) {
        struct qnode *next = q->next;
        jg_ev_unref(q->ev);
        free(q);
        q = next;
    }
    if (w->sink.release)
        w->sink.release(w->sink.ctx);
    pthread_mutex_destroy(&w->lock);
    free(w->bucket);
    jg_strv_free(w->scope);
    jg_strv_free(w->filters);
    jg_strv_free(w->prefixes);
    free(w);
}

void jg_wakes_add(struct wakes *wk, struct jg_watch *w)
{
    if (wk->n == wk->cap) {
        size_t cap = wk->cap ? wk->cap * 2 : 16;
        struct jg_watch **v = realloc(wk->v, cap * sizeof(*v));
        if (!v)
            return; /* the next keepalive wakes it */
        wk->v = v;
        wk->cap = cap;
    }
    jg_watcher_ref(w);
    wk->v[wk->n++] = w;
}

void jg_wakes_run(struct wakes *wk)
{
    for (size_t i = 0; i < wk->n; i++) {
        struct jg_watch *w = wk->v[i];
        if (w->sink.wake)
            w->sink.wake(w->sink.ctx);
        jg_watcher_unref(w);
    }
    free(wk->v);
    wk->v = NULL;
    wk->n = wk->cap = 0;
}

/* --- watcher queue (w->lock) ----------------------------------------------- */

/* Queues e (a new reference) unless the watcher ended.  Returns false when
 * it would go over the queue bound. */
bool jg_watcher_push(struct jg_watch *w, struct ev *e, bool force, struct wakes *wk)
{
    bool ok = true;
    if (w->hold)
        return true; /* a hold queues nothing */
    pthread_mutex_lock(&w->lock);
    if (w->ended)
        goto out;
    if (!force && w->qbytes + e->len > (size_t)w->eng->cfg->watch_queue_bytes) {
        ok = false;
        goto out;
    }
    struct qnode *q = malloc(sizeof(*q));
    if (!q) {
        ok = false;
        goto out;
    }
    jg_ev_ref(e);
    q->ev = e;
    q->next = NULL;
    if (w->tail)
        w->tail->next = q;
    else
        w->head = q;
    w->tail = q;
    w->qbytes += e->len;
    w->last_queued_ms = jg_now_ms();
    if (w->waiting) {
        w->waiting = false;
        if (wk)
            jg_wakes_add(wk, w);
    }
out:
    pthread_mutex_unlock(&w->lock);
    return ok;
}

/* Ends the stream after what is queued (and e, if given). */
void jg_watcher_end(struct jg_watch *w, struct ev *e, struct wakes *wk)
{
    if (w->hold) {
        pthread_mutex_lock(&w->lock);
        bool was = w->ended;
        w->ended = true;
        pthread_mutex_unlock(&w->lock);
        if (!was)
            jg_hold_tell(w, JG_HOLD_GONE);
        return;
    }
    if (e)
        jg_watcher_push(w, e, true, wk);
    pthread_mutex_lock(&w->lock);
    w->ended = true;
    if (w->waiting) {
        w->waiting = false;
        jg_wakes_add(wk, w);
    }
    pthread_mutex_unlock(&w->lock);
}

bool jg_watcher_ended(struct jg_watch *w)
{
    pthread_mutex_lock(&w->lock);
    bool e = w->ended;
    pthread_mutex_unlock(&w->lock);
    return e;
}

long jg_watch_read(struct jg_watch *w, char *buf, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&w->lock);
    while (w->head && n < max) {
        struct qnode *q = w->head;
        size_t avail = q->ev->len - w->head_off, take = avail < max - n ? avail : max - n;
        memcpy(buf + n, q->ev->data + w->head_off, take);
        n += take;
        w->head_off += take;
        if (w->head_off == q->ev->len) {
            w->head = q->next;
            if (!w->head)
                w->tail = NULL;
            w->qbytes -= q->ev->len;
            w->head_off = 0;
            jg_ev_unref(q->ev);
            free(q);
        }
    }
    long ret = (long)n;
    if (n == 0) {
        if (w->ended || atomic_load(w->eng->stopping))
            ret = -1;
        else
            w->waiting = true;
    }
    bool kick = w->want_kick && w->qbytes <= (size_t)w->eng->cfg->watch_queue_bytes / 4;
    if (kick)
        w->want_kick = false;
    pthread_mutex_unlock(&w->lock);
    if (kick) {
        pthread_mutex_lock(&w->eng->lock);
        pthread_cond_signal(&w->eng->cond);
        pthread_mutex_unlock(&w->eng->lock);
    }
    return ret;
}
/* --- delivery to watchers (feed->lock held) --------------------------------- */

static bool watcher_wants(struct jg_watch *w, const struct ev *e)
{
    if (e->is_del && w->ignore_deletes)
        return false;
    if (!jg_auth_scope_allows(w->scope, e->key))
        return false;
    return jg_watch_key_wanted(w->filters, w->prefixes, w->kind == JG_WATCH_OBJ, e->key);
}

/* Gives e (stream sequence e->seq) to w unless w has it already.  When the
 * queue is full: with can_pause, returns false and leaves w as it was (the
 * caller stops its consumer until the reader catches up); else the watcher
 * gets `overflow` and ends. */
bool jg_watcher_deliver(struct jg_watch *w, struct ev *e, bool can_pause, struct wakes *wk)
{
    if (w->closed || e->seq <= w->covered)
        return true;
    if (w->hold) {
        if (watcher_wants(w, e)) {
            if (e->seq > atomic_load(&w->hold_seq))
                atomic_store(&w->hold_seq, e->seq); /* one feed, one thread at a time */
            jg_hold_tell(w, JG_HOLD_CHANGED);
        }
        w->covered = e->seq;
        return true;
    }
    if (watcher_wants(w, e)) {
        if (!jg_watcher_push(w, e, false, wk)) {
            if (can_pause)
                return false;
            /* cannot keep up: tell it where to resume and end */
            if (!jg_watcher_ended(w)) {
                atomic_fetch_add(&w->eng->overflows, 1);
                struct ev *o = jg_ev_control("overflow", w->covered, "{\"resumeRevision\":%llu}",
                                          (unsigned long long)w->covered);
                if (o)
                    jg_watcher_end(w, o, wk);
                else
                    jg_watcher_end(w, NULL, wk);
                jg_ev_unref(o);
            }
            w->closed = true;
            return true;
        }
        atomic_fetch_add(&w->eng->events, 1);
        w->sent_id = e->seq;
    }
    w->covered = e->seq;
    return true;
}

void jg_watcher_synced(struct jg_watch *w, struct wakes *wk)
{
    if (w->synced || w->closed)
        return;
    w->synced = true;
    uint64_t rev = w->covered > w->last_rev ? w->covered : w->last_rev;
    w->synced_rev = rev;
    w->last_event_ms = jg_now_ms(); /* progress counts from here */
    struct ev *e = jg_ev_control("synced", 0, "{\"revision\":%llu}", (unsigned long long)rev);
    if (e)
        jg_watcher_push(w, e, true, wk);
    jg_ev_unref(e);
}

/* Ends every watcher of f with an error event (bucket gone). */
void jg_feed_fail_watchers(struct feed *f, const char *code, struct wakes *wk)
{
    for (size_t i = 0; f->keyed && i < HOLD_SLOTS; i++) {
        for (struct jg_watch *w = f->keyed[i]; w; w = w->fnext) {
            if (!w->closed)
                jg_watcher_end(w, NULL, wk);
            w->closed = true;
        }
    }
    for (struct jg_watch *w = f->watchers; w; w = w->fnext) {
        if (w->closed)
            continue;
        struct ev *e = jg_ev_control("error", 0, "{\"code\":\"%s\"}", code);
        jg_watcher_end(w, e, wk);
        jg_ev_unref(e);
        w->closed = true;
    }
}
