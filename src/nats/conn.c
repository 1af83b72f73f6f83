/* conn.c - connection, reply multiplexer and its loop hook (see conn.h). */
#include "autoconfig.h"
#include "nats/conn.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "nats/subjects.h"
#include "util.h"
#include "nats/conn_int.h"

static __thread struct grave *tls_grave; /* set on the loop thread only */

/* --- table and deadline list (call with lock held) ---------------------- */

void jg_nats_table_insert(struct jg_nats *n, struct jg_nats_req *r)
{
    unsigned h = (unsigned)(r->id & (HASH_SIZE - 1));
    r->hnext = n->table[h];
    n->table[h] = r;
    /* insert sorted from the tail: deadlines mostly arrive in order */
    struct jg_nats_req *p = n->tail;
    while (p && p->deadline_ms > r->deadline_ms)
        p = p->prev;
    r->prev = p;
    r->next = p ? p->next : n->head;
    if (r->next)
        r->next->prev = r;
    else
        n->tail = r;
    if (p)
        p->next = r;
    else
        n->head = r;
    n->inflight++;
}

static void list_unlink(struct jg_nats *n, struct jg_nats_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        n->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        n->tail = r->prev;
    r->prev = r->next = NULL;
}

struct jg_nats_req *jg_nats_table_find(struct jg_nats *n, uint64_t id)
{
    for (struct jg_nats_req *r = n->table[id & (HASH_SIZE - 1)]; r; r = r->hnext)
        if (r->id == id)
            return r;
    return NULL;
}

static void table_remove(struct jg_nats *n, struct jg_nats_req *r)
{
    struct jg_nats_req **pp = &n->table[r->id & (HASH_SIZE - 1)];
    while (*pp && *pp != r)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = r->hnext;
    list_unlink(n, r);
    n->inflight--;
}

void jg_nats_req_done(struct jg_nats *n, struct jg_nats_req *r)
{
    table_remove(n, r);
    if (r->again) {
        natsMsg_Destroy(r->again);
        r->again = NULL;
    }
}

/* --- reply dispatch (loop thread) ----------------------------------------------------- */

bool jg_nats_ack_parse(const char *reply, struct jg_nats_ack *ret)
{
    const char *tok[16];
    int n = 0;
    if (!reply || strncmp(reply, JG_SUBJ_JS_ACK_PREFIX, sizeof(JG_SUBJ_JS_ACK_PREFIX) - 1) != 0)
        return false;
    tok[n++] = reply;
    for (const char *p = reply; *p && n < 16; p++)
        if (*p == '.')
            tok[n++] = p + 1;
    int s;                   /* the stream's token */
    if (n == 9)
        s = 2;               /* $JS.ACK.<stream>.<consumer>.<5 numbers> */
    else if (n >= 11)
        s = 4;               /* $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<5 numbers>[...] */
    else
        return false;
    ret->stream = tok[s];
    ret->stream_len = (size_t)(tok[s + 1] - tok[s] - 1);
    ret->consumer = tok[s + 1];
    ret->consumer_len = (size_t)(tok[s + 2] - tok[s + 1] - 1);
    ret->delivered = strtoull(tok[s + 2], NULL, 10);
    ret->sseq = strtoull(tok[s + 3], NULL, 10);
    ret->cseq = strtoull(tok[s + 4], NULL, 10);
    ret->ts_ns = strtoll(tok[s + 5], NULL, 10);
    ret->pending = strtoull(tok[s + 6], NULL, 10);
    return ret->sseq > 0 && ret->cseq > 0;
}

/* The sink id of a JetStream delivery from a consumer named by
 * jg_nats_sink_consumer_name(): the consumer name in its reply subject
 * ends with "_<inbox token>_<id>". */
static bool consumer_route(struct jg_nats *n, const char *reply, uint64_t *id)
{
    struct jg_nats_ack a;
    if (!jg_nats_ack_parse(reply, &a))
        return false;
    const char *name = a.consumer, *end = a.consumer + a.consumer_len;
    const char *tag = n->inbox + 7; /* after "_INBOX." */
    size_t tl = n->inbox_len - 7;
    const char *us = end;
    while (us > name && us[-1] != '_')
        us--;
    if (us == end || (size_t)(us - name) < tl + 2 || us[-1] != '_' || us[-tl - 2] != '_' ||
        memcmp(us - tl - 1, tag, tl) != 0)
        return false;
    uint64_t v = 0;
    for (const char *p = us; p < end; p++) {
        if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 - 1)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *id = v;
    return true;
}

