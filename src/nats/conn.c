/* conn.c - connection, reply multiplexer and its loop hook (see conn.h). */
#include "autoconfig.h"
#include "nats/conn.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "util.h"

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
static __thread struct grave *tls_grave; /* set on the loop thread only */

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
};

/* --- table and deadline list (call with lock held) ---------------------- */

static void table_insert(struct jg_nats *n, struct jg_nats_req *r)
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

static struct jg_nats_req *table_find(struct jg_nats *n, uint64_t id)
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

/* --- reply dispatch (loop thread) ----------------------------------------------------- */

bool jg_nats_ack_parse(const char *reply, struct jg_nats_ack *ret)
{
    const char *tok[16];
    int n = 0;
    if (!reply || strncmp(reply, "$JS.ACK.", 8) != 0)
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
    r = table_find(n, id);
    if (r && routed && !(r->flags & JG_NATS_STREAM))
        r = NULL;
    else if (r && !(r->flags & JG_NATS_STREAM))
        table_remove(n, r);
    pthread_mutex_unlock(&n->lock);
    if (!r) {
        jg_nats_msg_release(msg); /* late reply to an expired request */
        return;
    }
    r->fn(r->ctx, JG_OK, msg);
}

/* Fails requests whose deadline passed, or all of them after a disconnect. */
static void expire(struct jg_nats *n, bool all, int64_t now)
{
    for (;;) {
        pthread_mutex_lock(&n->lock);
        struct jg_nats_req *r = n->head;
        if (!r || (!all && r->deadline_ms > now)) {
            pthread_mutex_unlock(&n->lock);
            return;
        }
        table_remove(n, r);
        pthread_mutex_unlock(&n->lock);
        jg_status st = JG_ERR_NATS_TIMEOUT;
        if (all && !(r->flags & JG_NATS_WRITE))
            st = JG_ERR_NATS_UNAVAILABLE;
        if (!all)
            atomic_fetch_add(&n->timeouts, 1);
        r->fn(r->ctx, st, NULL);
    }
}

static void grave_empty(struct grave *g)
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
        grave_empty(g);
}

/* Loop hook: serve the replies that the read events queued, then what
 * disconnects and deadlines ask for.  Returns ms until the next deadline. */
static int64_t nats_hook(void *arg)
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
    if (atomic_exchange(&n->lost, false) || atomic_load(&n->stop))
        expire(n, true, 0);
    if (atomic_exchange(&n->reconnected, false) && n->on_reconnect)
        n->on_reconnect(n->on_reconnect_ctx);
    int64_t now = jg_now_ms();
    expire(n, false, now);
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

static natsStatus ev_attach(void **user, void *loop, natsConnection *nc, natsSock sock)
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

static natsStatus ev_read(void *user, bool add)
{
    return ev_update(user, EPOLLIN, add);
}

/* The library has bytes to send (add) or sent them all (!add).  On the
 * loop thread the write is left to nats_flush() at the end of the turn:
 * the socket is almost always writable, and asking epoll first would cost
 * two epoll_ctl calls and a turn of the loop per request.  Other threads
 * (timers, workers) need epoll to wake the loop. */
static natsStatus ev_write(void *user, bool add)
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
static void nats_flush(void *arg)
{
    struct jg_nats *n = arg;
    if (n->grave.len && jg_now_ms() - n->grave.since_ms >= GRAVE_AGE_MS)
        grave_empty(&n->grave);
    if (!atomic_exchange(&n->flush_pending, false))
        return;
    natsConnection *nc = atomic_load(&n->evnc);
    if (!nc)
        return;
    natsConnection_ProcessWriteEvent(nc);
    if (natsConnection_Buffered(nc) > 0)
        ev_update(n, EPOLLOUT, true);
}

static natsStatus ev_detach(void *user)
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

/* --- server version --------------------------------------------------- *
 * libnats keeps the server's INFO to itself; the version is read from the
 * INFO line a fresh TCP connection gets first (plain text, also on TLS
 * servers), once per (re)connect, on a libnats callback thread. */

