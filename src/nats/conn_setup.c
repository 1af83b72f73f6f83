/* conn_setup.c - the connection's options and callbacks, the side
 * connections, creation and shutdown (see conn.h). */
#include "autoconfig.h"
#include "nats/conn.h"

#include <netdb.h>
#include <pthread.h>
#include <sched.h>
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
#include "nats/conn_int.h"

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
    atomic_store(&n->resend_all, true);
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

/* Credentials and TLS of the options; *ret gets the libnats status. */
static jg_status set_credentials(const struct jg_config *c, natsOptions *o, natsStatus *ret)
{
    natsStatus s = NATS_OK;
#define TRY(call)                                  \
    do {                                           \
        if (s == NATS_OK)                          \
            s = (call);                            \
    } while (0)
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
    *ret = s;
    return JG_OK;
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
    /* One read of the socket per object chunk (128 KiB) rather than four
     * with the 32 KiB default: a read event per read, on the loop thread. */
    TRY(natsOptions_SetIOBufSize(o, 256 * 1024));
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
        TRY(natsOptions_SetEventLoop(o, n, jg_nats_ev_attach, jg_nats_ev_read, jg_nats_ev_write, jg_nats_ev_detach));
    }
    TRY(natsOptions_SetTimeout(o, 2000));
    /* a server that stops answering (frozen, partitioned) is left within
     * about 6-9 s for another one of the cluster */
    TRY(natsOptions_SetPingInterval(o, 3000));
    TRY(natsOptions_SetMaxPingsOut(o, 2));
    if (s == NATS_OK && set_credentials(c, o, &s) != JG_OK)
        return JG_ERR_INVALID_CONFIG;
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
natsConnection *jg_nats_side_for(struct jg_nats *n, int hop, int *count)
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

/* libnats starts threads of its own on its first call: the garbage
 * collector that natsMsg_Destroy hands every message to (waking it when
 * its list was empty), timers, connection-event callbacks.  Started from a
 * thread in SCHED_BATCH they inherit that policy, under which a woken
 * thread waits for a free core or the next tick instead of preempting the
 * thread that woke it.  Without it, the loop thread freeing a batch of
 * replies was switched to the collector and back twice per message (the
 * collector woken by the signal, then by the unlock of the lock it waits
 * for), about 1 ms per batch on a busy core. */
static void open_library(void)
{
    struct sched_param batch = {0}, old;
    int policy;
    bool changed = pthread_getschedparam(pthread_self(), &policy, &old) == 0 &&
                   policy == SCHED_OTHER &&
                   pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch) == 0;
    nats_Open(-1);
    if (changed)
        pthread_setschedparam(pthread_self(), policy, &old);
}

/* Starts connecting (in the background when no server answers yet). */
static jg_status connect_main(struct jg_nats *n)
{
    open_library();
    if (natsOptions_Create(&n->opts) != NATS_OK)
        return JG_ERR_NOMEM;
    jg_status st = set_options(n, n->opts, NULL);
    if (st != JG_OK)
        return st;
    natsStatus s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        jg_err("nats: cannot start connecting: %s", natsStatus_GetText(s));
        return JG_ERR_NATS_UNAVAILABLE;
    }
    if (s == NATS_NOT_YET_CONNECTED) {
        jg_warn("nats: not reachable yet at %s; retrying in the background", n->cfg->nats);
    } else {
        char url[256] = "";
        natsConnection_GetConnectedUrl(n->nc, url, sizeof(url));
        jg_info("nats: connected to %s", url);
        fetch_server_version(n, url);
    }
    return JG_OK;
}

/* The reply subscription "<inbox>.*" (and the leader advisories). */
static jg_status subscribe_replies(struct jg_nats *n)
{
    natsInbox *inbox = NULL;
    char subj[80];
    if (natsInbox_Create(&inbox) != NATS_OK)
        return JG_ERR_NOMEM;
    snprintf(n->inbox, sizeof(n->inbox), "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    n->inbox_len = strlen(n->inbox);
    snprintf(subj, sizeof(subj), "%s.*", n->inbox);
    natsStatus s = natsConnection_SubscribeSync(&n->sub, n->nc, subj);
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
        return JG_OK;
    }
    if (s != NATS_OK) {
        jg_err("nats: cannot subscribe: %s", natsStatus_GetText(s));
        return JG_ERR_INTERNAL;
    }
    jg_nats_resend_start(n);
    return JG_OK;
}

jg_status jg_nats_new(const struct jg_config *cfg, struct jg_loop *loop, struct jg_nats **ret_nats)
{
    struct jg_nats *n = calloc(1, sizeof(*n));
    jg_status st;

    if (!n)
        return JG_ERR_NOMEM;
    n->cfg = cfg;
    n->loop = loop;
    n->evfd = -1;
    n->next_id = 1;
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->evlock, NULL);
    pthread_cond_init(&n->stopped_cond, NULL);
    st = connect_main(n);
    if (st == JG_OK)
        st = subscribe_replies(n);
    if (st != JG_OK)
        goto out;
    if (jg_loop_add_hook(loop, jg_nats_hook, n) != JG_OK ||
        jg_loop_set_flush(loop, jg_nats_flush, n) != JG_OK) {
        st = JG_ERR_INTERNAL;
        goto out;
    }
    st = sides_start(n);
    if (st != JG_OK)
        goto out;
    *ret_nats = n;
    return JG_OK;
out:
    atomic_store(&n->stop, true);
    sides_close(n);
    sides_free(n);
    natsSubscription_Destroy(n->elected);
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
    natsSubscription_Unsubscribe(n->elected);
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
    jg_nats_grave_empty(&n->grave);
    sides_free(n);
    natsSubscription_Destroy(n->elected);
    natsSubscription_Destroy(n->sub);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    pthread_cond_destroy(&n->stopped_cond);
    pthread_mutex_destroy(&n->lock);
    pthread_mutex_destroy(&n->evlock);
    free(n);
}

