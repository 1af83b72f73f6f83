/* watch_int.h - what the files of the watch engine share; nothing outside
 * src/watch/ includes it.
 *
 * Files:
 *   engine.c   the engine object: its thread (keepalives, consumer
 *              re-creation), start and shutdown, metrics
 *   limits.c   watcher places: total, per client address, per token
 *   watch.c    opening and closing a watcher (the public entry points)
 *   watcher.c  a watcher's queue of events, delivery, wake-ups
 *   feed.c     a feed: delivered messages handled in order, rollup checks,
 *              initial values, its watchers
 *   consumer.c a feed's ordered push consumer: creation and re-creation
 *   ring.c     shared live feeds: their ring of recent events, joining one
 *   deleted.c  noticing that a watched bucket was deleted
 *   progress.c progress events: the revision a quiet watcher is complete
 *              up to
 *   event.c    events: formatting of changes and control events
 *   hold.c     held reads: a watcher with no queue that tells its owner
 *              on the loop thread that a matching change arrived, that
 *              its deadline passed or that its bucket is gone
 *
 * Objects and locks:
 *   engine  one per process, made by main.c: list of watchers, list of
 *           feeds (some shared), watcher counts, the engine thread.
 *           eng->lock.
 *   feed    one ordered consumer (subscription + server-side consumer) and
 *           the watchers it serves.  feed->lock.
 *   watcher one event stream: a queue of events.  w->lock.
 * Lock order: eng->lock, then a private feed, then a shared feed, then a
 * watcher.  The HTTP server holds its stream lock while it calls
 * jg_watch_read, which takes only w->lock; so sink.wake (which takes the
 * stream lock) is called with none of these locks held.
 *
 * Events are formatted once per feed message into a refcounted struct ev and
 * queued by reference.  A watcher's `covered` is the stream sequence up to
 * which it has been served (queued or filtered out); it only grows, which is
 * what makes moving between feeds gap- and duplicate-free: a feed message
 * at or below `covered` is skipped.
 *
 * Threads: feed messages arrive on libnats' delivery pool; JetStream API
 * replies (consumer created, rollup checked, stream info) on the loop
 * thread; keepalives, re-creations and deletion checks on the engine
 * thread.  Every function here takes the locks it needs unless its comment
 * says which lock its caller holds. */
#ifndef JG_WATCH_INT_H
#define JG_WATCH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "config.h"
#include "nats/conn.h"
#include "watch/watch.h"

#define HB_NS 2000000000LL      /* idle heartbeat asked of the server */
#define HB_MISSED_MS 5000       /* no message nor heartbeat this long: recreate (the
                                 * last resort when a bucket's deletion went unseen) */
#define INACTIVE_NS 5000000000LL /* the server drops a consumer nobody reads this long */
#define TICK_MAX_MS 1000
#define RING_MAX 256            /* recent events a shared feed keeps for joiners */
#define RING_BYTES (1u << 20)
#define ADDR_SLOTS 1024u
#define TOKEN_SLOTS 256
#define MAX_SUBJECT 2400
#define HELD_MAX 8192           /* more held: the consumer starts again instead */
#define HOLD_SLOTS 4096u        /* a shared feed's table of holds of one key */

/* --- events (event.c) ------------------------------------------------------ */

struct ev {
    atomic_int refs;
    uint64_t seq;            /* stream sequence; 0 for control events */
    bool is_del;             /* DEL / PURGE / deleted object */
    char *key;               /* key or object name (NUL-terminated, in buf) */
    size_t len;
    char *data;              /* the SSE bytes (in buf) */
    char buf[];
};

/* --- objects ----------------------------------------------------------------- */

struct qnode {
    struct qnode *next;
    struct ev *ev;
};

struct feed;
struct jg_watch_engine;

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
    struct jg_watch_engine *eng;
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
    const void *token;       /* counted against max_watchers_per_token (never read) */
    struct jg_watch_sink sink;
    jg_watch_ready_fn ready;
    void *ready_ctx;
    struct jg_nats_req info_req;

    /* guarded by the feed's lock (feed itself changes under eng->lock +
     * both feeds' locks) */
    struct feed *feed;
    struct jg_watch *fnext, *fprev;
    uint64_t covered;
    uint64_t last_rev;       /* synced revision hint: bucket's last at open */
    uint64_t synced_rev;     /* the revision `synced` named */
    uint64_t sent_id;        /* the highest event id queued (changes, progress) */
    uint64_t tick_id;        /* sent_id when the engine thread last looked */
    int64_t last_event_ms;   /* since then (or `synced`) no event was queued */
    bool synced;
    bool closed;

    /* guarded by eng->lock */
    struct jg_watch *enext, *eprev;
    bool listed;

    /* held reads (hold.c): hold is set (at open) when the watcher is one;
     * it has no queue then.  hold_fn is cleared by jg_watch_close (loop
     * thread, as the task that calls it). */
    bool hold;
    bool keyed;              /* a hold of one key (no pattern, prefix or scope) */
    bool in_table;           /* in its shared feed's table of keyed holds, not
                              * its watcher list (the feed's lock) */
    jg_watch_hold_fn hold_fn;
    void *hold_ctx;
    int64_t hold_deadline_ms;        /* eng->lock */
    atomic_uint hold_why;            /* JG_HOLD_* bits not yet told */
    atomic_uint_fast64_t hold_seq;   /* the newest matching change told */
    atomic_bool hold_posted;         /* a task is queued on the loop thread */
    struct jg_loop_task hold_task;
};

