/* conn_resend.c - requests sent again once a stream leader is known (see
 * "failover" in conn.h).
 *
 * Measured on a 3-node nats-server 2.9.10 cluster whose stream leader is
 * killed (tests/cluster/failover.test.mjs): the new leader is elected 4 to
 * 8 s after the kill; meanwhile a publish to the stream goes unanswered
 * (the replicas still receive it and ignore it) and a leader read is
 * unanswered or refused.  A request sent just before the election ended
 * then waited for its whole deadline, and the client's next one came after
 * it: up to the request timeout more than the election.  Here such a
 * request is published again when the new leader announces itself.
 *
 * Everything runs on the loop thread under n->lock, but the registration
 * (any thread, under the lock). */
#include "autoconfig.h"
#include "nats/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "nats/conn_int.h"
#include "nats/subjects.h"

#define ELECTED_PREFIX JG_SUBJ_LEADER_ELECTED_PREFIX

void jg_nats_resend_start(struct jg_nats *n)
{
    natsStatus s = natsConnection_SubscribeSync(&n->elected, n->nc, ELECTED_PREFIX "*");
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(n->elected, -1, -1);
    if (s != NATS_OK) {
        jg_warn("nats: cannot follow stream leader elections (%s); requests waiting for a "
                "leader are sent again every %d ms", natsStatus_GetText(s), JG_NATS_RESEND_POLL_MS);
        natsSubscription_Destroy(n->elected);
        n->elected = NULL;
    }
}

void jg_nats_msg_id(struct jg_nats *n, char *out, size_t len)
{
    unsigned long long k = atomic_fetch_add(&n->msg_ids, 1) + 1;
    snprintf(out, len, "jg-%s-%llu", n->inbox + 7, k); /* after "_INBOX." */
}

/* Publishes r again on the main connection; held when that fails (lock held). */
static void send_again(struct jg_nats *n, struct jg_nats_req *r, int64_t now)
{
    if (jg_nats_connected(n) && natsConnection_PublishMsg(n->nc, r->again) == NATS_OK) {
        r->held = false;
        r->sends++;
        return;
    }
    r->held = true;
    if (n->poll_ms == 0)
        n->poll_ms = now + JG_NATS_RESEND_POLL_MS;
}

/* A refusal of r: JetStream error 10008 ("JetStream system temporarily
 * unavailable": no leader), or "no responders" to a publish (no stream
 * leader listens).  Other 503 errors ("insufficient resources") are
 * answers; "no responders" to an API request means no JetStream server at
 * all: answered at once as before. */
static bool refusal(const struct jg_nats_req *r, natsMsg *msg)
{
    static const char err503[] = "{\"error\":{\"code\":503,\"err_code\":10008,";
    if (jg_nats_msg_status(msg) == 503)
        return strncmp(natsMsg_GetSubject(r->again), JG_SUBJ_JS_API_PREFIX, sizeof(JG_SUBJ_JS_API_PREFIX) - 1) != 0;
    const char *d = natsMsg_GetData(msg);
    return d && natsMsg_GetDataLength(msg) >= (int)sizeof(err503) - 1 &&
           memcmp(d, err503, sizeof(err503) - 1) == 0;
}

bool jg_nats_resend_refused(struct jg_nats *n, struct jg_nats_req *r, natsMsg *msg, int64_t now)
{
    if (!refusal(r, msg) || r->deadline_ms - now <= 10)
        return false;
    r->refusals++;
    r->held = true;
    if (n->poll_ms == 0)
        n->poll_ms = now + JG_NATS_RESEND_POLL_MS;
    return true;
}

/* Sends again the leader requests of stream (NULL: all of them; held:
 * only the held ones).  Returns how many (lock held). */
static unsigned resend(struct jg_nats *n, const char *stream, bool held_only, int64_t now)
{
    unsigned k = 0;
    for (struct jg_nats_req *r = n->head; r; r = r->next) {
        if (!r->again || (held_only && !r->held) || (stream && strcmp(r->stream, stream) != 0))
            continue;
        send_again(n, r, now);
        k++;
    }
    atomic_fetch_add(&n->resends, k);
    return k;
}