static void dispatch_msg(struct jg_nats *n, natsMsg *msg)
{
    const char *subj = natsMsg_GetSubject(msg);
    uint64_t id;
    struct jg_nats_req *r;
    bool routed = false;

    if (strncmp(subj, n->inbox, n->inbox_len) != 0 || subj[n->inbox_len] != '.' ||
        jg_u64_parse(subj + n->inbox_len + 1, &id) != JG_OK) {
        /* a consumer's delivery keeps the stream subject of its message */
        if (!consumer_route(n, natsMsg_GetReply(msg), &id)) {
            jg_nats_msg_release(msg);
            return;
        }
        routed = true;
    }
    pthread_mutex_lock(&n->lock);
    r = jg_nats_table_find(n, id);
    if (r && routed && !(r->flags & JG_NATS_STREAM)) {
        r = NULL;
    } else if (r && r->again && jg_nats_resend_refused(n, r, msg, jg_now_ms())) {
        pthread_mutex_unlock(&n->lock); /* held for a leader */
        jg_nats_msg_release(msg);
        return;
    } else if (r && !(r->flags & JG_NATS_STREAM)) {
        jg_nats_req_done(n, r);
    }
    pthread_mutex_unlock(&n->lock);
    if (!r) {
        jg_nats_msg_release(msg); /* late reply to an expired request */
        return;
    }
    r->fn(r->ctx, JG_OK, msg);
}

/* Fails requests whose deadline passed.  A leader request (conn_resend.c)
 * that only ever met refusals stored nothing. */
static void expire(struct jg_nats *n, int64_t now)
{
    for (;;) {
        pthread_mutex_lock(&n->lock);
        struct jg_nats_req *r = n->head;
        if (!r || r->deadline_ms > now) {
            pthread_mutex_unlock(&n->lock);
            return;
        }
        jg_status st = JG_ERR_NATS_TIMEOUT;
        if (r->again && r->sends <= r->refusals)
            st = JG_ERR_NATS_UNAVAILABLE;
        jg_nats_req_done(n, r);
        pthread_mutex_unlock(&n->lock);
        atomic_fetch_add(&n->timeouts, 1);
        r->fn(r->ctx, st, NULL);
    }
}

/* A disconnect (leader requests wait for the connection, unless stopping)
 * or the shutdown: fails the requests cut off.  A write's outcome is
 * unknown. */
static void expire_all(struct jg_nats *n, bool stopping)
{
    struct jg_nats_req *failed = NULL;
    pthread_mutex_lock(&n->lock);
    if (stopping) {
        while (n->head) {
            struct jg_nats_req *r = n->head;
            jg_nats_req_done(n, r);
            r->hnext = failed;
            failed = r;
        }
    } else {
        jg_nats_resend_lost(n, &failed);
    }
    pthread_mutex_unlock(&n->lock);
    /* oldest first, as they were sent */
    struct jg_nats_req *order = NULL;
    while (failed) {
        struct jg_nats_req *r = failed;
        failed = r->hnext;
        r->hnext = order;
        order = r;
    }
    while (order) {
        struct jg_nats_req *r = order;
        order = r->hnext;
        r->fn(r->ctx, (r->flags & JG_NATS_WRITE) ? JG_ERR_NATS_TIMEOUT : JG_ERR_NATS_UNAVAILABLE,
              NULL);
    }
}

void jg_nats_grave_empty(struct grave *g)
{
    for (int i = 0; i < g->len; i++)
        natsMsg_Destroy(g->msgs[i]);
    g->len = 0;
    g->bytes = 0;
}

void jg_nats_msg_release(natsMsg *msg)
{
    struct grave *g = tls_grave;
    if (!msg)
        return;
    if (!g) {
        natsMsg_Destroy(msg);
        return;
    }
    if (g->len == 0)
        g->since_ms = jg_now_ms();
    g->msgs[g->len++] = msg;
    g->bytes += (size_t)natsMsg_GetDataLength(msg);
    if (g->len == GRAVE_MAX || g->bytes >= GRAVE_BYTES)
        jg_nats_grave_empty(g);
}

/* Loop hook: serve the replies that the read events queued, then what
 * disconnects and deadlines ask for.  Returns ms until the next deadline. */
