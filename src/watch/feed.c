/* feed.c - feeds (see watch_int.h): the messages of one consumer handled
 * in order (gaps, heartbeats, flow control, rollups checked after a gap,
 * initial values counted until `synced`) and handed to the feed's
 * watchers; a feed's life cycle. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nats/js.h"
#include "nats/subjects.h"
#include "util.h"

void jg_feed_ref(struct feed *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void jg_feed_unref(struct feed *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    for (size_t i = 0; i < f->ring_n; i++)
        jg_ev_unref(f->ring[(f->ring_start + i) % RING_MAX]);
    for (size_t i = 0; i < f->nheld; i++)
        natsMsg_Destroy(f->held[i].m);
    free(f->held);
    free(f->keyed);
    pthread_mutex_destroy(&f->lock);
    free(f->bucket);
    free(f->key);
    free(f);
}

/* Initial values complete?  Then every watcher gets `synced` (feed->lock). */
void jg_feed_init_check(struct feed *f, struct wakes *wk)
{
    if (f->init_done)
        return;
    if (!(f->init_known && f->init_received >= f->init_expected))
        return;
    f->init_done = true;
    for (struct jg_watch *w = f->watchers; w; w = w->fnext)
        jg_watcher_synced(w, wk);
}

/* nats-server 2.9 moves every consumer of a stream to the first remaining
 * message of a subject it purges, rollups included: a consumer that had
 * not yet delivered an earlier message of another subject skips it.  Every
 * object meta and every KV purge is a rollup.  So a rollup that comes after
 * a gap is checked before it is handled: the stream's first message of the
 * feed's subjects after the last one handled must be the rollup itself
 * (feed->lock held). */
static bool rollup_after_gap(struct feed *f, natsMsg *m, const struct jg_nats_ack *a)
{
    return a->sseq > f->last_seq + 1 && a->sseq != f->rollup_checked &&
           !(f->policy == P_LAST_PER_SUBJECT && !f->init_done) &&
           jg_nats_msg_header(m, "Nats-Rollup") != NULL;
}

struct verify_op {
    struct feed *f;
    uint64_t gen;
    struct jg_nats_req nreq;
};

static void on_verified(void *ctx, jg_status st, natsMsg *msg);

/* Asks for the first message of the feed's subjects after last_seq
 * (feed->lock held).  false when the ask could not be sent. */
static bool verify_start(struct feed *f)
{
    char api[400], body[MAX_SUBJECT + 64];
    struct verify_op *op = calloc(1, sizeof(*op));
    if (!op)
        return false;
    op->f = f;
    op->gen = f->gen;
    jg_subj_js_api("STREAM.MSG.GET", f->stream, NULL, api, sizeof(api));
    snprintf(body, sizeof(body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
             (unsigned long long)(f->last_seq + 1), f->filter_subject);
    jg_feed_ref(f);
    if (jg_js_api(f->eng->nats, &op->nreq, api, body, 0, on_verified, op) != JG_OK) {
        jg_feed_unref(f);
        free(op);
        return false;
    }
    f->verifying = true;
    return true;
}

static bool feed_handle(struct feed *f, natsMsg *msg, const struct jg_nats_ack *a,
                        struct wakes *wk, bool *join);

void jg_feed_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct feed *f = closure;
    struct wakes wk = {0};
    struct jg_nats_ack a;
    bool join = false;
    const char *reply = natsMsg_GetReply(msg);

    pthread_mutex_lock(&f->lock);
    if (sub != f->sub || f->dead)
        goto out;
    int status = jg_nats_msg_status(msg);
    if (status == 100) {
        if (reply && *reply) {
            /* flow control: answer at once (a private feed's slow reader
             * pauses the consumer instead; a shared feed's overflows) */
            natsConnection_Publish(nc, reply, NULL, 0);
        } else if (f->name[0] && !f->creating && !f->paused) {
            /* idle heartbeat: a lost last message shows as a different last
             * consumer sequence and a stream sequence we never handled */
            const char *lc = jg_nats_msg_header(msg, "Nats-Last-Consumer");
            const char *ls = jg_nats_msg_header(msg, "Nats-Last-Stream");
            f->last_msg_ms = jg_now_ms();
            if (lc && ls && strtoull(lc, NULL, 10) != f->cseq &&
                strtoull(ls, NULL, 10) > f->last_seq)
                jg_consumer_restart(f, "heartbeat shows a gap");
        }
        goto out;
    }
    if (status != 0)
        goto out; /* e.g. a consumer deleted: heartbeats stop, the engine re-creates */
    if (!jg_nats_ack_parse(reply, &a) || !f->name[0] ||
        strlen(f->name) != a.consumer_len || memcmp(a.consumer, f->name, a.consumer_len) != 0)
        goto out; /* from a consumer this feed dropped */
    f->last_msg_ms = jg_now_ms();
    if (a.cseq != f->cseq + 1) {
        jg_consumer_restart(f, "consumer sequence gap");
        goto out;
    }
    f->cseq = a.cseq;
    if (feed_handle(f, msg, &a, &wk, &join))
        msg = NULL; /* held */
out:
    pthread_mutex_unlock(&f->lock);
    natsMsg_Destroy(msg);
    jg_wakes_run(&wk);
    if (join)
        jg_ring_try_join(f);
}