static void on_elected(struct jg_nats *n, natsMsg *msg, int64_t now)
{
    const char *stream = natsMsg_GetSubject(msg) + strlen(ELECTED_PREFIX);
    atomic_fetch_add(&n->elections, 1);
    pthread_mutex_lock(&n->lock);
    unsigned k = resend(n, stream, false, now);
    pthread_mutex_unlock(&n->lock);
    if (k)
        jg_info("nats: stream '%s' has a new leader; %u request%s sent to it again", stream, k,
                k == 1 ? "" : "s");
    else
        jg_debug("nats: stream '%s' has a new leader", stream);
}

void jg_nats_resend_hook(struct jg_nats *n, int64_t now, int64_t *wait)
{
    int pending = 0;
    if (n->elected && natsSubscription_GetPending(n->elected, &pending, NULL) != NATS_OK)
        pending = 0;
    for (int i = 0; i < pending && i < 1024; i++) {
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg(&msg, n->elected, 0) != NATS_OK || !msg)
            break;
        if (strncmp(natsMsg_GetSubject(msg), ELECTED_PREFIX, strlen(ELECTED_PREFIX)) == 0)
            on_elected(n, msg, now);
        jg_nats_msg_release(msg);
    }
    pthread_mutex_lock(&n->lock);
    if (atomic_exchange(&n->resend_all, false)) {
        n->poll_ms = 0;
        resend(n, NULL, false, now);
    } else if (n->poll_ms && now >= n->poll_ms && jg_nats_connected(n)) {
        n->poll_ms = 0;
        resend(n, NULL, true, now);
    } else if (n->poll_ms && now >= n->poll_ms) {
        n->poll_ms = now + JG_NATS_RESEND_POLL_MS; /* disconnected: the reconnect sends them */
    }
    if (n->poll_ms && n->poll_ms - now < *wait)
        *wait = n->poll_ms - now;
    pthread_mutex_unlock(&n->lock);
}

void jg_nats_resend_lost(struct jg_nats *n, struct jg_nats_req **failed)
{
    struct jg_nats_req *r = n->head;
    while (r) {
        struct jg_nats_req *next = r->next;
        if (r->again) {
            r->held = true; /* what was out may be stored: sends > refusals says so */
        } else {
            jg_nats_req_done(n, r);
            r->hnext = *failed;
            *failed = r;
        }
        r = next;
    }
}

jg_status jg_nats_request_leader(struct jg_nats *n, struct jg_nats_req *r, const char *stream,
                                 const char *subject, const char *const *hdrs, const void *data,
                                 size_t len, int flags, int64_t timeout_ms, jg_nats_reply_fn fn,
                                 void *ctx)
{
    natsMsg *m = NULL;
    pthread_mutex_lock(&n->lock);
    if (n->inflight >= (uint64_t)n->cfg->max_inflight) {
        pthread_mutex_unlock(&n->lock);
        return JG_ERR_TOO_MANY_REQUESTS;
    }
    r->id = n->next_id++;
    pthread_mutex_unlock(&n->lock);
    snprintf(r->reply, sizeof(r->reply), "%s.%llu", n->inbox, (unsigned long long)r->id);
    natsStatus s = natsMsg_Create(&m, subject, r->reply, data, (int)len);
    for (size_t i = 0; s == NATS_OK && hdrs && hdrs[i]; i += 2)
        s = natsMsgHeader_Set(m, hdrs[i], hdrs[i + 1]);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return JG_ERR_NOMEM;
    }
    r->flags = flags;
    r->fn = fn;
    r->ctx = ctx;
    r->stream = stream;
    r->again = m;
    r->held = false;
    r->sends = r->refusals = 0;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : n->cfg->request_timeout_ms;
    int64_t now = jg_now_ms();
    r->deadline_ms = now + r->timeout_ms;
    pthread_mutex_lock(&n->lock);
    jg_nats_table_insert(n, r);
    send_again(n, r, now); /* or held until the connection is back */
    bool held = r->held;   /* r may be finished once the lock is let go */
    pthread_mutex_unlock(&n->lock);
    /* held from another thread: the hook must learn the poll time */
    if (held && !jg_nats_on_loop_thread(n))
        jg_loop_wake(n->loop);
    return JG_OK;
}
