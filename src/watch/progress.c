/* progress.c - progress events (see watch_int.h).  A watcher that has
 * queued no event for watch_progress gets
 *
 *     event: progress
 *     id: R
 *     data: {"revision":R}
 *
 * where R is the stream sequence (the bucket revision) up to which the
 * watcher is complete: every change up to R that it wants was queued
 * before.  A client that resumes from R (Last-Event-ID) gets exactly the
 * changes after R, and R is recent, so the resume neither replays nor
 * resets after a quiet period.  Never before `synced`; only when R moved
 * past the last id the stream sent.
 *
 * R is the largest of: the watcher's `covered` (every message of its feed
 * handled; on a feed that reads every subject of the stream that is the
 * bucket's revision), the revision `synced` named, and the feed's
 * `complete`.  A feed with a server filter (one KV key pattern, object
 * metas) never sees the other subjects, so it asks, every half
 * watch_progress while it serves a synced watcher: the stream's last
 * sequence L (STREAM.INFO), then the first message of its filter subject
 * after the last one it handled, X (STREAM.MSG.GET next_by_subj).  None:
 * nothing it wants lies in (X, L], complete = L.  One at sequence S:
 * complete = S - 1 (S itself is on its way).  The order matters: L is
 * read before the search, so a message stored after the search started is
 * above L or is found. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "nats/js.h"
#include "nats/subjects.h"

struct check_op {
    struct feed *f;
    uint64_t last;           /* the stream's last sequence, read first */
    struct jg_nats_req nreq;
};

int64_t jg_progress_every(const struct jg_config *cfg)
{
    int64_t every = __atomic_load_n(&cfg->watch_progress_ms, __ATOMIC_RELAXED);
    return every < 0 ? __atomic_load_n(&cfg->watch_keepalive_ms, __ATOMIC_RELAXED) : every;
}

/* Ends the check with what it found (0: nothing; f->lock not held). */
static void check_done(struct check_op *op, uint64_t complete)
{
    struct feed *f = op->f;
    pthread_mutex_lock(&f->lock);
    if (complete > f->complete)
        f->complete = complete;
    f->checking = false;
    pthread_mutex_unlock(&f->lock);
    jg_feed_unref(f);
    free(op);
}

/* The first message of the filter subject after X (loop thread). */
static void on_next(void *ctx, jg_status st, natsMsg *msg)
{
    struct check_op *op = ctx;
    cJSON *json = NULL;
    int err = 0;
    uint64_t complete = 0;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &err, NULL, 0);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "message"), "seq");
    if (st == JG_OK && cJSON_IsNumber(seq) && seq->valuedouble >= 1)
        complete = (uint64_t)seq->valuedouble - 1;
    else if (st != JG_OK && err == 10037) /* no message found */
        complete = op->last;
    cJSON_Delete(json);
    check_done(op, complete);
}

/* The stream's last sequence: then search from what the feed handled. */
static void on_info(void *ctx, jg_status st, natsMsg *msg)
{
    struct check_op *op = ctx;
    struct feed *f = op->f;
    cJSON *json = NULL;
    char api[400], body[MAX_SUBJECT + 64];

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, NULL, 0);
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(json, "state"), "last_seq");
    bool ok = st == JG_OK && cJSON_IsNumber(ls);
    op->last = ok ? (uint64_t)ls->valuedouble : 0;
    cJSON_Delete(json);
    pthread_mutex_lock(&f->lock);
    uint64_t handled = f->last_seq;
    ok = ok && !f->dead && jg_engine_nats_usable(f->eng);
    if (ok && handled < op->last) {
        jg_subj_js_api("STREAM.MSG.GET", f->stream, NULL, api, sizeof(api));
        snprintf(body, sizeof(body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
                 (unsigned long long)(handled + 1), f->filter_subject);
        if (jg_js_api(f->eng->nats, &op->nreq, api, body, 0, on_next, op) == JG_OK) {
            pthread_mutex_unlock(&f->lock);
            return;
        }
        ok = false;
    }
    pthread_mutex_unlock(&f->lock);
    check_done(op, ok ? op->last : 0); /* handled >= last: complete up to last */
}

/* Asks for the stream's last sequence (f->lock held). */
static void check_start(struct feed *f, int64_t now)
{
    char api[400];
    struct check_op *op = calloc(1, sizeof(*op));
    if (!op)
        return;
    op->f = f;
    f->check_ms = now;
    jg_subj_js_api("STREAM.INFO", f->stream, NULL, api, sizeof(api));
    jg_feed_ref(f);
    if (jg_js_api(f->eng->nats, &op->nreq, api, NULL, 0, on_info, op) != JG_OK) {
        jg_feed_unref(f);
        free(op);
        return;
    }
    f->checking = true;
}

void jg_progress_tick(struct feed *f, int64_t now, struct wakes *wk)
{
    int64_t every = jg_progress_every(f->eng->cfg);
    bool any = false;
    if (every <= 0 || f->dead || !f->init_done)
        return;
    for (struct jg_watch *w = f->watchers; w; w = w->fnext) {
        if (!w->synced || w->closed)
            continue;
        any = true;
        if (w->sent_id != w->tick_id) { /* events were queued since the last tick */
            w->tick_id = w->sent_id;
            w->last_event_ms = now;
            continue;
        }
        if (now - w->last_event_ms < every)
            continue;
        uint64_t r = w->covered > w->synced_rev ? w->covered : w->synced_rev;
        if (f->complete > r)
            r = f->complete;
        if (r <= w->sent_id)
            continue; /* nothing new to tell: keepalives go on */
        struct ev *e = jg_ev_control("progress", r, "{\"revision\":%llu}", (unsigned long long)r);
        if (e && jg_watcher_push(w, e, false, wk)) {
            w->sent_id = w->tick_id = r;
            w->last_event_ms = now;
            atomic_fetch_add(&f->eng->progress, 1);
        }
        jg_ev_unref(e);
    }
    if (any && !f->whole && !f->checking && now - f->check_ms >= every / 2 &&
        jg_engine_nats_usable(f->eng))
        check_start(f, now);
}