int64_t jg_nats_hook(void *arg)
{
    struct jg_nats *n = arg;
    int64_t wait = MAX_WAIT_MS;

    tls_grave = &n->grave;
    if (n->grave.len)
        wait = GRAVE_AGE_MS;
    /* only as many as are queued: asking an empty subscription costs
     * libnats a formatted error message each time */
    int pending = 0;
    if (n->sub && natsSubscription_GetPending(n->sub, &pending, NULL) != NATS_OK)
        pending = 0;
    for (int i = 0; i < pending && i < 4096; i++) {
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg(&msg, n->sub, 0) != NATS_OK || !msg)
            break;
        dispatch_msg(n, msg);
    }
    if (atomic_load(&n->stop))
        expire_all(n, true);
    else if (atomic_exchange(&n->lost, false))
        expire_all(n, false);
    if (atomic_exchange(&n->reconnected, false) && n->on_reconnect)
        n->on_reconnect(n->on_reconnect_ctx);
    int64_t now = jg_now_ms();
    jg_nats_resend_hook(n, now, &wait);
    expire(n, now);
    pthread_mutex_lock(&n->lock);
    if (n->head && n->head->deadline_ms - now < wait)
        wait = n->head->deadline_ms - now;
    if (atomic_load(&n->stop) && !n->stopped) {
        n->stopped = true;
        pthread_cond_broadcast(&n->stopped_cond);
    }
    pthread_mutex_unlock(&n->lock);
    return wait < 1 ? 1 : wait;
}

/* --- external event loop: libnats reads and writes from our loop --------- */

static void on_nats_fd(void *ctx, uint32_t events)
{
    struct jg_nats *n = ctx;
    natsConnection *nc = atomic_load(&n->evnc);
    if (!nc)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        natsConnection_ProcessReadEvent(nc);
    if (events & EPOLLOUT)
        natsConnection_ProcessWriteEvent(nc);
}

natsStatus jg_nats_ev_attach(void **user, void *loop, natsConnection *nc, natsSock sock)
{
    struct jg_nats *n = loop;
    jg_status st;
    pthread_mutex_lock(&n->evlock);
    if (n->evfd >= 0)
        jg_loop_del(n->loop, n->evfd);
    atomic_store(&n->evnc, nc);
    n->evfd = sock;
    n->evmask = EPOLLIN;
    *user = n;
    st = jg_loop_add(n->loop, sock, EPOLLIN, on_nats_fd, n);
    pthread_mutex_unlock(&n->evlock);
    return st == JG_OK ? NATS_OK : NATS_ERR;
}

static natsStatus ev_update(struct jg_nats *n, uint32_t bit, bool add)
{
    jg_status st = JG_OK;
    pthread_mutex_lock(&n->evlock);
    uint32_t mask = add ? (n->evmask | bit) : (n->evmask & ~bit);
    if (mask != n->evmask && n->evfd >= 0)
        st = jg_loop_mod(n->loop, n->evfd, mask);
    n->evmask = mask;
    pthread_mutex_unlock(&n->evlock);
    return st == JG_OK ? NATS_OK : NATS_ERR;
}

natsStatus jg_nats_ev_read(void *user, bool add)
{
    return ev_update(user, EPOLLIN, add);
}

/* The library has bytes to send (add) or sent them all (!add).  On the
 * loop thread the write is left to jg_nats_flush() at the end of the turn:
 * the socket is almost always writable, and asking epoll first would cost
 * two epoll_ctl calls and a turn of the loop per request.  Other threads
 * (timers, workers) need epoll to wake the loop. */
natsStatus jg_nats_ev_write(void *user, bool add)
{
    struct jg_nats *n = user;
    if (add && jg_loop_on_thread(n->loop)) {
        atomic_store(&n->flush_pending, true);
        return NATS_OK;
    }
    if (!add)
        atomic_store(&n->flush_pending, false);
    return ev_update(n, EPOLLOUT, add);
}

/* Loop flush: sends what this turn published; what the socket did not take
 * waits for EPOLLOUT. */
void jg_nats_flush(void *arg)
{
    struct jg_nats *n = arg;
    if (n->grave.len && jg_now_ms() - n->grave.since_ms >= GRAVE_AGE_MS)
        jg_nats_grave_empty(&n->grave);
    if (!atomic_exchange(&n->flush_pending, false))
        return;
    natsConnection *nc = atomic_load(&n->evnc);
    if (!nc)
        return;
    natsConnection_ProcessWriteEvent(nc);
    if (natsConnection_Buffered(nc) > 0)
        ev_update(n, EPOLLOUT, true);
}

