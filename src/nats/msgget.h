/* msgget.h - one stored message of a bucket's stream, read safely from a
 * replicated stream: the one read routine under KV reads, object meta
 * reads and object chunk reads.
 *
 * A read is the stream leader's STREAM.MSG.GET (replicated buckets, and
 * buckets without direct access) or a DIRECT.GET answered by any replica.
 * Around it live the workarounds for nats-server 2.9.10, each described at
 * its code in msgget.c and listed in docs/ARCHITECTURE.md:
 *
 *  - a leader without messages a quorum stored: its "no message" is asked
 *    again of the replicas by direct get, one server after the other
 *    (jg_nats_request_via), up to JG_NATS_REPLICA_TRIES asks;
 *  - a direct get to a one-replica stream being deleted goes unanswered:
 *    the first unanswered read looks the bucket up again
 *    (jg_buckets_recheck), which says at once whether it is gone;
 *  - "JetStream temporarily unavailable" and unanswered reads while a
 *    leader is elected: KV reads send the read again until their deadline.
 *
 * The three readers differ in how long they wait and what they resend;
 * each names its policy (enum jg_msgget_policy), kept as it was measured
 * against the cluster tests (tests/cluster/).
 *
 * Threads: jg_msgget_start() runs on the loop thread or under a lock that
 * the loop thread's callbacks also take; the callback runs on the loop
 * thread, never inside jg_msgget_start(). */
#ifndef JG_NATS_MSGGET_H
#define JG_NATS_MSGGET_H

#include <stdbool.h>
#include <stdint.h>

#include "nats/conn.h"
#include "nats/js.h"
#include "status.h"

/* One stored message, the same whether the leader (JSON, base64) or a
 * replica (headers) answered.  Owned by whoever holds it: release with
 * jg_stored_msg_clear(); a holder may take msg or buf (set it NULL) to
 * keep data alive. */
struct jg_stored_msg {
    const char *subject;  /* NULL when the reply named none */
    uint64_t seq;         /* 0 when absent or unreadable */
    int64_t time_ns;      /* 0 when absent */
    const char *data;     /* never NULL */
    size_t len;
    natsMsg *msg;         /* a direct get's reply: owns data and subject; its headers */
    char *buf;            /* a leader's reply: owns data */
    char *hdrs;           /* a leader's reply: the decoded header block
                           * ("NATS/1.0\r\nName: value\r\n..."), or NULL */
    size_t hdrs_len;
    char *subject_buf;    /* a leader's reply: owns subject */
};
void jg_stored_msg_clear(struct jg_stored_msg *m);
/* The message of a direct get's reply that carries one (no status): takes
 * msg.  Headers Nats-Subject, Nats-Sequence, Nats-Time-Stamp. */
void jg_stored_msg_from_direct(natsMsg *msg, struct jg_stored_msg *m);

/* How a reader waits and what it sends again (see policies in msgget.c). */
enum jg_msgget_policy {
    /* KV reads: attempts of a quarter of the request timeout, resent while
     * unanswered or while JetStream is unavailable, until the request
     * timeout; then JG_ERR_NATS_UNAVAILABLE (503 + Retry-After).  A
     * one-replica bucket's first unanswered read rechecks the bucket. */
    JG_MSGGET_KV,
    /* Object meta reads: one attempt until the request timeout, the first
     * direct get of a one-replica bucket a quarter of it, then the
     * recheck; after it, JG_ERR_NATS_TIMEOUT at the deadline. */
    JG_MSGGET_META,
    /* Chunk reads: each request the configured request timeout, nothing
     * resent but the asks of the replicas; no recheck (the meta read
     * before it found the bucket). */
    JG_MSGGET_CHUNK,
};

/* The callback: JG_OK with *m (the callee owns it: jg_stored_msg_clear),
 * else m NULL and
 *   JG_ERR_KEY_NOT_FOUND   no such message (direct 404, leader 10037; for
 *                          KV and meta reads a direct 408 too), after the
 *                          replicas were asked where allowed;
 *   JG_ERR_BUCKET_NOT_FOUND the recheck found the bucket gone;
 *   another status         see g->status and g->desc for the reply.
 * Runs on the loop thread. */
struct jg_msgget;
typedef void (*jg_msgget_fn)(void *ctx, jg_status st, struct jg_stored_msg *m);

/* A read in flight; embed it in the operation.  Set the fields marked "in"
 * and call jg_msgget_start(); the rest is the routine's.  Must stay valid
 * until the callback. */
struct jg_msgget {
    /* in */
    struct jg_nats *nats;
    struct jg_buckets *buckets;   /* for the recheck */
    enum jg_bucket_kind kind;
    const char *bucket;           /* owned by the caller */
    const char *stream;           /* owned by the caller */
    const char *subject;          /* stored subject; owned by the caller */
    uint64_t seq;                 /* 0: the subject's last message */
    bool next;                    /* with seq: the subject's first message at or after seq */
    bool leader;                  /* ask the stream leader, not any replica */
    bool replicas;                /* a "no message" may be asked of the replicas */
    bool single;                  /* the stream has one replica */
    int hop;                      /* the server of the first ask of the replicas */
    int tries;                    /* asks of the replicas made before this read
                                   * (1 when it starts on the replicas) */
    enum jg_msgget_policy policy;
    int64_t request_timeout_ms;
    jg_msgget_fn fn;
    void *ctx;

    /* out, valid in the callback */
    int status;                   /* a direct get's status code that ended the read, or 0 */
    bool error_reply;             /* the leader answered with an error: desc */
    char desc[200];

    /* the routine's */
    bool rechecked;
    int64_t deadline_ms;
    struct jg_nats_req req;
    char subj[2900];              /* API subject: stream and a stored subject of */
    char body[2600];              /* up to 2,400 bytes (object meta), 2,048-byte keys */
};

/* Starts the read.  JG_OK: the callback follows (on the loop thread).
 * Anything else: nothing was sent and no callback follows. */
jg_status jg_msgget_start(struct jg_msgget *g);

/* The server the last ask of the replicas went to: a chunk reader that
 * goes on from one chunk to the next starts there (g->hop, g->tries 1). */
int jg_msgget_hop(const struct jg_msgget *g);

#endif
