/* watch.c - the watch engine (see watch.h).
 *
 * Objects and locks:
 *   engine  one per process: list of watchers, list of feeds, table of
 *           shared feeds, per-address counts, the engine thread.  eng.lock.
 *   feed    one ordered consumer (subscription + server-side consumer) and
 *           the watchers it serves.  feed->lock.
 *   watcher one event stream: a queue of events.  w->lock.
 * Lock order: eng.lock, then a private feed, then a shared feed, then a
 * watcher.  The HTTP server holds its stream lock while it calls
 * jg_watch_read, which takes only w->lock; so sink.wake (which takes the
 * stream lock) is called with none of these locks held.
 *
 * Events are formatted once per feed message into a refcounted struct ev and
 * queued by reference.  A watcher's `covered` is the stream sequence up to
 * which it has been served (queued or filtered out); it only grows, which is
 * what makes moving between feeds gap- and duplicate-free: a feed message
 * at or below `covered` is skipped. */
#include "autoconfig.h"
#include "watch/watch.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <nats/nats.h>

#include "auth.h"
#include "kv/kv.h"
#include "log.h"
#include "nats/conn.h"
#include "nats/js.h"

#define HB_NS 2000000000LL      /* idle heartbeat asked of the server */
#define HB_MISSED_MS 5000       /* no message nor heartbeat this long: recreate (the
                                 * last resort when a bucket's deletion went unseen) */
#define INACTIVE_NS 5000000000LL /* the server drops a consumer nobody reads this long */
#define CREATE_TIMEOUT_MS 5000
#define TICK_MAX_MS 1000
#define RING_MAX 256            /* recent events a shared feed keeps for joiners */
#define RING_BYTES (1u << 20)
#define ADDR_SLOTS 1024u
#define MAX_SUBJECT 2400

/* --- events ---------------------------------------------------------------- */

struct ev {
    atomic_int refs;
    uint64_t seq;            /* stream sequence; 0 for control events */
    bool is_del;             /* DEL / PURGE / deleted object */
    char *key;               /* key or object name (NUL-terminated, in buf) */
    size_t len;
    char *data;              /* the SSE bytes (in buf) */
    char buf[];
};

static struct ev *ev_new(uint64_t seq, const char *key, bool is_del, const char *data, size_t len)
{
    size_t kl = key ? strlen(key) : 0;
    struct ev *e = malloc(sizeof(*e) + kl + 1 + len);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->seq = seq;
    e->is_del = is_del;
    e->key = e->buf;
    if (kl)
        memcpy(e->key, key, kl);
    e->key[kl] = '\0';
    e->data = e->buf + kl + 1;
    memcpy(e->data, data, len);
    e->len = len;
    return e;
}

static void ev_ref(struct ev *e)
{
    atomic_fetch_add(&e->refs, 1);
}