natsStatus jg_nats_ev_detach(void *user)
{
    struct jg_nats *n = user;
    pthread_mutex_lock(&n->evlock);
    if (n->evfd >= 0)
        jg_loop_del(n->loop, n->evfd);
    n->evfd = -1;
    atomic_store(&n->evnc, NULL);
    atomic_store(&n->flush_pending, false);
    pthread_mutex_unlock(&n->evlock);
    return NATS_OK;
}

bool jg_nats_on_loop_thread(struct jg_nats *n)
{
    return jg_loop_on_thread(n->loop);
}

void jg_nats_thread_violation(const char *file, int line)
{
    jg_err("%s:%d must run on the loop thread", file, line);
    abort();
}

void jg_nats_post(struct jg_nats *n, struct jg_loop_task *t, void (*fn)(void *), void *ctx)
{
    jg_loop_post(n->loop, t, fn, ctx);
}

bool jg_nats_connected(struct jg_nats *n)
{
    return n->nc && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

int64_t jg_nats_max_payload(struct jg_nats *n)
{
    return natsConnection_GetMaxPayload(n->nc);
}

void jg_nats_get_stats(struct jg_nats *n, struct jg_nats_stats *ret)
{
    ret->reconnects = atomic_load(&n->reconnects);
    ret->timeouts = atomic_load(&n->timeouts);
    ret->side_requests = atomic_load(&n->side_requests);
    ret->resends = atomic_load(&n->resends);
    ret->elections = atomic_load(&n->elections);
    jg_nats_side_for(n, 0, &ret->side_servers);
    pthread_mutex_lock(&n->lock);
    ret->inflight = n->inflight;
    pthread_mutex_unlock(&n->lock);
}

void jg_nats_server_info(struct jg_nats *n, char *url, size_t urllen, char *id, size_t idlen,
                         char *version, size_t versionlen)
{
    url[0] = id[0] = version[0] = '\0';
    if (!jg_nats_connected(n))
        return;
    pthread_mutex_lock(&n->lock);
    snprintf(version, versionlen, "%s", n->server_version);
    pthread_mutex_unlock(&n->lock);
    natsConnection_GetConnectedUrl(n->nc, url, urllen);
    natsConnection_GetConnectedServerId(n->nc, id, idlen);
}

void jg_nats_on_reconnect(struct jg_nats *n, void (*fn)(void *), void *ctx)
{
    n->on_reconnect = fn;
    n->on_reconnect_ctx = ctx;
}

static jg_status register_req(struct jg_nats *n, struct jg_nats_req *r, int flags,
                              int64_t timeout_ms, jg_nats_reply_fn fn, void *ctx)
{
    if (!jg_nats_connected(n))
        return JG_ERR_NATS_UNAVAILABLE;
    r->flags = flags;
    r->fn = fn;
    r->ctx = ctx;
    r->stream = NULL;
    r->again = NULL;
    r->held = false;
    r->sends = r->refusals = 0;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : n->cfg->request_timeout_ms;
    pthread_mutex_lock(&n->lock);
    if (n->inflight >= (uint64_t)n->cfg->max_inflight) {
        pthread_mutex_unlock(&n->lock);
        return JG_ERR_TOO_MANY_REQUESTS;
    }
    r->id = n->next_id++;
    r->deadline_ms = jg_now_ms() + r->timeout_ms;
    snprintf(r->reply, sizeof(r->reply), "%s.%llu", n->inbox, (unsigned long long)r->id);
    jg_nats_table_insert(n, r);
    pthread_mutex_unlock(&n->lock);
    return JG_OK;
}

jg_status jg_nats_sink_open(struct jg_nats *n, struct jg_nats_req *r, int64_t timeout_ms,
                            jg_nats_reply_fn fn, void *ctx)
{
    return register_req(n, r, JG_NATS_STREAM, timeout_ms, fn, ctx);
}

/* jg_nats_request published on nc (the main connection or a side one). */
static jg_status request_on(struct jg_nats *n, natsConnection *nc, struct jg_nats_req *r,
                            const char *subject, const char *const *hdrs, const void *data,
                            size_t len, int flags, int64_t timeout_ms, jg_nats_reply_fn fn,
                            void *ctx)
{
    natsStatus s;
    natsMsg *m = NULL;
    jg_status st = register_req(n, r, flags, timeout_ms, fn, ctx);
    if (st != JG_OK)
        return st;
    uint64_t id = r->id; /* r may be freed by fn once the request is out */

    if (hdrs && hdrs[0]) {
        s = natsMsg_Create(&m, subject, r->reply, data, (int)len);
        for (size_t i = 0; s == NATS_OK && hdrs[i]; i += 2)
            s = natsMsgHeader_Set(m, hdrs[i], hdrs[i + 1]);
        if (s == NATS_OK)
            s = natsConnection_PublishMsg(nc, m);
        natsMsg_Destroy(m);
    } else {
        s = natsConnection_PublishRequest(nc, subject, r->reply, data, (int)len);
    }
    if (s == NATS_OK)
        return JG_OK;
    /* Not sent (or only into a buffer too small to hold it): take the
     * request back unless the loop thread already failed it. */
    pthread_mutex_lock(&n->lock);
    bool mine = jg_nats_table_find(n, id) == r;
    if (mine)
        jg_nats_req_done(n, r);
    pthread_mutex_unlock(&n->lock);
    if (!mine) {
        /* the loop thread owns it now and will call fn */
        return JG_OK;
    }
    jg_debug("nats: publish to '%s' failed: %s", subject, natsStatus_GetText(s));
    return JG_ERR_NATS_UNAVAILABLE;
}

jg_status jg_nats_request(struct jg_nats *n, struct jg_nats_req *r, const char *subject,
                          const char *const *hdrs, const void *data, size_t len, int flags,
                          int64_t timeout_ms, jg_nats_reply_fn fn, void *ctx)
{
    return request_on(n, n->nc, r, subject, hdrs, data, len, flags, timeout_ms, fn, ctx);
}

jg_status jg_nats_request_via(struct jg_nats *n, int hop, struct jg_nats_req *r,
                              const char *subject, const void *data, size_t len,
                              int64_t timeout_ms, jg_nats_reply_fn fn, void *ctx)
{
    int count;
    natsConnection *nc = hop > 0 ? jg_nats_side_for(n, hop, &count) : NULL;
    if (!nc)
        return request_on(n, n->nc, r, subject, NULL, data, len, 0, timeout_ms, fn, ctx);
    if (jg_log_enabled(JG_LOG_DEBUG)) {
        char url[256] = "";
        natsConnection_GetConnectedUrl(nc, url, sizeof(url));
        jg_debug("nats: '%s' asked through %s (%d other servers)", subject, url, count);
    }
    jg_status st = request_on(n, nc, r, subject, NULL, data, len, 0, timeout_ms, fn, ctx);
    if (st == JG_ERR_NATS_UNAVAILABLE && jg_nats_connected(n)) /* that one just went away */
        st = request_on(n, n->nc, r, subject, NULL, data, len, 0, timeout_ms, fn, ctx);
    else if (st == JG_OK)
        atomic_fetch_add(&n->side_requests, 1);
    return st;
}

void jg_nats_sink_consumer_name(struct jg_nats *n, const struct jg_nats_req *r,
                                const char *prefix, char *out, size_t len)
{
    snprintf(out, len, "%s_%s_%llu", prefix, n->inbox + 7, (unsigned long long)r->id);
}

jg_status jg_nats_publish_reply(struct jg_nats *n, const char *subject, const char *reply,
                                const void *data, size_t len)
{
    if (!jg_nats_connected(n))
        return JG_ERR_NATS_UNAVAILABLE;
    if (natsConnection_PublishRequest(n->nc, subject, reply, data, (int)len) != NATS_OK)
        return JG_ERR_NATS_UNAVAILABLE;
    return JG_OK;
}

void jg_nats_cancel(struct jg_nats *n, struct jg_nats_req *r)
{
    pthread_mutex_lock(&n->lock);
    if (jg_nats_table_find(n, r->id) == r)
        jg_nats_req_done(n, r);
    pthread_mutex_unlock(&n->lock);
}

void jg_nats_touch(struct jg_nats *n, struct jg_nats_req *r)
{
    pthread_mutex_lock(&n->lock);
    if (jg_nats_table_find(n, r->id) == r) {
        table_remove(n, r);
        r->deadline_ms = jg_now_ms() + r->timeout_ms;
        jg_nats_table_insert(n, r);
    }
    pthread_mutex_unlock(&n->lock);
}

natsConnection *jg_nats_conn(struct jg_nats *n)
{
    return n->nc;
}

void jg_nats_publish(struct jg_nats *n, const char *subject, const void *data, size_t len)
{
    if (jg_nats_connected(n))
        natsConnection_Publish(n->nc, subject, data, (int)len);
}

int jg_nats_msg_status(natsMsg *msg)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, "Status", &v) != NATS_OK || !v)
        return 0;
    return atoi(v);
}

const char *jg_nats_msg_header(natsMsg *msg, const char *name)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, name, &v) != NATS_OK)
        return NULL;
    return v;
}