enum policy { P_LAST_PER_SUBJECT, P_ALL, P_FROM_SEQ, P_FROM_TIME };

/* A delivered message held while a rollup before it is checked. */
struct held {
    natsMsg *m;
    struct jg_nats_ack a;    /* points into m's reply subject */
};

/* What served a resume: a consumer of its own from the resume point, the
 * shared live feed (which had not yet passed the resume point) or the
 * shared feed's ring of recent events. */
enum resume_path { R_CONSUMER, R_SHARED, R_RING, R_PATHS };

struct feed {
    atomic_int refs;
    pthread_mutex_t lock;
    struct jg_watch_engine *eng;
    enum jg_watch_kind kind;
    char *bucket;
    char stream[300];
    char filter_subject[MAX_SUBJECT];
    size_t key_off;          /* length of "$KV.<b>." or "$O.<b>.M.": where keys start */
    bool headers_only;
    bool whole;              /* the filter subject is every subject of the stream */
    char *key;               /* sharing key */
    bool shared;             /* in the engine's shared table (eng->lock) */
    bool listed;             /* in the engine's feed list (eng->lock) */
    struct feed *lnext, *lprev; /* engine feed list (eng->lock) */

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
    size_t nwatchers;        /* with the keyed holds */
    /* shared feeds: holds of one key by key (HOLD_SLOTS chains through
     * fnext/fprev, made on first use), so that a change is offered to the
     * holds of its key only */
    struct jg_watch **keyed;

    /* progress (progress.c): every message of the filter subject up to
     * `complete` was handled; a check of it is in flight; when it was sent */
    uint64_t complete;
    bool checking;
    int64_t check_ms;

    /* shared feeds: recent events, covering (ring_from, last_seq] */
    struct ev *ring[RING_MAX];
    size_t ring_start, ring_n, ring_bytes;
    uint64_t ring_from;
};

struct addr_slot {
    char addr[64];
    int64_t count;
};

struct token_slot {
    const void *token;
    int64_t n;
};

struct stream_check;

struct jg_watch_engine {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started, stop;
    pthread_t thread;
    struct jg_config *cfg;   /* the running configuration (reloads change it) */
    struct jg_nats *nats;
    atomic_bool *stopping;   /* the process is shutting down */
    natsConnection *nc;
    struct jg_watch *watchers;
    struct feed *feeds;
    int64_t open, reserved, nfeeds;
    int64_t held;                 /* held reads open (hold.c) */
    int64_t wake_ms;              /* when the engine thread wakes next (jg_now_ms) */
    struct addr_slot *addrs; /* open hash, ADDR_SLOTS */
    struct token_slot tokens[TOKEN_SLOTS];
    uint64_t reconnects_seen;
    natsSubscription *adv, *cadv; /* stream and consumer deletion advisories */
    natsSubscription *delreq;     /* stream deletion requests */
    struct stream_check *checks;  /* waiting for their time */
    struct ev *keepalive;
    atomic_uint_fast64_t events, overflows, resets, restarts, rollup_restarts, progress;
    atomic_uint_fast64_t resumes[R_PATHS];
};

/* Collected watchers to wake once all locks are dropped. */
struct wakes {
    struct jg_watch **v;
    size_t n, cap;
};

/* --- event.c ------------------------------------------------------------------ */

/* A new event (one reference) holding a copy of key and data; NULL when
 * out of memory. */
struct ev *jg_ev_new(uint64_t seq, const char *key, bool is_del, const char *data, size_t len);
void jg_ev_ref(struct ev *e);
void jg_ev_unref(struct ev *e); /* NULL-safe */
/* A control event (synced, overflow, reset, error, progress): data from a
 * printf format, at most 255 bytes; id 0 = none. */
