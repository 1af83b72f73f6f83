/* conn.h - the NATS side of jetgate: one connection, read on jetgate's
 * event loop (loop.h), and one reply subscription that multiplexes every
 * request.
 *
 * A request is published with a reply subject "<inbox>.<id>"; all replies
 * arrive on one wildcard subscription drained by the loop thread, which
 * also expires requests whose deadline passed and fails requests cut off by
 * a disconnect.  Every callback of this module therefore runs on the loop
 * thread (which also runs the HTTP server), one at a time: callbacks may issue further
 * requests (to chain steps) but must stay short and never block.
 *
 * No call of this module blocks on the network except jg_nats_new() setup
 * (which does not wait for a connection) and jg_nats_shutdown() (flush).
 *
 * Never call a blocking libnats function (natsConnection_Request*, Flush,
 * js_*, kvStore_*, NextMsg with a timeout) on the loop thread: its reply
 * can only be read by the thread it blocks.  Use jg_nats_request, or a
 * worker thread. */
#ifndef JG_NATS_H
#define JG_NATS_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "config.h"
#include "loop.h"
#include "status.h"

struct jg_nats;

/* Reply callback.  st is JG_OK with msg set (ownership passes to the
 * callee: natsMsg_Destroy it), or an error with msg NULL:
 * JG_ERR_NATS_TIMEOUT (no reply in time; for writes the outcome is unknown),
 * JG_ERR_NATS_UNAVAILABLE (connection lost before a read was answered). */
typedef void (*jg_nats_reply_fn)(void *ctx, jg_status st, natsMsg *msg);

enum {
    JG_NATS_WRITE = 1 << 0,  /* refuse at once while disconnected (jg_nats_request_leader:
                              * wait); outcome unknown on loss */
    JG_NATS_STREAM = 1 << 1, /* many replies (consumer delivery) until jg_nats_cancel() */
};

/* Storage for one in-flight request, owned by the caller (usually embedded
 * in an operation).  Must stay valid until the final callback: for plain
 * requests the one callback; for JG_NATS_STREAM until jg_nats_cancel()
 * returns or a callback with st != JG_OK. */
struct jg_nats_req {
    uint64_t id;
    int64_t deadline_ms;
    int64_t timeout_ms;
    int flags;
    jg_nats_reply_fn fn;
    void *ctx;
    struct jg_nats_req *prev, *next; /* deadline list, sorted */
    struct jg_nats_req *hnext;       /* id hash chain */
    char reply[96];
    /* jg_nats_request_leader() only (NULL otherwise): */
    const char *stream;              /* the stream whose leader answers; the caller's */
    natsMsg *again;                  /* the request, published again; the module's */
    bool held;                       /* waits for a leader (or the connection) */
    unsigned sends, refusals;        /* times published, and answered "no leader" */
};

struct jg_loop;

/* Creates the connection (connecting in the background, retrying forever)
 * on loop, whose thread must be started for anything to move.  cfg and
 * loop must outlive the returned object. */
jg_status jg_nats_new(const struct jg_config *cfg, struct jg_loop *loop,
                      struct jg_nats **ret_nats);

/* Fails every pending request (on the loop thread), flushes what was
 * published and closes the connection.  Call while the loop runs. */
void jg_nats_shutdown(struct jg_nats *n);

/* Frees everything; after jg_nats_shutdown() and after the loop thread
 * stopped.  NULL-safe. */
void jg_nats_free(struct jg_nats *n);

bool jg_nats_connected(struct jg_nats *n);

/* Largest message the server accepts (0 while never connected). */
int64_t jg_nats_max_payload(struct jg_nats *n);

/* Counters for /metrics and /v1/info. */
struct jg_nats_stats {
    uint64_t reconnects;
    uint64_t timeouts;
    uint64_t inflight;
    uint64_t side_requests; /* requests sent through another server (jg_nats_request_via) */
    uint64_t resends;       /* requests published again for a new leader (jg_nats_request_leader) */
    uint64_t elections;     /* stream leader elections seen (advisories) */
    int side_servers;     /* servers reachable besides the main connection's */
};
void jg_nats_get_stats(struct jg_nats *n, struct jg_nats_stats *ret);
/* Connected URL, server id and server version into caller buffers ("" if
 * unknown or not connected). */