static void fetch_server_version(struct jg_nats *n, const char *url)
{
    char host[256], port[16] = "4222", line[4096];
    const char *p = strstr(url, "://");
    struct addrinfo hints = {0}, *ai = NULL;
    int fd = -1;
    size_t got = 0;

    p = p ? p + 3 : url;
    const char *at = strrchr(p, '@');
    if (at)
        p = at + 1;
    const char *colon = strrchr(p, ':');
    size_t hl = colon ? (size_t)(colon - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(host))
        return;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (colon)
        snprintf(port, sizeof(port), "%s", colon + 1);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host[0] == '[' ? host + 1 : host, port, &hints, &ai) != 0)
        return;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {1, 0};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto out;
    while (got < sizeof(line) - 1) {
        ssize_t r = read(fd, line + got, sizeof(line) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
        if (strchr(line, '\n'))
            break;
    }
    line[got] = '\0';
    const char *v = strstr(line, "\"version\":\"");
    if (v) {
        v += 11;
        size_t vl = strcspn(v, "\"");
        pthread_mutex_lock(&n->lock);
        snprintf(n->server_version, sizeof(n->server_version), "%.*s", (int)vl, v);
        pthread_mutex_unlock(&n->lock);
    }
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
}

/* --- connection callbacks (libnats threads) ---------------------------- */

