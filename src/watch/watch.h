/* watch.h - the watch engine: live changes of a KV or object bucket as
 * Server-Sent Events, resumable by revision with no gap and no duplicate.
 *
 * A watcher is one HTTP event stream.  Its events come from a feed: an
 * ordered push consumer (ADR-17: ack none, flow control, idle heartbeat,
 * recreated from the last stream sequence + 1 after a gap, a missed
 * heartbeat, a reconnect or a rollup that moved it past changes) on the
 * bucket's stream, read by an asynchronous
 * subscription on the library's delivery pool.  A watcher starts on a feed
 * of its own (initial values, history or backlog); once it has caught up it
 * moves to the shared live feed of its bucket, server filter and
 * headers-only setting, so that many watchers cost one consumer.  Filters
 * and prefixes are matched here (nats-server 2.9 has one filter subject per
 * consumer).  Each message is formatted once and queued by reference on
 * every watcher it matches; a watcher's queue is bounded and a reader that
 * falls behind gets an `overflow` event naming the revision to resume from.
 *
 * The engine is an object made by main.c (jg_watch_engine_new) and owns
 * every watcher limit: max_watchers, max_watchers_per_ip and
 * max_watchers_per_token.  One engine thread sends keepalives and
 * re-creates consumers after a reconnect or a lost heartbeat; there is no
 * thread per watcher.  The files of the engine and how they share their
 * objects and locks: src/watch/watch_int.h.
 *
 * This module builds event-stream bytes but no HTTP response: the handler
 * (src/http/h_watch.c) passes jg_watch_read/jg_watch_close to the server. */
#ifndef JG_WATCH_H
#define JG_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

#include "config.h"
#include "status.h"
#include "util.h"

enum jg_watch_kind { JG_WATCH_KV, JG_WATCH_OBJ };

enum jg_watch_include { JG_WATCH_LAST_VALUE, JG_WATCH_ALL_HISTORY, JG_WATCH_UPDATES_ONLY };

/* What a client asked for (validated by the caller).  Strings and arrays
 * are copied by jg_watch_open. */
struct jg_watch_params {
    enum jg_watch_kind kind;
    const char *bucket;
    char **filters;          /* NULL-terminated or NULL: KV patterns / object names */
    char **prefixes;         /* NULL-terminated or NULL: KV key prefixes */
    char *const *scope;      /* NULL: none; else every key must start with one of these
                              * (a token limited to part of the bucket) */
    enum jg_watch_include include;
    bool ignore_deletes;
    bool meta_only;          /* KV only: headers-only consumer, no values */
    bool has_resume;         /* resume after revision `resume` */
    uint64_t resume;
    bool has_start_time;     /* every change stored at or after start_ns */
    int64_t start_ns;
};

struct jg_watch_engine;
struct jg_nats;

/* Makes the engine (nothing starts before the first watcher).  cfg is the
 * running configuration (read at use, so reloads apply), nats the
 * connection, *stopping the process's shutting-down flag; all outlive the
 * engine.  JG_ERR_NOMEM. */
jg_status jg_watch_engine_new(struct jg_config *cfg, struct jg_nats *nats, atomic_bool *stopping,
                              struct jg_watch_engine **ret);
/* Stops the engine thread; call after the HTTP streams ended and before
 * the NATS connection is freed.  Idempotent, NULL-safe. */
void jg_watch_shutdown(struct jg_watch_engine *eng);
/* Frees the engine after jg_watch_shutdown and once every watcher is
 * closed.  NULL-safe. */
void jg_watch_engine_free(struct jg_watch_engine *eng);

/* How the watcher reaches its HTTP stream: wake(ctx) after events were
 * queued for a reader that found the queue empty; release(ctx) once when
 * the watcher is freed.  Both run with no lock of this module held, on
 * whichever thread queued or dropped last: libnats' delivery pool (feed
 * messages), the loop thread (JetStream API replies, jg_watch_close) or
 * the engine thread (keepalives, progress). */
struct jg_watch_sink {
    void (*wake)(void *ctx);
    void (*release)(void *ctx);
    void *ctx;
};

struct jg_watch;

/* The watch is set up (st JG_OK: the stream may start) or failed
 * (JG_ERR_BUCKET_NOT_FOUND, JG_ERR_NATS_UNAVAILABLE, JG_ERR_NATS_TIMEOUT,
 * ...).  Called once, on the loop thread (the reply to the bucket's stream
 * info) or before jg_watch_open returns.  Either way the caller still owns
 * the watcher and ends it with jg_watch_close(). */
typedef void (*jg_watch_ready_fn)(void *ctx, jg_status st);

/* A hold's news (see jg_watch_hold below); why is JG_HOLD_* bits. */
typedef void (*jg_watch_hold_fn)(void *ctx, unsigned why);

/* A watcher's place, counted against the limits until it is given back. */
struct jg_watch_place {
    char addr[64];
    const void *token;       /* counted token (compared, never read), or NULL */
    bool held;
};