/* Handles one delivered message in order (feed->lock held).  Returns true
 * when it was held (a rollup is being checked): the feed owns it then. */
static bool feed_handle(struct feed *f, natsMsg *msg, const struct jg_nats_ack *a,
                        struct wakes *wk, bool *join)
{
    if (f->verifying || rollup_after_gap(f, msg, a)) {
        if ((f->verifying || verify_start(f)) && f->nheld < HELD_MAX) {
            if (f->nheld == f->held_cap) {
                size_t cap = f->held_cap ? f->held_cap * 2 : 16;
                struct held *v = realloc(f->held, cap * sizeof(*v));
                if (!v)
                    goto restart;
                f->held = v;
                f->held_cap = cap;
            }
            f->held[f->nheld++] = (struct held){.m = msg, .a = *a};
            return true;
        }
    restart:
        atomic_fetch_add(&f->eng->rollup_restarts, 1);
        jg_consumer_restart(f, "a rollup may have moved the consumer past changes");
        return false;
    }
    if (!f->init_done)
        f->init_received++;
    if (a->sseq > f->last_seq && a->sseq > f->skip_through) {
        struct ev *e = f->kind == JG_WATCH_KV ? jg_ev_kv(f, msg, a) : jg_ev_obj(f, msg, a);
        if (e) {
            bool taken = true;
            for (struct jg_watch *w = f->watchers; w; w = w->fnext)
                taken &= jg_watcher_deliver(w, e, !f->shared, wk);
            jg_hold_deliver(f, e, wk);
            if (f->shared)
                jg_ring_push(f, e);
            jg_ev_unref(e);
            if (!taken) {
                /* a private feed's reader is behind: stop the consumer and
                 * go on from here once it has read most of its queue */
                jg_consumer_drop(f);
                f->paused = true;
                for (struct jg_watch *w = f->watchers; w; w = w->fnext) {
                    pthread_mutex_lock(&w->lock);
                    w->want_kick = true;
                    pthread_mutex_unlock(&w->lock);
                }
                return false;
            }
        } else {
            for (struct jg_watch *w = f->watchers; w; w = w->fnext)
                if (a->sseq > w->covered)
                    w->covered = a->sseq;
        }
        f->last_seq = a->sseq;
    }
    if (!f->init_done) {
        if (a->pending == 0) {
            f->init_known = true;
            f->init_expected = f->init_received;
        }
        jg_feed_init_check(f, wk);
    }
    *join = !f->shared && f->init_done && a->pending == 0;
    return false;
}

/* The answer about the first message after last_seq: when it comes before
 * the first held message, the consumer skipped it and starts again from
 * last_seq + 1; else the held messages are handled. */
static void on_verified(void *ctx, jg_status st, natsMsg *msg)
{
    struct verify_op *op = ctx;
    struct feed *f = op->f;
    struct wakes wk = {0};
    cJSON *json = NULL;
    int err = 0;
    bool join = false;
    uint64_t found = UINT64_MAX;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &err, NULL, 0);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
    if (st == JG_OK && cJSON_IsNumber(seq))
        found = (uint64_t)seq->valuedouble;
    else if (st == JG_OK || err != 10037) /* 10037: no message found */
        found = 0;
    pthread_mutex_lock(&f->lock);
    if (op->gen != f->gen || f->dead || !f->verifying || f->nheld == 0)
        goto out;
    f->verifying = false;
    if (found < f->held[0].a.sseq) {
        atomic_fetch_add(&f->eng->rollup_restarts, 1);
        jg_consumer_restart(f, found ? "a rollup moved the consumer past changes"
                                     : "a rollup could not be checked");
        goto out;
    }
    f->rollup_checked = f->held[0].a.sseq;
    struct held *v = f->held;
    size_t n = f->nheld, i = 0;
    uint64_t gen = f->gen;
    f->held = NULL;
    f->nheld = f->held_cap = 0;
    for (; i < n && f->gen == gen && !f->dead; i++) {
        bool j = false;
        if (!feed_handle(f, v[i].m, &v[i].a, &wk, &j))
            natsMsg_Destroy(v[i].m);
        join = j;
    }
    for (; i < n; i++)
        natsMsg_Destroy(v[i].m);
    free(v);