static void on_disconnected(natsConnection *nc, void *closure)
{
    struct jg_nats *n = closure;
    atomic_store(&n->lost, true);
    jg_loop_wake(n->loop);
    if (!atomic_load(&n->stop))
        jg_warn("nats: disconnected; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    struct jg_nats *n = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    atomic_fetch_add(&n->reconnects, 1);
    atomic_store(&n->reconnected, true);
    jg_loop_wake(n->loop);
    jg_info("nats: reconnected to %s", url);
    fetch_server_version(n, url);
}

static void on_connected(natsConnection *nc, void *closure)
{
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    jg_info("nats: connected to %s", url);
    fetch_server_version(closure, url);
}

/* The last callback the library makes for a connection: after it, n may go. */
static void on_closed(natsConnection *nc, void *closure)
{
    struct jg_nats *n = closure;
    pthread_mutex_lock(&n->lock);
    n->closed = true;
    pthread_cond_broadcast(&n->stopped_cond);
    pthread_mutex_unlock(&n->lock);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    jg_warn("nats: asynchronous error: %s", natsStatus_GetText(err));
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    struct jg_nats *n = closure;
    int64_t d = n->cfg->nats_reconnect_wait_ms;
    for (int i = 1; i < attempts && d < 5000; i++)
        d *= 2;
    if (d > 5000)
        d = 5000;
    return d + (int64_t)(rand() % (int)(d / 4 + 1));
}

/* Splits 'nats' into list (pointers into the returned malloc'd copy). */
static char *split_urls(const char *nats, const char **list, int max, int *count)
{
    char *urls = strdup(nats), *save = NULL;
    *count = 0;
    if (!urls)
        return NULL;
    for (char *t = strtok_r(urls, ", ", &save); t && *count < max; t = strtok_r(NULL, ", ", &save))
        list[(*count)++] = t;
    return urls;
}

static void on_side_connected(natsConnection *nc, void *closure)
{
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    jg_debug("nats: side connection to %s up", url);
}

/* Options of the main connection (side_url NULL: every URL, read on the
 * loop), or of a publish-only connection to side_url alone. */
static jg_status set_options(struct jg_nats *n, natsOptions *o, const char *side_url)
{
    const struct jg_config *c = n->cfg;
    const char *list[64];
    int count = 0;
    natsStatus s = NATS_OK;
    char *urls = split_urls(c->nats, list, 64, &count);

    if (!urls)
        return JG_ERR_NOMEM;
    if (count == 0) {
        free(urls);
        jg_err("config: 'nats' holds no URL");
        return JG_ERR_INVALID_CONFIG;
    }
    if (side_url) {
        list[0] = side_url;
        count = 1;
    }
    s = natsOptions_SetServers(o, list, count);
    free(urls);
#define TRY(call)                                  \
    do {                                           \
        if (s == NATS_OK)                          \
            s = (call);                            \
    } while (0)
    TRY(natsOptions_SetName(o, side_url ? "jetgate-side" : "jetgate"));
    TRY(natsOptions_SetMaxReconnect(o, -1));
    TRY(natsOptions_SetReconnectWait(o, c->nats_reconnect_wait_ms));
    TRY(natsOptions_SetCustomReconnectDelay(o, reconnect_delay, n));
    /* Never let the library buffer writes while reconnecting: a write
     * answered 503 must not be sent later (0 would mean the 8 MB default). */
    TRY(natsOptions_SetReconnectBufSize(o, 1));
    TRY(natsOptions_SetSendAsap(o, true));
    if (side_url) {
        /* this server and no other: the point is to publish on it */
        TRY(natsOptions_SetIgnoreDiscoveredServers(o, true));
        TRY(natsOptions_SetNoRandomize(o, true));
        TRY(natsOptions_SetRetryOnFailedConnect(o, true, on_side_connected, NULL));
        TRY(natsOptions_SetErrorHandler(o, on_error, NULL));
    } else {
        TRY(natsOptions_SetRetryOnFailedConnect(o, true, on_connected, n));
        TRY(natsOptions_SetDisconnectedCB(o, on_disconnected, n));
        TRY(natsOptions_SetReconnectedCB(o, on_reconnected, n));
        TRY(natsOptions_SetClosedCB(o, on_closed, n));
        TRY(natsOptions_SetErrorHandler(o, on_error, n));
        /* Asynchronous subscriptions (consumers of watches and object
         * reads) share the library's delivery pool instead of a thread
         * each. */
        TRY(natsOptions_UseGlobalMessageDelivery(o, true));
        /* the socket is read on jetgate's event loop thread (see loop.h) */
        TRY(natsOptions_SetEventLoop(o, n, ev_attach, ev_read, ev_write, ev_detach));
    }
    TRY(natsOptions_SetTimeout(o, 2000));
    /* a server that stops answering (frozen, partitioned) is left within
     * about 6-9 s for another one of the cluster */
    TRY(natsOptions_SetPingInterval(o, 3000));
    TRY(natsOptions_SetMaxPingsOut(o, 2));
    if (c->nats_user)
        TRY(natsOptions_SetUserInfo(o, c->nats_user, c->nats_password));
    if (c->nats_token)
        TRY(natsOptions_SetToken(o, c->nats_token));
    if (c->nats_creds)
        TRY(natsOptions_SetUserCredentialsFromFiles(o, c->nats_creds, NULL));
    if (c->nats_nkey_seed) {
        if (!c->nats_nkey) {
            jg_err("config: 'nats_nkey_seed' needs 'nats_nkey' (the public key)");
            return JG_ERR_INVALID_CONFIG;
        }
        TRY(natsOptions_SetNKeyFromSeed(o, c->nats_nkey, c->nats_nkey_seed));
    }
    if (c->nats_tls || c->nats_tls_ca || c->nats_tls_cert)
        TRY(natsOptions_SetSecure(o, true));
    if (c->nats_tls_ca)
        TRY(natsOptions_LoadCATrustedCertificates(o, c->nats_tls_ca));
    if (c->nats_tls_cert)
        TRY(natsOptions_LoadCertificatesChain(o, c->nats_tls_cert, c->nats_tls_key));
#undef TRY
    if (s != NATS_OK) {
        jg_err("nats: bad connection options: %s", natsStatus_GetText(s));
        return JG_ERR_INVALID_CONFIG;
    }
    return JG_OK;
}

/* --- side connections (jg_nats_request_via) ----------------------------- *
 * nats-server answers a direct get from the stream replica on the
 * publisher's server when there is one, so through the main connection a
 * read only ever asks that server's replica.  To ask the others (a leader
 * or a local replica that lacks messages a quorum stored, see
 * W1 in src/nats/msgget.c), jetgate publishes on a connection to
 * another server.  These connections only publish: no subscription, the
 * replies travel the routes to the main connection's inbox.  Each has the
 * library's own reader thread (they carry nearly nothing). */

/* Connects the side connections (each first attempt can take up to the
 * connect timeout; later ones retry in the background). */
static void *sides_connect(void *arg)
{
    struct jg_nats *n = arg;
    for (int i = 0; i < n->nsides && !atomic_load(&n->stop); i++) {
        natsConnection *nc = NULL;
        natsStatus s = natsConnection_Connect(&nc, n->sides[i].opts);
        if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
            jg_warn("nats: no side connection (%s)", natsStatus_GetText(s));
            continue;
        }
        atomic_store(&n->sides[i].nc, nc);
    }
    return NULL;
}

