/* conn_int.h - what the files of the NATS connection share (conn.c: the
 * reply multiplexer and its loop hook; conn_setup.c: options, callbacks,
 * side connections, creation and shutdown; conn_resend.c: requests sent
 * again once a stream leader is known).  Private to src/nats/conn*.c. */
#ifndef JG_NATS_CONN_INT_H
#define JG_NATS_CONN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nats/conn.h"

#define HASH_SIZE 16384u
#define MAX_WAIT_MS 1000
#define MAX_SIDES 16

/* Messages released on the loop thread wait here and go to the library in
 * batches: natsMsg_Destroy() hands every message to libnats' collector
 * thread and wakes it, a thread switch per request at low load. */
#define GRAVE_MAX 64
#define GRAVE_BYTES (256 * 1024)
#define GRAVE_AGE_MS 5
struct grave {
    natsMsg *msgs[GRAVE_MAX];
    int len;
    size_t bytes;
    int64_t since_ms;
};

struct jg_nats {
    const struct jg_config *cfg;
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *sub;
    char inbox[64];         /* "_INBOX.<nuid>" */
    size_t inbox_len;

    pthread_mutex_t lock;   /* guards everything below */
    struct jg_nats_req *table[HASH_SIZE];
    struct jg_nats_req *head, *tail; /* deadline order */
    uint64_t next_id;
    uint64_t inflight;

    struct jg_loop *loop;
    pthread_mutex_t evlock;    /* guards evfd and evmask */
    int evfd;                  /* the NATS socket in the loop, -1 if none */
    uint32_t evmask;
    atomic_bool flush_pending; /* the loop thread queued a write: send at the end of the turn */
    struct grave grave;        /* loop thread (and jg_nats_free) */
    _Atomic(natsConnection *) evnc;
    atomic_bool stop;
    bool stopped;              /* pending requests failed (lock) */
    bool closed;               /* the library's closed callback ran (lock) */
    pthread_cond_t stopped_cond;
    atomic_bool lost;       /* a disconnect happened: fail pending requests */
    atomic_bool reconnected;
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t timeouts;
    char server_version[32];  /* guarded by lock */
    void (*on_reconnect)(void *);
    void *on_reconnect_ctx;

    /* publish-only connections, one per URL of 'nats' when it names
     * several (see jg_nats_request_via); connected by side_thread */
    struct side {
        natsOptions *opts;
        _Atomic(natsConnection *) nc;
    } sides[MAX_SIDES];
    int nsides;
    pthread_t side_thread;
    bool side_thread_started;
    atomic_uint_fast64_t side_requests;

    /* failover (conn_resend.c) */
    natsSubscription *elected;   /* LEADER_ELECTED advisories, drained by the hook */
    int64_t poll_ms;             /* next send of held requests, 0 if none (lock) */
    atomic_bool resend_all;      /* reconnected: send every leader request again */
    atomic_uint_fast64_t resends;
    atomic_uint_fast64_t elections;
    atomic_uint_fast64_t msg_ids;
};

/* conn.c */
/* Takes r out of the table and the deadline list and frees what the module
 * holds for it (lock held). */
void jg_nats_req_done(struct jg_nats *n, struct jg_nats_req *r);
void jg_nats_table_insert(struct jg_nats *n, struct jg_nats_req *r);
struct jg_nats_req *jg_nats_table_find(struct jg_nats *n, uint64_t id);
int64_t jg_nats_hook(void *arg);
void jg_nats_flush(void *arg);
void jg_nats_grave_empty(struct grave *g);
natsStatus jg_nats_ev_attach(void **user, void *loop, natsConnection *nc, natsSock sock);
natsStatus jg_nats_ev_read(void *user, bool add);
natsStatus jg_nats_ev_write(void *user, bool add);
natsStatus jg_nats_ev_detach(void *user);

/* conn_setup.c */
/* The hop-th (round robin) connected side connection on another server
 * than the main connection's; NULL when there is none.  *count gets how
 * many there are. */
natsConnection *jg_nats_side_for(struct jg_nats *n, int hop, int *count);

/* conn_resend.c */
/* Subscribes to the leader advisories (a failure only costs the quick
 * resend: warned about).  At creation, before the loop runs. */
void jg_nats_resend_start(struct jg_nats *n);
/* A reply to a leader request r that refuses it ("no leader") while time
 * is left: holds r and returns true (lock held; msg stays the caller's). */
bool jg_nats_resend_refused(struct jg_nats *n, struct jg_nats_req *r, natsMsg *msg, int64_t now);
/* The hook's part: advisories, reconnects and the poll of held requests;
 * lowers *wait to the next poll.  Loop thread. */
void jg_nats_resend_hook(struct jg_nats *n, int64_t now, int64_t *wait);
/* A disconnect: leader requests stay, held until the connection is back;
 * the others are moved to *failed (chained by hnext) for the caller to
 * fail (lock held). */
void jg_nats_resend_lost(struct jg_nats *n, struct jg_nats_req **failed);

#endif