void jg_nats_server_info(struct jg_nats *n, char *url, size_t urllen, char *id, size_t idlen,
                         char *version, size_t versionlen);

/* Runs fn(ctx) on the loop thread (see jg_loop_post): how work done on a
 * worker thread (a scan) hands its result back.  t is the caller's until
 * fn runs. */
void jg_nats_post(struct jg_nats *n, struct jg_loop_task *t, void (*fn)(void *), void *ctx);

/* true on the loop thread. */
bool jg_nats_on_loop_thread(struct jg_nats *n);

/* In a debug build (--enable-asan), aborts with the place when not on the
 * loop thread: where a function must run there.  Nothing otherwise. */
#ifdef JG_CHECKED
#define JG_ASSERT_LOOP_THREAD(n)                                                                   \
    do {                                                                                           \
        if (!jg_nats_on_loop_thread(n))                                                            \
            jg_nats_thread_violation(__FILE__, __LINE__);                                          \
    } while (0)
#else
#define JG_ASSERT_LOOP_THREAD(n) ((void)(n))
#endif
void jg_nats_thread_violation(const char *file, int line);

/* Called on the loop thread after every reconnect (e.g. to drop caches). */
void jg_nats_on_reconnect(struct jg_nats *n, void (*fn)(void *), void *ctx);

/* Publishes data to subject with a reply subject routed back to fn.
 * hdrs: NULL or a NULL-terminated array of name, value pairs.
 * timeout_ms <= 0 takes the configured request_timeout.
 * Returns JG_OK when the request is in flight (fn will be called exactly
 * once, or for JG_NATS_STREAM until cancelled/failed), else an error and fn
 * is never called: JG_ERR_NATS_UNAVAILABLE while disconnected (nothing was
 * handed to the client library), JG_ERR_TOO_MANY_REQUESTS over max_inflight. */
jg_status jg_nats_request(struct jg_nats *n, struct jg_nats_req *r, const char *subject,
                          const char *const *hdrs, const void *data, size_t len, int flags,
                          int64_t timeout_ms, jg_nats_reply_fn fn, void *ctx);

/* As jg_nats_request, but published on the server hop (1, 2, ...) places
 * along among those jetgate reaches besides the one its main connection
 * is on (round robin; hop 0 is jg_nats_request).  nats-server answers a
 * direct get from the stream replica on the publisher's own server, so
 * this is how a read asks one particular replica.  With several URLs in
 * 'nats', jetgate keeps a publish-only connection to each; the reply comes
 * back over the cluster's routes to the main connection's subscription.
 * With no other server reachable (one URL, or the others down) the
 * request goes through the main connection.  For reads only. */
/* How many replicas a read asks, one server after the other, when the
 * stream leader lacks what it wants (see W1 in src/nats/msgget.c): each
 * replica of a 3-node cluster once. */
#define JG_NATS_REPLICA_TRIES 3

jg_status jg_nats_request_via(struct jg_nats *n, int hop, struct jg_nats_req *r,
                              const char *subject, const void *data, size_t len,
                              int64_t timeout_ms, jg_nats_reply_fn fn, void *ctx);

/* Registers a JG_NATS_STREAM sink without publishing anything: r->reply is
 * then a subject to hand to the server (e.g. a consumer's deliver
 * subject).  Same failure rules as jg_nats_request. */
jg_status jg_nats_sink_open(struct jg_nats *n, struct jg_nats_req *r, int64_t timeout_ms,
                            jg_nats_reply_fn fn, void *ctx);

/* A name for a JetStream consumer whose deliveries go to the sink r: a
 * consumer delivers each message with its stream subject (only status
 * messages come on the reply subject), so the multiplexer routes a message
 * not addressed to its inbox by the consumer name in its $JS.ACK reply
 * subject, "<prefix>_<connection token>_<id of r>".  prefix: letters,
 * digits, '-' or '_'; out: at least 40 bytes plus the prefix. */