static void ev_unref(struct ev *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

/* --- objects --------------------------------------------------------------- */

struct qnode {
    struct qnode *next;
    struct ev *ev;
};

struct feed;

struct jg_watch {
    atomic_int refs;
    pthread_mutex_t lock;    /* queue and the flags next to it */
    struct qnode *head, *tail;
    size_t head_off, qbytes;
    bool ended;              /* nothing more is queued; -1 after the queue */
    bool waiting;            /* the reader found the queue empty */
    bool want_kick;          /* its feed paused: tell the engine when drained */
    int64_t last_queued_ms;

    /* immutable after open */
    struct jg_app *app;
    enum jg_watch_kind kind;
    char *bucket;
    char stream[300];
    char **filters, **prefixes;
    char **scope;            /* the token's prefixes (jg_auth_scope) or NULL */
    enum jg_watch_include include;
    bool ignore_deletes, meta_only, has_resume, has_start_time;
    uint64_t resume;
    int64_t start_ns;
    char addr[64];
    struct jg_watch_sink sink;
    jg_watch_ready_fn ready;
    void *ready_ctx;
    struct jg_nats_req info_req;

    /* guarded by the feed's lock (feed itself changes under eng.lock +
     * both feeds' locks) */
    struct feed *feed;
    struct jg_watch *fnext, *fprev;
    uint64_t covered;
    uint64_t last_rev;       /* synced revision hint: bucket's last at open */
    bool synced;
    bool closed;

    /* guarded by eng.lock */
    struct jg_watch *enext, *eprev;
    bool listed;
};

enum policy { P_LAST_PER_SUBJECT, P_ALL, P_FROM_SEQ, P_FROM_TIME };

/* A delivered message held while a rollup before it is checked. */
struct held {
    natsMsg *m;
    struct jg_nats_ack a;    /* points into m's reply subject */
};
#define HELD_MAX 8192        /* more held: the consumer starts again instead */

/* What served a resume: a consumer of its own from the resume point, the
 * shared live feed (which had not yet passed the resume point) or the
 * shared feed's ring of recent events. */
enum resume_path { R_CONSUMER, R_SHARED, R_RING };
static const char *const resume_path_name[] = {"consumer", "shared", "ring"};

struct create_op;

struct feed {
    atomic_int refs;
    pthread_mutex_t lock;
    struct jg_app *app;
    enum jg_watch_kind kind;
    char *bucket;
    char stream[300];
    char filter_subject[MAX_SUBJECT];
    bool headers_only;
    char *key;               /* sharing key */
    bool shared;             /* in the engine's shared table (eng.lock) */
    bool listed;             /* in the engine's feed list (eng.lock) */
    struct feed *lnext, *lprev; /* engine feed list (eng.lock) */

    /* consumer: one subscription (deliver subject) for the feed's life;
     * each consumer created for it has a new name */
    natsSubscription *sub;
    char inbox[64];
    char name[48];           /* server-side consumer name ("" = none) */
    uint64_t gen;
    uint64_t last_seq;       /* every message up to here was handled */
    uint64_t cseq;           /* last consumer sequence seen */
    int64_t last_msg_ms;
    bool need_create;        /* (re)create when NATS allows */
    bool creating;           /* a create request is in flight */
    bool dead;               /* torn down or bucket gone */
    bool paused;             /* private feed stopped until its reader catches up */
    uint64_t reconnects_seen;
    enum policy policy;      /* for the next create */
    int64_t start_ns;

    /* initial values (private feeds) */
    bool init_done;
    bool init_known;
    uint64_t init_expected, init_received;
    uint64_t skip_through;   /* last_per_subject re-created mid-way: skip <= */
    uint64_t rollup_checked; /* the rollup at this sequence was checked */
    bool verifying;          /* a rollup is being checked: messages are held */
    struct held *held;       /* in order, nheld of them */
    size_t nheld, held_cap;

    struct jg_watch *watchers;
    size_t nwatchers;

    /* shared feeds: recent events, covering (ring_from, last_seq] */
    struct ev *ring[RING_MAX];
    size_t ring_start, ring_n, ring_bytes;
    uint64_t ring_from;
};

struct addr_slot {
    char addr[64];
    int64_t count;
};

/* A client asked to delete a stream that feeds read: STREAM.INFO asks,
 * CHECK_TRIES at most, until the stream is gone (its feeds end) or still
 * there after the last.  Waiting in eng.checks (eng.lock) or in flight
 * (owned by the request). */
#define CHECK_TRIES 6
static const int check_delay_ms[CHECK_TRIES] = {0, 50, 200, 500, 1200, 2500};

struct stream_check {
    struct stream_check *next;
    char stream[300];
    int tries;               /* asks sent */
    int64_t due_ms;
    struct jg_nats_req nreq;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started, stop;
    pthread_t thread;
    struct jg_app *app;
    natsConnection *nc;
    struct jg_watch *watchers;
    struct feed *feeds;
    int64_t open, reserved, nfeeds;
    struct addr_slot *addrs; /* open hash, ADDR_SLOTS */
    uint64_t reconnects_seen;
    natsSubscription *adv, *cadv; /* stream and consumer deletion advisories */
    natsSubscription *delreq;     /* stream deletion requests */
    struct stream_check *checks;  /* waiting for their time */
    struct ev *keepalive;
    atomic_uint_fast64_t events, overflows, resets, restarts, rollup_restarts;
    atomic_uint_fast64_t resumes[3]; /* by enum resume_path */
} eng = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Collected watchers to wake once all locks are dropped. */
struct wakes {
    struct jg_watch **v;
    size_t n, cap;
};

static void watch_ref(struct jg_watch *w)
{
    atomic_fetch_add(&w->refs, 1);
}


static void watch_unref(struct jg_watch *w)
{
    if (!w || atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    struct qnode *q = w->head;
    while (q) {
        struct qnode *next = q->next;
        ev_unref(q->ev);
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

static void wakes_add(struct wakes *wk, struct jg_watch *w)
{
    if (wk->n == wk->cap) {
        size_t cap = wk->cap ? wk->cap * 2 : 16;
        struct jg_watch **v = realloc(wk->v, cap * sizeof(*v));
        if (!v)
            return; /* the next keepalive wakes it */
        wk->v = v;
        wk->cap = cap;
    }
    watch_ref(w);
    wk->v[wk->n++] = w;
}

static void wakes_run(struct wakes *wk)
{
    for (size_t i = 0; i < wk->n; i++) {
        struct jg_watch *w = wk->v[i];
        if (w->sink.wake)
            w->sink.wake(w->sink.ctx);
        watch_unref(w);
    }
    free(wk->v);
    wk->v = NULL;
    wk->n = wk->cap = 0;
}

static void feed_ref(struct feed *f)
{
    atomic_fetch_add(&f->refs, 1);
}

static void feed_unref(struct feed *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    for (size_t i = 0; i < f->ring_n; i++)
        ev_unref(f->ring[(f->ring_start + i) % RING_MAX]);
    for (size_t i = 0; i < f->nheld; i++)
        natsMsg_Destroy(f->held[i].m);
    free(f->held);
    pthread_mutex_destroy(&f->lock);
    free(f->bucket);
    free(f->key);
    free(f);
}

/* --- pure helpers ---------------------------------------------------------- */

bool jg_watch_key_wanted(char *const *filters, char *const *prefixes, bool exact_names,
                         const char *key)
{
    bool f_ok = !filters || !filters[0], p_ok = !prefixes || !prefixes[0];
    for (size_t i = 0; !f_ok && filters[i]; i++)
        f_ok = exact_names ? strcmp(filters[i], key) == 0 : jg_kv_filter_match(filters[i], key);
    for (size_t i = 0; !p_ok && prefixes[i]; i++)
        p_ok = strncmp(key, prefixes[i], strlen(prefixes[i])) == 0;
    return f_ok && p_ok;
}

jg_status jg_watch_sse_append(struct jg_buf *b, const char *event, uint64_t id, const char *data,
                              size_t len)
{
    jg_status st = JG_OK;
    if (event)
        st = jg_buf_printf(b, "event: %s\n", event);
    if (st == JG_OK && id)
        st = jg_buf_printf(b, "id: %llu\n", (unsigned long long)id);
    if (st == JG_OK)
        st = jg_buf_puts(b, "data: ");
    if (st == JG_OK)
        st = jg_buf_append(b, data, len);
    if (st == JG_OK)
        st = jg_buf_puts(b, "\n\n");
    return st;
}

static struct ev *control_ev(const char *event, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct ev *control_ev(const char *event, uint64_t id, const char *fmt, ...)
{
    char data[256];
    struct jg_buf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(data, sizeof(data), fmt, ap);
    va_end(ap);
    jg_buf_init(&b);
    struct ev *e = NULL;
    if (jg_watch_sse_append(&b, event, id, data, strlen(data)) == JG_OK)
        e = ev_new(0, NULL, false, b.data, b.len);
    jg_buf_done(&b);
    return e;
}

/* --- watcher queue (w->lock) ----------------------------------------------- */

/* Queues e (a new reference) unless the watcher ended.  Returns false when
 * it would go over the queue bound. */
static bool q_push(struct jg_watch *w, struct ev *e, bool force, struct wakes *wk)
{
    bool ok = true;
    pthread_mutex_lock(&w->lock);
    if (w->ended)
        goto out;
    if (!force && w->qbytes + e->len > (size_t)w->app->cfg.watch_queue_bytes) {
        ok = false;
        goto out;
    }
    struct qnode *q = malloc(sizeof(*q));
    if (!q) {
        ok = false;
        goto out;
    }
    ev_ref(e);
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
            wakes_add(wk, w);
    }
out:
    pthread_mutex_unlock(&w->lock);
    return ok;
}

/* Ends the stream after what is queued (and e, if given). */
static void q_end(struct jg_watch *w, struct ev *e, struct wakes *wk)
{
    if (e)
        q_push(w, e, true, wk);
    pthread_mutex_lock(&w->lock);
    w->ended = true;
    if (w->waiting) {
        w->waiting = false;
        wakes_add(wk, w);
    }
    pthread_mutex_unlock(&w->lock);
}

static bool q_ended(struct jg_watch *w)
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
            ev_unref(q->ev);
            free(q);
        }
    }
    long ret = (long)n;
    if (n == 0) {
        if (w->ended || atomic_load(&w->app->shutting_down))
            ret = -1;
        else
            w->waiting = true;
    }
    bool kick = w->want_kick && w->qbytes <= (size_t)w->app->cfg.watch_queue_bytes / 4;
    if (kick)
        w->want_kick = false;
    pthread_mutex_unlock(&w->lock);
    if (kick) {
        pthread_mutex_lock(&eng.lock);
        pthread_cond_signal(&eng.cond);
        pthread_mutex_unlock(&eng.lock);
    }
    return ret;
}

/* --- formatting ------------------------------------------------------------- */

static const char *msg_key(struct feed *f, const char *subj)
{
    /* "$KV.<b>." or "$O.<b>.M." */
    size_t pl = strlen(f->bucket) + (f->kind == JG_WATCH_KV ? 5 : 6);
    if (strlen(subj) <= pl)
        return NULL;
    return subj + pl;
}

/* Builds the event for a KV message. */
static struct ev *kv_event(struct feed *f, natsMsg *m, const struct jg_nats_ack *a)
{
    const char *key = msg_key(f, natsMsg_GetSubject(m));
    if (!key)
        return NULL;
    struct jg_kv_entry e = {0};
    const char *op = jg_nats_msg_header(m, "KV-Operation");
    e.bucket = f->bucket;
    e.key = (char *)key;
    e.revision = a->sseq;
    e.delta = a->pending;
    e.created_ns = a->ts_ns;
    e.op = op && strcmp(op, "DEL") == 0 ? JG_KV_DEL
           : op && strcmp(op, "PURGE") == 0 ? JG_KV_PURGE : JG_KV_PUT;
    e.value = natsMsg_GetData(m);
    e.value_len = (size_t)natsMsg_GetDataLength(m);
    cJSON *o = jg_kv_entry_json(&e);
    if (!o)
        return NULL;
    if (f->headers_only) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "value");
        const char *sz = jg_nats_msg_header(m, "Nats-Msg-Size");
        if (sz && e.op == JG_KV_PUT)
            cJSON_AddNumberToObject(o, "length", strtod(sz, NULL));
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!json)
        return NULL;
    struct jg_buf b;
    jg_buf_init(&b);
    struct ev *ev = NULL;
    if (jg_watch_sse_append(&b, NULL, a->sseq, json, strlen(json)) == JG_OK)
        ev = ev_new(a->sseq, key, e.op != JG_KV_PUT, b.data, b.len);
    jg_buf_done(&b);
    free(json);
    return ev;
}