struct ev *jg_ev_control(const char *event, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The event of a KV message / of an object meta message (revision = the
 * stream sequence); NULL when it is not one or out of memory. */
struct ev *jg_ev_kv(struct feed *f, natsMsg *m, const struct jg_nats_ack *a);
struct ev *jg_ev_obj(struct feed *f, natsMsg *m, const struct jg_nats_ack *a);

/* --- watcher.c ---------------------------------------------------------------- */

void jg_watcher_ref(struct jg_watch *w);
void jg_watcher_unref(struct jg_watch *w); /* NULL-safe; frees on the last */
void jg_wakes_add(struct wakes *wk, struct jg_watch *w);
/* Wakes the collected watchers (no lock held) and empties wk. */
void jg_wakes_run(struct wakes *wk);
/* Queues e (a new reference) unless the watcher ended; force ignores the
 * queue bound.  false when it would go over it. */
bool jg_watcher_push(struct jg_watch *w, struct ev *e, bool force, struct wakes *wk);
/* Ends the stream after what is queued (and e, if given). */
void jg_watcher_end(struct jg_watch *w, struct ev *e, struct wakes *wk);
bool jg_watcher_ended(struct jg_watch *w);
/* Gives e to w unless w has it already (feed->lock held); see watcher.c. */
bool jg_watcher_deliver(struct jg_watch *w, struct ev *e, bool can_pause, struct wakes *wk);
/* Queues `synced` once (feed->lock held). */
void jg_watcher_synced(struct jg_watch *w, struct wakes *wk);
/* Ends every watcher of f with an error event (f->lock held). */
void jg_feed_fail_watchers(struct feed *f, const char *code, struct wakes *wk);

/* --- feed.c -------------------------------------------------------------------- */

void jg_feed_ref(struct feed *f);
void jg_feed_unref(struct feed *f); /* NULL-safe */
/* A private feed for w's bucket, server filter and headers-only setting,
 * with the engine list's reference; NULL when out of memory. */
struct feed *jg_feed_new(struct jg_watch *w);
void jg_feed_list_add(struct feed *f);     /* eng->lock held */
void jg_feed_list_remove(struct feed *f);  /* eng->lock held; drops the list's reference */
void jg_feed_attach(struct feed *f, struct jg_watch *w); /* f->lock held */
/* Detaches w (f->lock held); the caller drops the reference it returns. */
struct jg_watch *jg_feed_detach(struct feed *f, struct jg_watch *w);
/* A feed nobody watches: consumer gone (eng->lock and f->lock held). */
void jg_feed_end(struct feed *f);
/* Initial values complete?  Then every watcher gets `synced` (f->lock). */
void jg_feed_init_check(struct feed *f, struct wakes *wk);
/* The message callback of a feed's subscription (libnats' delivery pool). */
void jg_feed_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);

/* --- consumer.c ------------------------------------------------------------------ */

/* Subscribes (once) and asks for a consumer (f->lock held); on failure
 * need_create stays set for the engine thread. */
void jg_consumer_create(struct feed *f);
/* A new consumer from last_seq + 1 after a gap (f->lock held). */
void jg_consumer_restart(struct feed *f, const char *why);
/* Drops the server-side consumer (f->lock held). */
void jg_consumer_drop(struct feed *f);
/* Drops the consumer and the subscription (f->lock held). */
void jg_consumer_unsubscribe(struct feed *f);

/* --- ring.c ------------------------------------------------------------------------- */

void jg_ring_push(struct feed *f, struct ev *e); /* f->lock held */
/* The live shared feed of key, or NULL (eng->lock held). */
struct feed *jg_ring_shared_find(struct jg_watch_engine *eng, const char *key);
/* A private feed's watcher caught up: move it to the shared feed. */
void jg_ring_try_join(struct feed *p);
/* A resume straight onto the shared feed (eng->lock held); R_CONSUMER when
 * the watcher needs a consumer of its own. */
enum resume_path jg_ring_resume(struct jg_watch *w, const char *key, struct wakes *wk);

/* --- progress.c -------------------------------------------------------------------- */

/* watch_progress in ms (watch_keepalive when unset), 0 = none. */
int64_t jg_progress_every(const struct jg_config *cfg);
/* Progress events due on f's watchers, and the check that moves
 * f->complete (engine thread; eng->lock and f->lock held). */
void jg_progress_tick(struct feed *f, int64_t now, struct wakes *wk);

/* --- hold.c ------------------------------------------------------------------------ */

/* The table slot of a key. */
unsigned jg_hold_slot(const char *key);
/* Offers e to the keyed holds of its key (f->lock held). */
void jg_hold_deliver(struct feed *f, struct ev *e, struct wakes *wk);

/* Tells a hold's owner why (JG_HOLD_* bits), once per batch, on the loop
 * thread (any thread; no lock of w held). */
void jg_hold_tell(struct jg_watch *w, unsigned why);
/* Holds past their deadline are told; ms until the next deadline, or
 * INT64_MAX (engine thread, eng->lock held). */
int64_t jg_hold_expire(struct jg_watch_engine *eng, int64_t now);

/* --- limits.c, deleted.c, engine.c ------------------------------------------------ */

/* Gives back the place of a watcher of addr and token (eng->lock held). */
void jg_limits_put(struct jg_watch_engine *eng, const char *addr, const void *token);
/* Every feed on stream ends its watchers with bucket_not_found (no lock). */
void jg_deleted_stream_gone(struct jg_watch_engine *eng, const char *stream);
/* Subscribes to what tells of deletions (eng->lock held); false on failure. */
bool jg_deleted_follow(struct jg_watch_engine *eng);
void jg_deleted_unfollow(struct jg_watch_engine *eng); /* engine thread stopped */
/* Sends the checks that are due (eng->lock held); ms until the next one. */
int64_t jg_deleted_checks_run(struct jg_watch_engine *eng, int64_t now);
/* Starts the engine thread on first use (eng->lock held). */
jg_status jg_engine_start(struct jg_watch_engine *eng);
bool jg_engine_nats_usable(struct jg_watch_engine *eng);

#endif