static jg_status sides_start(struct jg_nats *n)
{
    const char *list[MAX_SIDES + 1];
    int count = 0;
    jg_status st = JG_OK;
    char *urls = split_urls(n->cfg->nats, list, MAX_SIDES + 1, &count);

    if (!urls)
        return JG_ERR_NOMEM;
    if (count < 2 || count > MAX_SIDES)
        goto out; /* one server (or a list too long to keep one each) */
    for (int i = 0; i < count; i++) {
        if (natsOptions_Create(&n->sides[i].opts) != NATS_OK) {
            st = JG_ERR_NOMEM;
            goto out;
        }
        n->nsides = i + 1;
        st = set_options(n, n->sides[i].opts, list[i]);
        if (st != JG_OK)
            goto out;
    }
    if (pthread_create(&n->side_thread, NULL, sides_connect, n) != 0) {
        st = JG_ERR_INTERNAL;
        goto out;
    }
    n->side_thread_started = true;
out:
    free(urls);
    return st;
}

/* The hop-th (round robin) connected side connection on another server
 * than the main connection's; NULL when there is none.  *count gets how
 * many there are. */
static natsConnection *side_for(struct jg_nats *n, int hop, int *count)
{
    char main_id[128] = "", id[128];
    natsConnection *found[MAX_SIDES];
    int k = 0;

    *count = 0;
    if (n->nsides == 0 || natsConnection_GetConnectedServerId(n->nc, main_id, sizeof(main_id)) != NATS_OK)
        return NULL;
    for (int i = 0; i < n->nsides; i++) {
        natsConnection *nc = atomic_load(&n->sides[i].nc);
        if (!nc || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED ||
            natsConnection_GetConnectedServerId(nc, id, sizeof(id)) != NATS_OK ||
            strcmp(id, main_id) == 0)
            continue;
        found[k++] = nc;
    }
    *count = k;
    return k > 0 && hop > 0 ? found[(hop - 1) % k] : NULL;
}

static void sides_close(struct jg_nats *n)
{
    if (n->side_thread_started) {
        pthread_join(n->side_thread, NULL);
        n->side_thread_started = false;
    }
    for (int i = 0; i < n->nsides; i++)
        natsConnection_Close(atomic_load(&n->sides[i].nc));
}

static void sides_free(struct jg_nats *n)
{
    for (int i = 0; i < n->nsides; i++) {
        natsConnection_Destroy(atomic_load(&n->sides[i].nc));
        natsOptions_Destroy(n->sides[i].opts);
    }
    n->nsides = 0;
}

jg_status jg_nats_new(const struct jg_config *cfg, struct jg_loop *loop, struct jg_nats **ret_nats)
{
    struct jg_nats *n = calloc(1, sizeof(*n));
    natsInbox *inbox = NULL;
    jg_status st = JG_ERR_INTERNAL;
    natsStatus s;
    char subj[80];

    if (!n)
        return JG_ERR_NOMEM;
    n->cfg = cfg;
    n->loop = loop;
    n->evfd = -1;
    n->next_id = 1;
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->evlock, NULL);
    pthread_cond_init(&n->stopped_cond, NULL);
    if (natsOptions_Create(&n->opts) != NATS_OK) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    st = set_options(n, n->opts, NULL);
    if (st != JG_OK)
        goto out;
    s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        jg_err("nats: cannot start connecting: %s", natsStatus_GetText(s));
        st = JG_ERR_NATS_UNAVAILABLE;
        goto out;
    }
    if (s == NATS_NOT_YET_CONNECTED) {
        jg_warn("nats: not reachable yet at %s; retrying in the background", cfg->nats);
    } else {
        char url[256] = "";
        natsConnection_GetConnectedUrl(n->nc, url, sizeof(url));
        jg_info("nats: connected to %s", url);
        fetch_server_version(n, url);
    }
    if (natsInbox_Create(&inbox) != NATS_OK) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    snprintf(n->inbox, sizeof(n->inbox), "%s", (const char *)inbox);
    n->inbox_len = strlen(n->inbox);
    snprintf(subj, sizeof(subj), "%s.*", n->inbox);
    s = natsConnection_SubscribeSync(&n->sub, n->nc, subj);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(n->sub, -1, -1);
    if (s == NATS_CONNECTION_CLOSED) {
        /* the library gave up at once (e.g. the server refused the
         * credentials): serve HTTP anyway, answering 503, so the operator
         * sees it in /readyz and the log rather than a dead service */
        const char *why = NULL;
        natsConnection_GetLastError(n->nc, &why);
        jg_err("nats: the connection was closed (%s); check the credentials and restart",
               why ? why : "no reason given");
        natsSubscription_Destroy(n->sub);
        n->sub = NULL;
    } else if (s != NATS_OK) {
        jg_err("nats: cannot subscribe: %s", natsStatus_GetText(s));
        st = JG_ERR_INTERNAL;
        goto out;
    }
    if (jg_loop_add_hook(loop, nats_hook, n) != JG_OK ||
        jg_loop_set_flush(loop, nats_flush, n) != JG_OK) {
        st = JG_ERR_INTERNAL;
        goto out;
    }
    st = sides_start(n);
    if (st != JG_OK)
        goto out;
    natsInbox_Destroy(inbox);
    *ret_nats = n;
    return JG_OK;