/* Builds the event for an object meta message: the stored ObjectInfo with
 * mtime from the stored time and revision = stream sequence. */
static struct ev *obj_event(struct feed *f, natsMsg *m, const struct jg_nats_ack *a)
{
    cJSON *o = cJSON_ParseWithLength(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    char when[40];
    jg_time_rfc3339(a->ts_ns, when);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "mtime");
    cJSON_AddStringToObject(o, "mtime", when);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "revision");
    cJSON_AddNumberToObject(o, "revision", (double)a->sseq);
    if (!cJSON_GetObjectItemCaseSensitive(o, "bucket"))
        cJSON_AddStringToObject(o, "bucket", f->bucket);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    bool deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted"));
    char *json = cJSON_PrintUnformatted(o);
    struct ev *ev = NULL;
    if (json) {
        struct jg_buf b;
        jg_buf_init(&b);
        if (jg_watch_sse_append(&b, NULL, a->sseq, json, strlen(json)) == JG_OK)
            ev = ev_new(a->sseq, cJSON_IsString(name) ? name->valuestring : "", deleted, b.data,
                        b.len);
        jg_buf_done(&b);
        free(json);
    }
    cJSON_Delete(o);
    return ev;
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
static bool deliver(struct jg_watch *w, struct ev *e, bool can_pause, struct wakes *wk)
{
    if (w->closed || e->seq <= w->covered)
        return true;
    if (watcher_wants(w, e)) {
        if (!q_push(w, e, false, wk)) {
            if (can_pause)
                return false;
            /* cannot keep up: tell it where to resume and end */
            if (!q_ended(w)) {
                atomic_fetch_add(&eng.overflows, 1);
                struct ev *o = control_ev("overflow", w->covered, "{\"resumeRevision\":%llu}",
                                          (unsigned long long)w->covered);
                if (o)
                    q_end(w, o, wk);
                else
                    q_end(w, NULL, wk);
                ev_unref(o);
            }
            w->closed = true;
            return true;
        }
        atomic_fetch_add(&eng.events, 1);
    }
    w->covered = e->seq;
    return true;
}

static void send_synced(struct jg_watch *w, struct wakes *wk)
{
    if (w->synced || w->closed)
        return;
    w->synced = true;
    uint64_t rev = w->covered > w->last_rev ? w->covered : w->last_rev;
    struct ev *e = control_ev("synced", 0, "{\"revision\":%llu}", (unsigned long long)rev);
    if (e)
        q_push(w, e, true, wk);
    ev_unref(e);
}

/* Ends every watcher of f with an error event (bucket gone). */
static void feed_fail_watchers(struct feed *f, const char *code, struct wakes *wk)
{
    for (struct jg_watch *w = f->watchers; w; w = w->fnext) {
        if (w->closed)
            continue;
        struct ev *e = control_ev("error", 0, "{\"code\":\"%s\"}", code);
        q_end(w, e, wk);
        ev_unref(e);
        w->closed = true;
    }
}

static void ring_push(struct feed *f, struct ev *e)
{
    while (f->ring_n && (f->ring_n == RING_MAX || f->ring_bytes + e->len > RING_BYTES)) {
        struct ev *old = f->ring[f->ring_start];
        f->ring_from = old->seq;
        f->ring_bytes -= old->len;
        ev_unref(old);
        f->ring_start = (f->ring_start + 1) % RING_MAX;
        f->ring_n--;
    }
    if (e->len > RING_BYTES) {
        f->ring_from = e->seq;
        return;
    }
    ev_ref(e);
    f->ring[(f->ring_start + f->ring_n) % RING_MAX] = e;
    f->ring_n++;
    f->ring_bytes += e->len;
}

/* --- consumers ------------------------------------------------------------ */

struct create_op {
    struct feed *f;
    uint64_t gen;
    char name[48];
    struct jg_nats_req nreq;
};

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
static void try_join(struct feed *f);

/* One per subscription: its message callback's closure, freed (with the
 * subscription) once libnats says no callback will follow. */
struct subctx {
    struct feed *f;
    natsSubscription *sub;
};

static void on_sub_complete(void *closure)
{
    struct subctx *sc = closure;
    natsSubscription_Destroy(sc->sub);
    feed_unref(sc->f);
    free(sc);
}

static bool nats_usable(struct jg_app *app)
{
    return !atomic_load(&app->shutting_down) && jg_nats_connected(app->nats);
}

static void publish_delete(struct feed *f, const char *name)
{
    char api[400];
    if (!name[0] || atomic_load(&f->app->shutting_down))
        return;
    snprintf(api, sizeof(api), "$JS.API.CONSUMER.DELETE.%s.%s", f->stream, name);
    jg_nats_publish(f->app->nats, api, NULL, 0);
}

/* Drops the server-side consumer; messages it still sends are ignored by
 * name (feed->lock). */
static void feed_drop_consumer(struct feed *f)
{
    f->gen++;
    publish_delete(f, f->name);
    f->name[0] = '\0';
    f->verifying = false;
    for (size_t i = 0; i < f->nheld; i++)
        natsMsg_Destroy(f->held[i].m);
    f->nheld = 0;
}

/* Drops the consumer and the subscription (feed->lock). */
static void feed_unsubscribe(struct feed *f)
{
    feed_drop_consumer(f);
    if (f->sub) {
        /* destroyed by on_sub_complete once its callbacks are over */
        natsSubscription_Unsubscribe(f->sub);
        f->sub = NULL;
    }
}