/* Takes a place for a new watcher of client address addr and token (each
 * may be NULL; a token is only compared, never read): JG_ERR_NATS_UNAVAILABLE
 * while NATS is not connected (a new watch could not start), else
 * JG_ERR_TOO_MANY_REQUESTS over max_watchers_per_token, max_watchers or
 * max_watchers_per_ip, with *ret_detail a static text for the problem.  On JG_OK the place is taken
 * by jg_watch_open or must be given back with jg_watch_unreserve().  Any
 * thread. */
jg_status jg_watch_reserve(struct jg_watch_engine *eng, const char *addr, const void *token,
                           struct jg_watch_place *place, const char **ret_detail);
/* Gives back a place not taken by jg_watch_open; a no-op after that. */
void jg_watch_unreserve(struct jg_watch_engine *eng, struct jg_watch_place *place);

/* Opens a watcher (taking the reserved place): checks the bucket and its
 * revisions, then starts the consumer and calls ready.  *ret_watch is set
 * before ready can run.  JG_ERR_NOMEM is returned without calling ready
 * (the place is given back).  Loop thread (asserted in debug builds). */
jg_status jg_watch_open(struct jg_watch_engine *eng, struct jg_watch_place *place,
                        const struct jg_watch_params *p, const struct jg_watch_sink *sink,
                        jg_watch_ready_fn ready, void *ctx, struct jg_watch **ret_watch);

/* Copies up to max bytes of queued events into buf.  Returns the count, 0
 * when nothing is queued (sink.wake follows when something is), or -1 when
 * the stream is over (after overflow, an error event or shutdown).  Called
 * by one reader at a time (the loop thread). */
long jg_watch_read(struct jg_watch *w, char *buf, size_t max);

/* The client is gone or the stream ended: stops the watcher, gives back
 * its place, deletes its consumer when no other watcher uses it, and drops
 * the caller's reference (sink.release runs once the last reference is
 * gone).  NULL-safe.  Loop thread (at shutdown, once the loop stopped,
 * the thread that stops the HTTP server). */
void jg_watch_close(struct jg_watch *w);

/* --- held reads (blocking reads) ----------------------------------------
 *
 * A hold is a watcher with no queue, on its bucket's shared live feed of
 * every key (headers only), so that many held reads cost one consumer and
 * no thread.  Its owner is told on the loop thread, through fn(ctx, why):
 * JG_HOLD_CHANGED when a change of a matching key arrived (any change
 * after the hold was set up; the owner reads again and decides), and
 * JG_HOLD_TIMEOUT once the deadline passed, JG_HOLD_GONE when the bucket
 * was deleted or the feed failed.  Several bits may come at once; fn may
 * come several times until jg_watch_close().  Holds count against
 * max_held_reads, and against no watcher limit. */
enum { JG_HOLD_CHANGED = 1, JG_HOLD_TIMEOUT = 2, JG_HOLD_GONE = 4 };

/* Opens a hold for p (kind, bucket, filters, prefixes, scope, and a resume
 * point: then every change after it is told, also one made before the
 * hold, and a resume point the bucket no longer holds tells of its current
 * values; the rest is ignored) until deadline_ms (jg_now_ms() clock): ready(ctx, st) as for
 * jg_watch_open once every change after this point will be told, then
 * fn(ctx, why).  JG_ERR_TOO_MANY_REQUESTS over max_held_reads, JG_ERR_NOMEM;
 * neither calls ready.  End it with jg_watch_close() (which stops fn).  Loop
 * thread. */
jg_status jg_watch_hold(struct jg_watch_engine *eng, const struct jg_watch_params *p,
                        int64_t deadline_ms, jg_watch_hold_fn fn, jg_watch_ready_fn ready,
                        void *ctx, struct jg_watch **ret_watch);
/* The revision of the newest matching change told (0: none yet), so that
 * the owner can tell a read that does not show it yet.  Any thread. */
uint64_t jg_watch_hold_seq(struct jg_watch *w);
/* Holds open now. */
int64_t jg_watch_held_count(struct jg_watch_engine *eng);

/* Prometheus lines: jetgate_held_reads, jetgate_watchers_open, jetgate_watch_consumers,
 * jetgate_watch_events_total, jetgate_watch_overflows_total,
 * jetgate_watch_resets_total, jetgate_watch_consumer_creates_total,
 * jetgate_watch_rollup_restarts_total, jetgate_watch_progress_total,
 * jetgate_watch_resumes_total{path=
 * "consumer"|"shared"|"ring"}.  Any thread. */
void jg_watch_metrics(struct jg_watch_engine *eng, struct jg_buf *b);
/* Watchers open now. */
int64_t jg_watch_open_count(struct jg_watch_engine *eng);

/* --- pieces with no NATS involved (unit-tested) ------------------------- */

/* Does key pass the filters and prefixes (NULL or empty = all)? */
bool jg_watch_key_wanted(char *const *filters, char *const *prefixes, bool exact_names,
                         const char *key);

/* Appends one SSE event: optional "event:" name, optional "id:" (0 = none)
 * and data (one line; must hold no newline). */
jg_status jg_watch_sse_append(struct jg_buf *b, const char *event, uint64_t id, const char *data,
                              size_t len);

#endif