out:
    atomic_store(&n->stop, true);
    sides_close(n);
    sides_free(n);
    natsInbox_Destroy(inbox);
    natsSubscription_Destroy(n->sub);
    natsConnection_Close(n->nc);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    pthread_mutex_destroy(&n->lock);
    pthread_mutex_destroy(&n->evlock);
    free(n);
    return st;
}

void jg_nats_shutdown(struct jg_nats *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, true);
    jg_loop_wake(n->loop);
    pthread_mutex_lock(&n->lock);
    while (!n->stopped) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        if (pthread_cond_timedwait(&n->stopped_cond, &n->lock, &ts) != 0)
            break; /* the loop is not running: nothing is pending on it */
    }
    pthread_mutex_unlock(&n->lock);
    if (n->nc && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED)
        natsConnection_FlushTimeout(n->nc, 2000); /* what was published goes out */
    natsSubscription_Unsubscribe(n->sub);
    sides_close(n);
    natsConnection_Close(n->nc);
    /* callbacks (disconnected, closed) run on a library thread: wait for
     * the last one, so none runs after jg_nats_free */
    pthread_mutex_lock(&n->lock);
    while (n->nc && !n->closed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        if (pthread_cond_timedwait(&n->stopped_cond, &n->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&n->lock);
}

void jg_nats_free(struct jg_nats *n)
{
    if (!n)
        return;
    grave_empty(&n->grave);
    sides_free(n);
    natsSubscription_Destroy(n->sub);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    pthread_cond_destroy(&n->stopped_cond);
    pthread_mutex_destroy(&n->lock);
    pthread_mutex_destroy(&n->evlock);
    free(n);
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
    side_for(n, 0, &ret->side_servers);
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
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : n->cfg->request_timeout_ms;
    pthread_mutex_lock(&n->lock);
    if (n->inflight >= (uint64_t)n->cfg->max_inflight) {
        pthread_mutex_unlock(&n->lock);
        return JG_ERR_TOO_MANY_REQUESTS;
    }
    r->id = n->next_id++;
    r->deadline_ms = jg_now_ms() + r->timeout_ms;
    snprintf(r->reply, sizeof(r->reply), "%s.%llu", n->inbox, (unsigned long long)r->id);
    table_insert(n, r);
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
    bool mine = table_find(n, id) == r;
    if (mine)
        table_remove(n, r);
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
    natsConnection *nc = hop > 0 ? side_for(n, hop, &count) : NULL;
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
    if (table_find(n, r->id) == r)
        table_remove(n, r);
    pthread_mutex_unlock(&n->lock);
}

void jg_nats_touch(struct jg_nats *n, struct jg_nats_req *r)
{
    pthread_mutex_lock(&n->lock);
    if (table_find(n, r->id) == r) {
        table_remove(n, r);
        r->deadline_ms = jg_now_ms() + r->timeout_ms;
        table_insert(n, r);
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