static char *consumer_config(struct feed *f, const char *deliver, const char *name)
{
    cJSON *req = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(req, "config");
    char when[40];
    cJSON_AddStringToObject(req, "stream_name", f->stream);
    cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddStringToObject(cfg, "deliver_subject", deliver);
    switch (f->policy) {
    case P_LAST_PER_SUBJECT:
        cJSON_AddStringToObject(cfg, "deliver_policy", "last_per_subject");
        break;
    case P_ALL:
        cJSON_AddStringToObject(cfg, "deliver_policy", "all");
        break;
    case P_FROM_SEQ:
        cJSON_AddStringToObject(cfg, "deliver_policy", "by_start_sequence");
        cJSON_AddNumberToObject(cfg, "opt_start_seq", (double)(f->last_seq + 1));
        break;
    case P_FROM_TIME:
        jg_time_rfc3339(f->start_ns, when);
        cJSON_AddStringToObject(cfg, "deliver_policy", "by_start_time");
        cJSON_AddStringToObject(cfg, "opt_start_time", when);
        break;
    }
    cJSON_AddStringToObject(cfg, "ack_policy", "none");
    cJSON_AddNumberToObject(cfg, "max_deliver", 1);
    cJSON_AddStringToObject(cfg, "filter_subject", f->filter_subject);
    cJSON_AddStringToObject(cfg, "replay_policy", "instant");
    cJSON_AddBoolToObject(cfg, "flow_control", true);
    cJSON_AddNumberToObject(cfg, "idle_heartbeat", (double)HB_NS);
    if (f->headers_only)
        cJSON_AddBoolToObject(cfg, "headers_only", true);
    cJSON_AddBoolToObject(cfg, "mem_storage", true);
    cJSON_AddNumberToObject(cfg, "num_replicas", 1);
    cJSON_AddNumberToObject(cfg, "inactive_threshold", (double)INACTIVE_NS);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return body;
}

static void init_check_done(struct feed *f, struct wakes *wk);
static void stream_gone(const char *stream);

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct create_op *op = ctx;
    struct feed *f = op->f;
    struct wakes wk = {0};
    cJSON *json = NULL;
    int err = 0;
    char desc[256] = "";
    bool join = false, gone = false;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &err, desc, sizeof(desc));
    pthread_mutex_lock(&f->lock);
    if (op->gen != f->gen || f->dead) {
        /* stale: the feed moved on (or ended) meanwhile */
        if (st == JG_OK)
            publish_delete(f, op->name);
        goto out;
    }
    f->creating = false;
    if (st != JG_OK) {
        jg_debug("watch: consumer on '%s' not created: %s", f->stream,
                 *desc ? desc : jg_status_title(st));
        if (st == JG_ERR_BUCKET_NOT_FOUND || err == 10059) {
            f->dead = true;
            feed_fail_watchers(f, "bucket_not_found", &wk);
            feed_unsubscribe(f);
            gone = true;
        } else {
            /* timeout, disconnect, ...: the engine thread tries again */
            feed_drop_consumer(f);
            f->need_create = true;
        }
        goto out;
    }
    f->last_msg_ms = jg_now_ms();
    if (!f->init_done && !f->init_known) {
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(json, "num_pending");
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(json, "delivered");
        const cJSON *cs = dl ? cJSON_GetObjectItemCaseSensitive(dl, "consumer_seq") : NULL;
        f->init_expected = (cJSON_IsNumber(np) ? (uint64_t)np->valuedouble : 0) +
                           (cJSON_IsNumber(cs) ? (uint64_t)cs->valuedouble : 0);
        f->init_known = true;
        bool was = f->init_done;
        init_check_done(f, &wk);
        join = !was && f->init_done;
    }
out:
    pthread_mutex_unlock(&f->lock);
    cJSON_Delete(json);
    wakes_run(&wk);
    if (join)
        try_join(f);
    if (gone)
        stream_gone(f->stream); /* the other feeds of the bucket may have heard nothing */
    feed_unref(f);
    free(op);
}

/* Subscribes a fresh inbox and asks for a consumer delivering to it
 * (feed->lock held).  On failure need_create stays set for the engine. */
static void feed_create(struct feed *f)
{
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    struct create_op *op = NULL;
    struct subctx *sc = NULL;
    char *body = NULL;
    char api[400];

    f->need_create = true;
    if (f->dead || f->creating || !nats_usable(f->app))
        return;
    if (natsInbox_Create(&inbox) != NATS_OK)
        goto out;
    op = calloc(1, sizeof(*op));
    if (!op)
        goto out;
    if (!f->sub) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            goto out;
        if (natsConnection_Subscribe(&sub, jg_nats_conn(f->app->nats), (const char *)inbox,
                                     on_msg, f) != NATS_OK)
            goto out;
        feed_ref(f); /* held by the subscription until it completes */
        sc->f = f;
        sc->sub = sub;
        if (natsSubscription_SetOnCompleteCB(sub, on_sub_complete, sc) != NATS_OK) {
            /* cannot know when callbacks stop: keep both forever */
            jg_warn("watch: no completion callback for a subscription");
        }
        sc = NULL;
        natsSubscription_SetPendingLimits(sub, -1, -1);
        f->sub = sub;
        snprintf(f->inbox, sizeof(f->inbox), "%s", (const char *)inbox);
    }
    f->gen++;
    f->paused = false;
    f->cseq = 0;
    f->init_received = 0;
    f->init_known = false;
    snprintf(op->name, sizeof(op->name), "jgw_%s", (const char *)inbox + 7);
    snprintf(f->name, sizeof(f->name), "%s", op->name);
    op->gen = f->gen;
    op->f = f;
    body = consumer_config(f, f->inbox, op->name);
    if (!body)
        goto out;
    snprintf(api, sizeof(api), "CONSUMER.CREATE.%s.%s", f->stream, op->name);
    feed_ref(f);
    f->creating = true;
    f->last_msg_ms = jg_now_ms();
    jg_status st = jg_js_api(f->app->nats, &op->nreq, api, body, 0, on_created, op);
    if (st != JG_OK) {
        f->creating = false;
        feed_unref(f);
        goto out;
    }
    op = NULL;
    f->need_create = false;
    atomic_fetch_add(&eng.restarts, 1);
out:
    if (f->need_create)
        feed_drop_consumer(f);
    free(body);
    free(op);
    free(sc);
    natsInbox_Destroy(inbox);
}

/* Gap, lost heartbeat, reconnect: a new consumer from last_seq + 1
 * (feed->lock held). */
static void feed_restart_locked(struct feed *f, const char *why)
{
    if (f->dead)
        return;
    jg_debug("watch: consumer on '%s' restarts after %llu (%s)", f->stream,
             (unsigned long long)f->last_seq, why);
    feed_drop_consumer(f);
    f->creating = false;
    if (f->policy == P_LAST_PER_SUBJECT && !f->init_done) {
        /* the last values again, minus those already handled */
        f->skip_through = f->last_seq;
    } else if (f->policy != P_FROM_TIME || f->last_seq > 0 || f->init_done) {
        f->policy = P_FROM_SEQ;
    }
    feed_create(f);
}