/* --- failover: requests sent again once a stream leader is known ----------
 * (conn_resend.c)  While the leader of a replicated stream is elected
 * (nats-server 2.9.10 takes 4 to 9 s after a leader dies) a JetStream
 * publish or leader read goes unanswered or is refused ("no responders", a
 * 503 error reply).  A request made with jg_nats_request_leader() is then
 * held and published again, with the same reply subject:
 *   - at once when the stream's $JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED
 *     advisory arrives (every request of the stream, answered or not);
 *   - when the connection comes back after a loss (it is not failed by the
 *     disconnect, and while disconnected it is held rather than refused);
 *   - every JG_NATS_RESEND_POLL_MS while it is refused (an advisory can be
 *     lost while the connection moves to another server);
 * always within its one deadline.  fn gets the first answer that is not a
 * refusal, or at the deadline JG_ERR_NATS_UNAVAILABLE when every send was
 * refused (nothing stored: 503 + Retry-After) or JG_ERR_NATS_TIMEOUT when a
 * send went unanswered (outcome unknown).
 *
 * Only for requests that may be stored twice without harm: reads, and
 * writes that carry a Nats-Msg-Id (the stream drops a second copy within
 * its duplicate window and answers with the first one's sequence; see
 * jg_nats_msg_id()).  stream must stay valid until the final callback.
 * Returns as jg_nats_request, but never JG_ERR_NATS_UNAVAILABLE for a
 * disconnect. */
#define JG_NATS_RESEND_POLL_MS 250
jg_status jg_nats_request_leader(struct jg_nats *n, struct jg_nats_req *r, const char *stream,
                                 const char *subject, const char *const *hdrs, const void *data,
                                 size_t len, int flags, int64_t timeout_ms, jg_nats_reply_fn fn,
                                 void *ctx);

/* A Nats-Msg-Id unique to this process and call ("jg-<nuid>-<n>"), for a
 * write sent with jg_nats_request_leader() whose client gave none.  out:
 * at least 48 bytes.  Any thread. */
void jg_nats_msg_id(struct jg_nats *n, char *out, size_t len);

void jg_nats_sink_consumer_name(struct jg_nats *n, const struct jg_nats_req *r,
                                const char *prefix, char *out, size_t len);

/* Publishes with a reply subject of the caller's choosing (e.g. a pull
 * request answered to a sink's r->reply).  JG_ERR_NATS_UNAVAILABLE when
 * disconnected or not handed to the library. */
jg_status jg_nats_publish_reply(struct jg_nats *n, const char *subject, const char *reply,
                                const void *data, size_t len);

/* Ends a JG_NATS_STREAM request; call only from a callback of this module
 * (the loop thread).  No callback follows. */
void jg_nats_cancel(struct jg_nats *n, struct jg_nats_req *r);

/* Pushes a stream request's deadline to now + its timeout (progress seen);
 * the caller may set r->timeout_ms first (e.g. longer while it expects
 * nothing). */
void jg_nats_touch(struct jg_nats *n, struct jg_nats_req *r);

/* The underlying connection, for the few blocking calls that run on
 * worker threads (never on the loop thread). */
natsConnection *jg_nats_conn(struct jg_nats *n);

/* Publishes without a reply (e.g. deleting a consumer).  Best effort. */
void jg_nats_publish(struct jg_nats *n, const char *subject, const void *data, size_t len);

/* Message helpers. */
/* A JetStream delivery's reply subject,
 * "$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>",
 * or with a domain "$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.
 * <5 numbers>[.<token>]".  Pure; the names point into reply (not
 * terminated).  false for anything else, or a zero stream or consumer
 * sequence. */
struct jg_nats_ack {
    const char *stream, *consumer;
    size_t stream_len, consumer_len;
    uint64_t delivered, sseq, cseq, pending;
    int64_t ts_ns;
};
bool jg_nats_ack_parse(const char *reply, struct jg_nats_ack *ret);
/* natsMsg_Destroy() for messages of the hot path: on the loop thread the
 * message is destroyed a few milliseconds later in a batch (at most 64
 * messages or 256 KiB held), elsewhere at once.  NULL-safe. */
void jg_nats_msg_release(natsMsg *msg);
/* Status code of a status message ("NATS/1.0 404 ..."): 404, 408, 503...;
 * 0 for a normal message. */
int jg_nats_msg_status(natsMsg *msg);
/* Header value or NULL. */
const char *jg_nats_msg_header(natsMsg *msg, const char *name);

#endif