out:
    pthread_mutex_unlock(&f->lock);
    cJSON_Delete(json);
    jg_wakes_run(&wk);
    if (join)
        jg_ring_try_join(f);
    jg_feed_unref(f);
    free(op);
}

/* --- feeds: life cycle and sharing ------------------------------------------ */

struct feed *jg_feed_new(struct jg_watch *w)
{
    struct feed *f = calloc(1, sizeof(*f));
    char prefix[MAX_SUBJECT];
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1); /* the engine list's */
    pthread_mutex_init(&f->lock, NULL);
    f->eng = w->eng;
    f->kind = w->kind;
    f->bucket = strdup(w->bucket);
    snprintf(f->stream, sizeof(f->stream), "%s", w->stream);
    f->headers_only = w->meta_only;
    if (w->kind == JG_WATCH_KV) {
        /* one filter and no prefix: the server filters; else (and for
         * holds, which share one feed per bucket) all keys */
        const char *flt = ">";
        if (!w->hold && w->filters && w->filters[0] && !w->filters[1] &&
            (!w->prefixes || !w->prefixes[0]))
            flt = w->filters[0];
        jg_subj_kv_key(w->bucket, flt, f->filter_subject, sizeof(f->filter_subject));
        f->whole = strcmp(flt, ">") == 0;
        f->key_off = jg_subj_kv_prefix(w->bucket, prefix, sizeof(prefix));
    } else {
        jg_subj_obj_meta(w->bucket, ">", f->filter_subject, sizeof(f->filter_subject));
        jg_subj_obj_meta(w->bucket, "", prefix, sizeof(prefix));
        f->key_off = strlen(prefix);
    }
    size_t kl = strlen(f->filter_subject) + 8;
    f->key = malloc(kl);
    if (!f->bucket || !f->key) {
        jg_feed_unref(f);
        return NULL;
    }
    snprintf(f->key, kl, "%d|%d|%s", (int)f->kind, (int)f->headers_only, f->filter_subject);
    f->reconnects_seen = w->eng->reconnects_seen;
    return f;
}

void jg_feed_list_add(struct feed *f)
{
    struct jg_watch_engine *eng = f->eng;
    f->listed = true;
    f->lprev = NULL;
    f->lnext = eng->feeds;
    if (eng->feeds)
        eng->feeds->lprev = f;
    eng->feeds = f;
    eng->nfeeds++;
}

void jg_feed_list_remove(struct feed *f)
{
    struct jg_watch_engine *eng = f->eng;
    if (!f->listed)
        return;
    f->listed = false;
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        eng->feeds = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    eng->nfeeds--;
    jg_feed_unref(f);
}

void jg_feed_attach(struct feed *f, struct jg_watch *w)
{
    w->feed = f;
    w->fprev = NULL;
    if (w->keyed && f->shared &&
        (f->keyed || (f->keyed = calloc(HOLD_SLOTS, sizeof(*f->keyed))))) {
        struct jg_watch **head = &f->keyed[jg_hold_slot(w->filters[0])];
        w->in_table = true;
        w->fnext = *head;
        if (*head)
            (*head)->fprev = w;
        *head = w;
        f->nwatchers++;
        jg_watcher_ref(w);
        return;
    }
    w->fnext = f->watchers;
    if (f->watchers)
        f->watchers->fprev = w;
    f->watchers = w;
    f->nwatchers++;
    jg_watcher_ref(w);
}

/* Detaches w (f->lock held); the caller drops the reference it returns. */
struct jg_watch *jg_feed_detach(struct feed *f, struct jg_watch *w)
{
    if (w->feed != f)
        return NULL;
    if (w->fprev)
        w->fprev->fnext = w->fnext;
    else if (w->in_table)
        f->keyed[jg_hold_slot(w->filters[0])] = w->fnext;
    else
        f->watchers = w->fnext;
    w->in_table = false;
    if (w->fnext)
        w->fnext->fprev = w->fprev;
    w->fnext = w->fprev = NULL;
    w->feed = NULL;
    f->nwatchers--;
    return w;
}

/* A feed nobody watches: consumer gone, off the lists (eng->lock and
 * f->lock held). */
void jg_feed_end(struct feed *f)
{
    f->dead = true;
    jg_consumer_unsubscribe(f);
    f->shared = false;
}