/* Initial values complete?  Then every watcher gets `synced` (feed->lock). */
static void init_check_done(struct feed *f, struct wakes *wk)
{
    if (f->init_done)
        return;
    if (!(f->init_known && f->init_received >= f->init_expected))
        return;
    f->init_done = true;
    for (struct jg_watch *w = f->watchers; w; w = w->fnext)
        send_synced(w, wk);
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
    snprintf(api, sizeof(api), "STREAM.MSG.GET.%s", f->stream);
    snprintf(body, sizeof(body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
             (unsigned long long)(f->last_seq + 1), f->filter_subject);
    feed_ref(f);
    if (jg_js_api(f->app->nats, &op->nreq, api, body, 0, on_verified, op) != JG_OK) {
        feed_unref(f);
        free(op);
        return false;
    }
    f->verifying = true;
    return true;
}

static bool feed_handle(struct feed *f, natsMsg *msg, const struct jg_nats_ack *a,
                        struct wakes *wk, bool *join);

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
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
                feed_restart_locked(f, "heartbeat shows a gap");
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
        feed_restart_locked(f, "consumer sequence gap");
        goto out;
    }
    f->cseq = a.cseq;
    if (feed_handle(f, msg, &a, &wk, &join))
        msg = NULL; /* held */
out:
    pthread_mutex_unlock(&f->lock);
    natsMsg_Destroy(msg);
    wakes_run(&wk);
    if (join)
        try_join(f);
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
        atomic_fetch_add(&eng.rollup_restarts, 1);
        feed_restart_locked(f, "a rollup may have moved the consumer past changes");
        return false;
    }
    if (!f->init_done)
        f->init_received++;
    if (a->sseq > f->last_seq && a->sseq > f->skip_through) {
        struct ev *e = f->kind == JG_WATCH_KV ? kv_event(f, msg, a) : obj_event(f, msg, a);
        if (e) {
            bool taken = true;
            for (struct jg_watch *w = f->watchers; w; w = w->fnext)
                taken &= deliver(w, e, !f->shared, wk);
            if (f->shared)
                ring_push(f, e);
            ev_unref(e);
            if (!taken) {
                /* a private feed's reader is behind: stop the consumer and
                 * go on from here once it has read most of its queue */
                feed_drop_consumer(f);
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
        init_check_done(f, wk);
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
        atomic_fetch_add(&eng.rollup_restarts, 1);
        feed_restart_locked(f, found ? "a rollup moved the consumer past changes"
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
    wakes_run(&wk);
    if (join)
        try_join(f);
    feed_unref(f);
    free(op);
}

/* --- feeds: life cycle and sharing ------------------------------------------ */

static struct feed *feed_new(struct jg_watch *w)
{
    struct feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1); /* the engine list's */
    pthread_mutex_init(&f->lock, NULL);
    f->app = w->app;
    f->kind = w->kind;
    f->bucket = strdup(w->bucket);
    snprintf(f->stream, sizeof(f->stream), "%s", w->stream);
    f->headers_only = w->meta_only;
    if (w->kind == JG_WATCH_KV) {
        /* one filter and no prefix: the server filters; else all keys */
        const char *flt = ">";
        if (w->filters && w->filters[0] && !w->filters[1] && (!w->prefixes || !w->prefixes[0]))
            flt = w->filters[0];
        snprintf(f->filter_subject, sizeof(f->filter_subject), "$KV.%s.%s", w->bucket, flt);
    } else {
        snprintf(f->filter_subject, sizeof(f->filter_subject), "$O.%s.M.>", w->bucket);
    }
    size_t kl = strlen(f->filter_subject) + 8;
    f->key = malloc(kl);
    if (!f->bucket || !f->key) {
        feed_unref(f);
        return NULL;
    }
    snprintf(f->key, kl, "%d|%d|%s", (int)f->kind, (int)f->headers_only, f->filter_subject);
    f->reconnects_seen = eng.reconnects_seen;
    return f;
}

static struct feed *shared_find(const char *key)
{
    for (struct feed *f = eng.feeds; f; f = f->lnext)
        if (f->shared && !f->dead && strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

static void feed_list_add(struct feed *f)
{
    f->listed = true;
    f->lprev = NULL;
    f->lnext = eng.feeds;
    if (eng.feeds)
        eng.feeds->lprev = f;
    eng.feeds = f;
    eng.nfeeds++;
}

/* eng.lock held; drops the list's reference. */
static void feed_list_remove(struct feed *f)
{
    if (!f->listed)
        return;
    f->listed = false;
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        eng.feeds = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    eng.nfeeds--;
    feed_unref(f);
}

static void feed_attach(struct feed *f, struct jg_watch *w)
{
    w->feed = f;
    w->fprev = NULL;
    w->fnext = f->watchers;
    if (f->watchers)
        f->watchers->fprev = w;
    f->watchers = w;
    f->nwatchers++;
    watch_ref(w);
}

/* Detaches w (f->lock held); the caller drops the reference it returns. */
static struct jg_watch *feed_detach(struct feed *f, struct jg_watch *w)
{
    if (w->feed != f)
        return NULL;
    if (w->fprev)
        w->fprev->fnext = w->fnext;
    else
        f->watchers = w->fnext;
    if (w->fnext)
        w->fnext->fprev = w->fprev;
    w->fnext = w->fprev = NULL;
    w->feed = NULL;
    f->nwatchers--;
    return w;
}

/* A feed nobody watches: consumer gone, off the lists (eng.lock and
 * f->lock held). */
static void feed_end(struct feed *f)
{
    f->dead = true;
    feed_unsubscribe(f);
    f->shared = false;
}


/* A private feed's watcher caught up: move it to the shared live feed, or
 * make this feed the shared one. */
static void try_join(struct feed *p)
{
    struct wakes wk = {0};
    struct jg_watch *drop = NULL;

    feed_ref(p);
    pthread_mutex_lock(&eng.lock);
    pthread_mutex_lock(&p->lock);
    if (p->dead || p->shared || p->paused || p->verifying || p->nwatchers != 1 || !p->init_done)
        goto out;
    struct jg_watch *w = p->watchers;
    if (w->closed)
        goto out;
    struct feed *s = shared_find(p->key);
    if (!s) {
        p->shared = true;
        p->ring_from = p->last_seq;
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    bool ok = false;
    if (w->covered >= s->last_seq) {
        ok = true;
    } else if (s->ring_from <= w->covered) {
        /* replay what the shared feed delivered after w's point */
        for (size_t i = 0; i < s->ring_n; i++)
            deliver(w, s->ring[(s->ring_start + i) % RING_MAX], false, &wk);
        if (w->covered < s->last_seq)
            w->covered = s->last_seq;
        ok = !w->closed;
    }
    if (ok) {
        drop = feed_detach(p, w);
        feed_attach(s, w);
        w->synced = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (ok) {
        feed_end(p);
        feed_list_remove(p);
    }
out:
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&eng.lock);
    feed_unref(p);
    watch_unref(drop);
    wakes_run(&wk);
}

/* --- per-address counts (eng.lock) ---------------------------------------- */

static unsigned addr_hash(const char *a)
{
    uint32_t h = 2166136261u;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h & (ADDR_SLOTS - 1);
}

/* The slot of addr, or where it would go; NULL when the table is full. */
static struct addr_slot *addr_slot(const char *addr, bool insert)
{
    if (!eng.addrs && !(eng.addrs = calloc(ADDR_SLOTS, sizeof(*eng.addrs))))
        return NULL;
    unsigned h = addr_hash(addr);
    struct addr_slot *free_slot = NULL;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        struct addr_slot *s = &eng.addrs[(h + i) & (ADDR_SLOTS - 1)];
        if (s->addr[0] && strcmp(s->addr, addr) == 0)
            return s;
        if (!s->addr[0] && !free_slot)
            free_slot = s;
        if (!s->addr[0] && s->count == 0)
            break; /* never used: addr is not further on */
    }
    if (!insert || !free_slot)
        return NULL;
    snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
    free_slot->count = 0;
    return free_slot;
}

/* Slots emptied keep count -1 as a tombstone so that probing goes on. */
static void addr_put(const char *addr)
{
    struct addr_slot *s = addr && *addr ? addr_slot(addr, false) : NULL;
    if (s && --s->count <= 0) {
        s->addr[0] = '\0';
        s->count = -1;
    }
}

jg_status jg_watch_reserve(struct jg_app *app, const char *addr)
{
    jg_status st = JG_OK;
    pthread_mutex_lock(&eng.lock);
    if (eng.open + eng.reserved >= app->cfg.max_watchers) {
        st = JG_ERR_TOO_MANY_REQUESTS;
        goto out;
    }
    if (addr && *addr) {
        struct addr_slot *s = addr_slot(addr, true);
        if (s && s->count < 0)
            s->count = 0;
        if (s && app->cfg.max_watchers_per_ip > 0 && s->count >= app->cfg.max_watchers_per_ip) {
            if (s->count == 0)
                addr_put(addr);
            st = JG_ERR_TOO_MANY_REQUESTS;
            goto out;
        }
        if (s)
            s->count++;
    }
    eng.reserved++;
out:
    pthread_mutex_unlock(&eng.lock);
    return st;
}

void jg_watch_unreserve(struct jg_app *app, const char *addr)
{
    (void)app;
    pthread_mutex_lock(&eng.lock);
    eng.reserved--;
    addr_put(addr);
    pthread_mutex_unlock(&eng.lock);
}

/* --- engine thread ---------------------------------------------------------- */

/* The stream is gone: every feed on it ends its watchers with
 * bucket_not_found (no lock held). */
static void stream_gone(const char *stream)
{
    struct wakes wk = {0};
    pthread_mutex_lock(&eng.lock);
    for (struct feed *f = eng.feeds; f; f = f->lnext) {
        pthread_mutex_lock(&f->lock);
        if (!f->dead && strcmp(f->stream, stream) == 0) {
            f->dead = true;
            feed_fail_watchers(f, "bucket_not_found", &wk);
            feed_unsubscribe(f);
            f->shared = false;
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng.lock);
    wakes_run(&wk);
}

/* Best effort only: nats-server 2.9 queues this advisory after closing the
 * stream's send loop and often drops it. */
static void on_stream_deleted(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                              void *closure)
{
    const char *subj = natsMsg_GetSubject(msg);
    const char *stream = strrchr(subj, '.');
    (void)nc;
    (void)sub;
    (void)closure;
    if (stream) {
        jg_debug("watch: stream '%s' deleted", stream + 1);
        stream_gone(stream + 1);
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
    /* $JS.EVENT.ADVISORY.CONSUMER.DELETED.<stream>.<consumer> */
    static const char pre[] = "$JS.EVENT.ADVISORY.CONSUMER.DELETED.";
    const char *subj = natsMsg_GetSubject(msg), *dot;
    char stream[300];
    (void)nc;
    (void)sub;
    (void)closure;
    if (strncmp(subj, pre, sizeof(pre) - 1) != 0)
        goto out;
    subj += sizeof(pre) - 1;
    dot = strchr(subj, '.');
    if (!dot || (size_t)(dot - subj) >= sizeof(stream) || !dot[1])
        goto out;
    memcpy(stream, subj, (size_t)(dot - subj));
    stream[dot - subj] = '\0';
    pthread_mutex_lock(&eng.lock);
    for (struct feed *f = eng.feeds; f; f = f->lnext) {
        pthread_mutex_lock(&f->lock);
        if (!f->dead && f->name[0] && strcmp(f->name, dot + 1) == 0 &&
            strcmp(f->stream, stream) == 0) {
            f->need_create = true;
            feed_restart_locked(f, "consumer deleted by the server");
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng.lock);
out:
    natsMsg_Destroy(msg);
}

/* A feed not yet ended reads stream (eng.lock held)? */
static bool stream_watched(const char *stream)
{
    for (struct feed *f = eng.feeds; f; f = f->lnext)
        if (!f->dead && strcmp(f->stream, stream) == 0)
            return true;
    return false;
}

/* Queues c to be sent check_delay_ms[c->tries] from now (eng.lock held). */
static void check_queue(struct stream_check *c)
{
    c->due_ms = jg_now_ms() + check_delay_ms[c->tries];
    c->next = eng.checks;
    eng.checks = c;
    pthread_cond_signal(&eng.cond);
}

static void on_check(void *ctx, jg_status st, natsMsg *msg)
{
    struct stream_check *c = ctx;
    cJSON *json = NULL;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, NULL, 0);
    else
        natsMsg_Destroy(msg);
    cJSON_Delete(json);
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        jg_debug("watch: stream '%s' deleted", c->stream);
        stream_gone(c->stream);
        free(c);
        return;
    }
    pthread_mutex_lock(&eng.lock);
    if (!eng.stop && c->tries < CHECK_TRIES && stream_watched(c->stream)) {
        check_queue(c);
        c = NULL;
    }
    pthread_mutex_unlock(&eng.lock);
    free(c);
}

/* Sends the checks that are due (eng.lock held); returns the time until the
 * next one, or TICK_MAX_MS. */
static int64_t checks_run(int64_t now)
{
    int64_t next = TICK_MAX_MS;
    struct stream_check **pp = &eng.checks;
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
        snprintf(api, sizeof(api), "STREAM.INFO.%s", c->stream);
        c->tries++;
        if (!nats_usable(eng.app) ||
            jg_js_api(eng.app->nats, &c->nreq, api, NULL, 0, on_check, c) != JG_OK)
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
    static const char pre[] = "$JS.API.STREAM.DELETE.";
    const char *subj = natsMsg_GetSubject(msg);
    (void)nc;
    (void)sub;
    (void)closure;
    if (strncmp(subj, pre, sizeof(pre) - 1) == 0 && subj[sizeof(pre) - 1]) {
        subj += sizeof(pre) - 1;
        pthread_mutex_lock(&eng.lock);
        bool dup = false;
        for (struct stream_check *c = eng.checks; c && !dup; c = c->next)
            if (strcmp(c->stream, subj) == 0) {
                c->tries = 0; /* asked again: start over */
                c->due_ms = jg_now_ms();
                dup = true;
            }
        struct stream_check *c = NULL;
        if (!dup && !eng.stop && strlen(subj) < sizeof(c->stream) && stream_watched(subj) &&
            (c = calloc(1, sizeof(*c)))) {
            snprintf(c->stream, sizeof(c->stream), "%s", subj);
            check_queue(c);
        }
        pthread_cond_signal(&eng.cond);
        pthread_mutex_unlock(&eng.lock);
    }
    natsMsg_Destroy(msg);
}

static void engine_tick(struct wakes *wk)
{
    struct jg_app *app = eng.app;
    int64_t now = jg_now_ms(), ka = app->cfg.watch_keepalive_ms;
    struct jg_nats_stats ns;
    size_t low = (size_t)app->cfg.watch_queue_bytes / 4;

    for (struct jg_watch *w = eng.watchers; w; w = w->enext) {
        pthread_mutex_lock(&w->lock);
        bool due = !w->ended && now - w->last_queued_ms >= ka;
        pthread_mutex_unlock(&w->lock);
        if (due)
            q_push(w, eng.keepalive, true, wk);
    }
    if (atomic_load(&app->shutting_down))
        return;
    bool connected = jg_nats_connected(app->nats), restart_all = false;
    jg_nats_get_stats(app->nats, &ns);
    if (connected && ns.reconnects != eng.reconnects_seen) {
        eng.reconnects_seen = ns.reconnects;
        restart_all = true;
    }
    for (struct feed *f = eng.feeds; f; f = f->lnext) {
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
                feed_restart_locked(f, "reader caught up");
        } else if (restart_all && connected) {
            feed_restart_locked(f, "reconnect");
        } else if (f->need_create && !f->creating) {
            if (connected)
                feed_create(f);
        } else if (!f->creating && connected && now - f->last_msg_ms > HB_MISSED_MS) {
            feed_restart_locked(f, "missed heartbeats");
        }
        pthread_mutex_unlock(&f->lock);
    }
}

static void *engine_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&eng.lock);
    while (!eng.stop) {
        struct wakes wk = {0};
        engine_tick(&wk);
        pthread_mutex_unlock(&eng.lock);
        wakes_run(&wk);
        pthread_mutex_lock(&eng.lock);
        if (eng.stop)
            break;
        int64_t tick = eng.app->cfg.watch_keepalive_ms / 2;
        if (tick > TICK_MAX_MS)
            tick = TICK_MAX_MS;
        if (tick < 20)
            tick = 20;
        int64_t until_check = checks_run(jg_now_ms());
        if (until_check < tick)
            tick = until_check < 1 ? 1 : until_check;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += tick / 1000;
        ts.tv_nsec += (tick % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&eng.cond, &eng.lock, &ts);
    }
    pthread_mutex_unlock(&eng.lock);
    return NULL;
}

/* eng.lock held. */
static jg_status engine_start(struct jg_app *app)
{
    if (eng.started)
        return JG_OK;
    eng.app = app;
    eng.nc = jg_nats_conn(app->nats);
    eng.keepalive = ev_new(0, NULL, false, ": keepalive\n\n", 13);
    if (!eng.keepalive)
        return JG_ERR_NOMEM;
    struct jg_nats_stats ns;
    jg_nats_get_stats(app->nats, &ns);
    eng.reconnects_seen = ns.reconnects;
    if (natsConnection_Subscribe(&eng.adv, eng.nc, "$JS.EVENT.ADVISORY.STREAM.DELETED.*",
                                 on_stream_deleted, NULL) != NATS_OK ||
        natsConnection_Subscribe(&eng.cadv, eng.nc, "$JS.EVENT.ADVISORY.CONSUMER.DELETED.*.*",
                                 on_consumer_deleted, NULL) != NATS_OK ||
        natsConnection_Subscribe(&eng.delreq, eng.nc, "$JS.API.STREAM.DELETE.*",
                                 on_stream_delete_request, NULL) != NATS_OK)
        jg_warn("watch: cannot follow stream deletions; watchers of a deleted bucket end after "
                "a missed heartbeat");
    if (pthread_create(&eng.thread, NULL, engine_main, NULL) != 0) {
        ev_unref(eng.keepalive);
        eng.keepalive = NULL;
        return JG_ERR_INTERNAL;
    }
    eng.started = true;
    return JG_OK;
}

void jg_watch_shutdown(void)
{
    pthread_mutex_lock(&eng.lock);
    bool started = eng.started;
    eng.stop = true;
    eng.started = false;
    pthread_cond_signal(&eng.cond);
    pthread_mutex_unlock(&eng.lock);
    if (!started)
        return;
    pthread_join(eng.thread, NULL);
    natsSubscription *subs[] = {eng.adv, eng.cadv, eng.delreq};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (subs[i]) {
            natsSubscription_Unsubscribe(subs[i]);
            natsSubscription_Destroy(subs[i]);
        }
    }
    eng.adv = eng.cadv = eng.delreq = NULL;
    pthread_mutex_lock(&eng.lock);
    while (eng.checks) {
        struct stream_check *c = eng.checks;
        eng.checks = c->next;
        free(c);
    }
    pthread_mutex_unlock(&eng.lock);
}

/* --- open and close ---------------------------------------------------------- */


/* A resuming watcher (covered = resume point) goes straight onto the shared
 * live feed of key when that feed has not passed the resume point or still
 * holds everything after it in its ring: no consumer of its own.  Returns
 * the path taken, or R_CONSUMER when it needs a consumer (eng.lock held). */
static enum resume_path resume_from_shared(struct jg_watch *w, const char *key, struct wakes *wk)
{
    struct feed *s = shared_find(key);
    enum resume_path path = R_CONSUMER;
    if (!s)
        return R_CONSUMER;
    pthread_mutex_lock(&s->lock);
    if (w->covered >= s->last_seq) {
        path = R_SHARED;
    } else if (s->ring_from <= w->covered) {
        for (size_t i = 0; i < s->ring_n; i++)
            deliver(w, s->ring[(s->ring_start + i) % RING_MAX], false, wk);
        if (w->covered < s->last_seq)
            w->covered = s->last_seq;
        path = R_RING;
    }
    if (path != R_CONSUMER) {
        feed_attach(s, w);
        send_synced(w, wk);
    }
    pthread_mutex_unlock(&s->lock);
    return path;
}

static void on_info(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_watch *w = ctx;
    struct wakes wk = {0};
    cJSON *json = NULL;
    char desc[256] = "";
    uint64_t first = 0, last = 0;
    struct feed *f = NULL;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK)
        goto out;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(json, "state");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(state, "first_seq");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(state, "last_seq");
    first = cJSON_IsNumber(fs) ? (uint64_t)fs->valuedouble : 0;
    last = cJSON_IsNumber(ls) ? (uint64_t)ls->valuedouble : 0;
    f = feed_new(w);
    if (!f) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    w->last_rev = last;
    if (w->has_resume && (w->resume > last || (first > 0 && w->resume + 1 < first))) {
        /* the changes right after N are gone (or N is from another life of
         * the bucket): start over with the current values */
        struct ev *e = control_ev("reset", 0,
                                  "{\"resumeRevision\":%llu,\"firstRevision\":%llu,"
                                  "\"lastRevision\":%llu}",
                                  (unsigned long long)w->resume, (unsigned long long)first,
                                  (unsigned long long)last);
        if (e)
            q_push(w, e, true, NULL);
        ev_unref(e);
        atomic_fetch_add(&eng.resets, 1);
        w->has_resume = false;
        w->has_start_time = false;
        w->include = JG_WATCH_LAST_VALUE;
    }
    if (w->has_resume) {
        f->policy = P_FROM_SEQ;
        f->last_seq = w->covered = w->resume;
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
    pthread_mutex_lock(&eng.lock);
    if (w->has_resume) {
        enum resume_path path = resume_from_shared(w, f->key, &wk);
        atomic_fetch_add(&eng.resumes[path], 1);
        if (path != R_CONSUMER) {
            pthread_mutex_unlock(&eng.lock);
            feed_unref(f);
            goto out;
        }
    }
    feed_list_add(f);
    pthread_mutex_lock(&f->lock);
    feed_attach(f, w);
    if (f->init_done)
        send_synced(w, &wk);
    pthread_mutex_unlock(&f->lock);
    pthread_mutex_unlock(&eng.lock);
    feed_ref(f);
    if (f->init_done)
        try_join(f); /* live only: join the shared feed at once if there is one */
    pthread_mutex_lock(&f->lock);
    if (!f->dead)
        feed_create(f);
    pthread_mutex_unlock(&f->lock);
    feed_unref(f);
out:
    cJSON_Delete(json);
    if (st != JG_OK)
        jg_debug("watch: '%s' not opened: %s", w->bucket, *desc ? desc : jg_status_title(st));
    w->ready(w->ready_ctx, st);
    wakes_run(&wk);
    watch_unref(w);
}

jg_status jg_watch_open(struct jg_app *app, const struct jg_watch_params *p, const char *addr,
                        const struct jg_watch_sink *sink, jg_watch_ready_fn ready, void *ctx,
                        struct jg_watch **ret_watch)
{
    struct jg_watch *w = calloc(1, sizeof(*w));
    jg_status st = JG_ERR_NOMEM;
    char api[400];

    if (!w)
        goto fail;
    atomic_init(&w->refs, 1);
    pthread_mutex_init(&w->lock, NULL);
    w->app = app;
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
    w->include = p->include;
    w->ignore_deletes = p->ignore_deletes;
    w->meta_only = p->kind == JG_WATCH_KV && p->meta_only;
    w->has_resume = p->has_resume;
    w->resume = p->resume;
    w->has_start_time = p->has_start_time;
    w->start_ns = p->start_ns;
    snprintf(w->addr, sizeof(w->addr), "%s", addr ? addr : "");
    w->sink = *sink;
    w->ready = ready;
    w->ready_ctx = ctx;
    w->last_queued_ms = jg_now_ms();
    struct ev *retry = ev_new(0, NULL, false, "retry: 2000\n\n", 13);
    if (!retry)
        goto fail;
    q_push(w, retry, true, NULL);
    ev_unref(retry);

    pthread_mutex_lock(&eng.lock);
    st = engine_start(app);
    if (st == JG_OK) {
        eng.reserved--;
        eng.open++;
        w->listed = true;
        w->enext = eng.watchers;
        if (eng.watchers)
            eng.watchers->eprev = w;
        eng.watchers = w;
    }
    pthread_mutex_unlock(&eng.lock);
    if (st != JG_OK)
        goto fail;
    *ret_watch = w;
    watch_ref(w); /* for on_info */
    snprintf(api, sizeof(api), "STREAM.INFO.%s", w->stream);
    st = jg_js_api(app->nats, &w->info_req, api, NULL, 0, on_info, w);
    if (st != JG_OK) {
        ready(ctx, st);
        watch_unref(w);
    }
    return JG_OK;
fail:
    jg_watch_unreserve(app, addr);
    if (w) {
        w->sink.release = NULL;
        watch_unref(w);
    }
    return st;
}

void jg_watch_close(struct jg_watch *w)
{
    struct jg_watch *drop = NULL;
    struct feed *f;
    if (!w)
        return;
    pthread_mutex_lock(&eng.lock);
    if (w->listed) {
        w->listed = false;
        if (w->eprev)
            w->eprev->enext = w->enext;
        else
            eng.watchers = w->enext;
        if (w->enext)
            w->enext->eprev = w->eprev;
        eng.open--;
        addr_put(w->addr);
    }
    f = w->feed;
    if (f) {
        feed_ref(f);
        pthread_mutex_lock(&f->lock);
        w->closed = true;
        drop = feed_detach(f, w);
        if (f->nwatchers == 0) {
            feed_end(f);
            feed_list_remove(f);
        }
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&eng.lock);
    pthread_mutex_lock(&w->lock);
    w->ended = true;
    pthread_mutex_unlock(&w->lock);
    feed_unref(f);
    watch_unref(drop);
    watch_unref(w);
}

/* --- metrics --------------------------------------------------------------- */

int64_t jg_watch_open_count(void)
{
    pthread_mutex_lock(&eng.lock);
    int64_t n = eng.open;
    pthread_mutex_unlock(&eng.lock);
    return n;
}

void jg_watch_metrics(struct jg_buf *b)
{
    pthread_mutex_lock(&eng.lock);
    int64_t open = eng.open, feeds = eng.nfeeds;
    pthread_mutex_unlock(&eng.lock);
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
                  "# HELP jetgate_watch_resumes_total Watch resumes by what served the changes "
                  "after the resume point (resets are counted apart).\n"
                  "# TYPE jetgate_watch_resumes_total counter\n",
                  (long long)open, (long long)feeds,
                  (unsigned long long)atomic_load(&eng.events),
                  (unsigned long long)atomic_load(&eng.overflows),
                  (unsigned long long)atomic_load(&eng.resets),
                  (unsigned long long)atomic_load(&eng.restarts),
                  (unsigned long long)atomic_load(&eng.rollup_restarts));
    for (size_t i = 0; i < sizeof(resume_path_name) / sizeof(resume_path_name[0]); i++)
        jg_buf_printf(b, "jetgate_watch_resumes_total{path=\"%s\"} %llu\n", resume_path_name[i],
                      (unsigned long long)atomic_load(&eng.resumes[i]));
}
