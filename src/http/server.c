/* server.c - the libmicrohttpd daemons on jetgate's event loop: options
 * and start-up (TCP or TLS listener, the Unix-domain one), the loop hook
 * that runs them, the self check for the watchdog, quiesce and stop, and
 * the statistics and per-route /metrics text.  The request life cycle is
 * in lifecycle.c, limits in limits.c, responses in respond.c (see
 * server_int.h). */
#include "autoconfig.h"
#include "http/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/router.h"
#include "http/tls.h"
#include "log.h"
#include "loop.h"
#include "util.h"

const double jg_http_latency_bounds[NBOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                5,      10};

static size_t keep_raw(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    if (!jg_log_enabled(JG_LOG_DEBUG))
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    jg_debug("http: %s", msg);
}

/* libmicrohttpd's memory per connection: its read buffer must hold a
 * request line and headers whole, plus its records of them, for jetgate
 * to see a request over max_header_size and answer 414 or 431 itself.
 * Half as much again and 8 KiB (32 KiB for the default 16 KiB): requests
 * up to about 1.4 times max_header_size get jetgate's problem answer.  The
 * memory is resident per connection (libmicrohttpd zeroes it between
 * requests), so the margin is kept small. */
static size_t mhd_memory(int64_t max_header_size)
{
    return (size_t)max_header_size * 3 / 2 + 8 * 1024;
}

static jg_status parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    uint64_t port;
    if (!colon || jg_u64_parse(colon + 1, &port) != JG_OK || port > 65535)
        return JG_ERR_INVALID_CONFIG;
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return JG_ERR_INVALID_CONFIG;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? JG_OK : JG_ERR_INVALID_CONFIG;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *v6 = false;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? JG_OK : JG_ERR_INVALID_CONFIG;
}

static void on_http_fd(void *ctx, uint32_t events)
{
    /* nothing to do here: the hook runs MHD_run every iteration */
}

/* Loop hook: let libmicrohttpd do its work (accept, read, resume,
 * respond); returns how long it may wait.  A connection that has just
 * answered stays on libmicrohttpd's ready list until a read finds nothing
 * (or its next request): up to HTTP_PASSES runs in one turn take it there
 * without a turn of the whole loop each. */
#define HTTP_PASSES 3

static int64_t http_hook(void *ctx)
{
    struct jg_http *h = ctx;
    MHD_UNSIGNED_LONG_LONG t = 0;
    int64_t wait = -1;
    struct MHD_Daemon *ds[2] = {h->daemon, h->unix_daemon};
    for (int i = 0; i < 2; i++) {
        if (!ds[i])
            continue;
        bool timed = false;
        for (int pass = 0; pass < HTTP_PASSES; pass++) {
            atomic_store(&h->resumed, false);
            MHD_run(ds[i]);
            timed = MHD_get_timeout(ds[i], &t) == MHD_YES;
            if (atomic_load(&h->resumed)) {
                timed = true; /* its run takes the resumed connection back */
                t = 0;
                continue;
            }
            if (!timed || t > 0)
                break;
        }
        if (timed && (wait < 0 || (int64_t)t < wait))
            wait = t > 1000 ? 1000 : (int64_t)t;
    }
    return wait;
}

/* The Unix-domain listener: plain HTTP on a socket file with the given
 * permissions, served by a second daemon on the same loop and with the
 * same handlers and limits. */
static jg_status start_unix(struct jg_http *h, struct jg_loop *loop, unsigned flags,
                            struct MHD_OptionItem *ops)
{
    const struct jg_config *cfg = &h->app->cfg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    uint64_t mode = 0;
    int fd;

    for (const char *p = cfg->listen_unix_mode; *p; p++) {
        if (*p < '0' || *p > '7' || mode > 07777) {
            jg_err("config: 'listen_unix_mode' must be octal, such as 0660");
            return JG_ERR_INVALID_CONFIG;
        }
        mode = mode * 8 + (uint64_t)(*p - '0');
    }
    if (strlen(cfg->listen_unix) >= sizeof(sa.sun_path)) {
        jg_err("config: 'listen_unix' path is too long");
        return JG_ERR_INVALID_CONFIG;
    }
    strcpy(sa.sun_path, cfg->listen_unix);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(sa.sun_path); /* a stale socket file from an earlier run */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        chmod(sa.sun_path, (mode_t)mode) != 0 || listen(fd, 511) != 0) {
        jg_err("http: cannot listen on unix:%s: %s", sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return JG_ERR_INVALID_CONFIG;
    }
    for (int i = 0; ops[i].option != MHD_OPTION_END; i++) {
        if (ops[i].option == MHD_OPTION_SOCK_ADDR) {
            ops[i].option = MHD_OPTION_LISTEN_SOCKET;
            ops[i].value = fd;
            ops[i].ptr_value = NULL;
        }
        if (ops[i].option == MHD_OPTION_PER_IP_CONNECTION_LIMIT)
            ops[i].value = 0; /* no addresses on a Unix socket */
    }
    h->unix_daemon = MHD_start_daemon(flags & ~(unsigned)(MHD_USE_TLS | MHD_USE_IPv6), 0, NULL,
                                      NULL, jg_http_on_access, h, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!h->unix_daemon) {
        jg_err("http: cannot serve unix:%s", sa.sun_path);
        close(fd);
        return JG_ERR_INTERNAL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->unix_daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di || jg_loop_add(loop, di->epoll_fd, EPOLLIN, on_http_fd, h) != JG_OK)
        return JG_ERR_INTERNAL;
    jg_info("http: listening on unix:%s (mode %04llo)", sa.sun_path, (unsigned long long)mode);
    return JG_OK;
}

/* The server object, before any daemon (NULL without memory). */
static struct jg_http *http_new(struct jg_app *app, struct jg_loop *loop,
                                const struct sockaddr_storage *ss)
{
    struct jg_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->app = app;
    h->loop = loop;
    h->addr = *ss;
    h->id_base = (uint32_t)(jg_realtime_ns() / 1000) ^ ((uint32_t)getpid() << 16);
    while (jg_routes[h->nroutes].pattern)
        h->nroutes++;
    h->stats = calloc(h->nroutes + 1, sizeof(*h->stats));
    if (!h->stats) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->stream_lock, NULL);
    pthread_mutex_init(&h->clock_lock, NULL);
    pthread_cond_init(&h->reaper_cond, NULL);
    return h;
}

/* Frees what http_new() made, and what a failed start left. */
static void http_free(struct jg_http *h)
{
    pthread_mutex_destroy(&h->stream_lock);
    pthread_mutex_destroy(&h->clock_lock);
    pthread_cond_destroy(&h->reaper_cond);
    free(h->client_ca);
    free(h->stats);
    free(h);
}

/* TLS options (tls_cert, tls_client_ca) added to ops at *no. */
static jg_status tls_options(struct jg_http *h, unsigned *flags, struct MHD_OptionItem *ops,
                             int *no)
{
    const struct jg_config *cfg = &h->app->cfg;
    if (!cfg->tls_key || jg_tls_load(cfg->tls_cert, cfg->tls_key) != JG_OK) {
        jg_err("tls: 'tls_cert' needs a readable 'tls_key'");
        return JG_ERR_INVALID_CONFIG;
    }
    if (!jg_tls_priorities_ok(cfg->tls_priorities))
        return JG_ERR_INVALID_CONFIG;
    *flags |= MHD_USE_TLS;
    ops[(*no)++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                           jg_tls_retrieve_callback()};
    ops[(*no)++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                           (void *)cfg->tls_priorities};
    if (cfg->tls_client_ca) {
        h->client_ca = jg_tls_read_file(cfg->tls_client_ca);
        if (!h->client_ca) {
            jg_err("tls: cannot read 'tls_client_ca' file '%s'", cfg->tls_client_ca);
            return JG_ERR_INVALID_CONFIG;
        }
        ops[(*no)++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, h->client_ca};
    }
    return JG_OK;
}

/* libmicrohttpd's flags and options (ops has room for 24) from the
 * configuration. */
static jg_status daemon_options(struct jg_http *h, struct sockaddr_storage *ss, bool v6,
                                unsigned *ret_flags, struct MHD_OptionItem *ops)
{
    const struct jg_config *cfg = &h->app->cfg;
    /* no internal thread: libmicrohttpd runs on jetgate's event loop, the
     * same thread that reads NATS replies (loop.h) */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (v6)
        flags |= MHD_USE_IPv6;
    unsigned timeout_s = (unsigned)((cfg->idle_timeout_ms + 999) / 1000);
    int no = 0;
#define OPT(o, v, p) ops[no++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h);
    OPT(MHD_OPTION_SOCK_ADDR, 0, ss);
    /* jetgate closes connections over max_connections itself (a
     * reloadable limit); this only bounds what libmicrohttpd accepts */
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections * 2 + 64, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL);
    h->idle_timeout_s = timeout_s;
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, mhd_memory(cfg->max_header_size), NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)jg_http_on_completed, h);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)jg_http_on_uri, h);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)jg_http_on_connection, h);
    OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_raw, h);
    OPT(MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
#undef OPT
    if (cfg->tls_cert && tls_options(h, &flags, ops, &no) != JG_OK)
        return JG_ERR_INVALID_CONFIG;
    ops[no] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    *ret_flags = flags;
    return JG_OK;
}

jg_status jg_http_start(struct jg_app *app, struct jg_loop *loop, struct jg_http **ret_http)
{
    const struct jg_config *cfg = &app->cfg;
    struct sockaddr_storage ss;
    struct MHD_OptionItem ops[24];
    unsigned flags;
    bool v6;
    struct jg_http *h;

    if (parse_listen(cfg->listen, &ss, &v6) != JG_OK) {
        jg_err("config: bad listen address '%s' (want HOST:PORT or [V6]:PORT)", cfg->listen);
        return JG_ERR_INVALID_CONFIG;
    }
    h = http_new(app, loop, &ss);
    if (!h)
        return JG_ERR_NOMEM;
    if (daemon_options(h, &ss, v6, &flags, ops) != JG_OK) {
        http_free(h);
        return JG_ERR_INVALID_CONFIG;
    }
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, jg_http_on_access, h, MHD_OPTION_ARRAY,
                                 ops, MHD_OPTION_END);
    if (!h->daemon) {
        jg_err("http: cannot listen on %s: %s", cfg->listen, strerror(errno));
        http_free(h);
        return JG_ERR_INVALID_CONFIG;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    jg_status ust = cfg->listen_unix && *cfg->listen_unix ? start_unix(h, loop, flags, ops) : JG_OK;
    if (ust != JG_OK || !di || jg_loop_add(loop, di->epoll_fd, EPOLLIN, on_http_fd, h) != JG_OK ||
        jg_loop_add_hook(loop, http_hook, h) != JG_OK ||
        pthread_create(&h->reaper, NULL, jg_http_reaper_main, h) != 0) {
        if (h->unix_daemon)
            MHD_stop_daemon(h->unix_daemon);
        MHD_stop_daemon(h->daemon);
        http_free(h);
        return ust != JG_OK ? ust : JG_ERR_INTERNAL;
    }
    jg_info("http: listening on %s", cfg->listen);
    *ret_http = h;
    return JG_OK;
}

bool jg_http_alive(struct jg_http *h)
{
    struct sockaddr_storage a = h->addr;
    socklen_t len = sizeof(struct sockaddr_in);
    char buf[64];
    bool ok = false;
    struct timeval tv = {2, 0};

    if (a.ss_family == AF_INET6) {
        len = sizeof(struct sockaddr_in6);
        if (IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a)->sin6_addr))
            ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
    } else if (((struct sockaddr_in *)&a)->sin_addr.s_addr == htonl(INADDR_ANY)) {
        ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    static const char probe[] = "GET /healthz HTTP/1.0\r\n\r\n";
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
        connect(fd, (struct sockaddr *)&a, len) == 0 &&
        write(fd, probe, sizeof(probe) - 1) == (ssize_t)(sizeof(probe) - 1)) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 12) {
            buf[n] = '\0';
            ok = strncmp(buf + 8, " 200", 4) == 0;
        }
    }
    close(fd);
    return ok;
}

void jg_http_quiesce(struct jg_http *h)
{
    MHD_socket s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    if (h->unix_daemon && (s = MHD_quiesce_daemon(h->unix_daemon)) != MHD_INVALID_SOCKET) {
        close(s);
        unlink(h->app->cfg.listen_unix);
    }
}

int64_t jg_http_active(struct jg_http *h)
{
    return atomic_load(&h->active);
}

void jg_http_get_stats(struct jg_http *h, struct jg_http_stats *ret)
{
    ret->requests = atomic_load(&h->requests);
    for (int i = 0; i < 6; i++)
        ret->by_class[i] = atomic_load(&h->by_class[i]);
    ret->bytes_in = atomic_load(&h->bytes_in);
    ret->bytes_out = atomic_load(&h->bytes_out);
    pthread_mutex_lock(&h->clock_lock);
    ret->deadline_cuts = h->deadline_cuts;
    ret->refused_conns = h->refused_conns;
    ret->open_conns = h->nconns;
    pthread_mutex_unlock(&h->clock_lock);
}

void jg_http_metrics(struct jg_http *h, struct jg_buf *b)
{
    char method[16];
    pthread_mutex_lock(&h->clock_lock);
    uint64_t rate_cuts = h->upload_rate_cuts;
    pthread_mutex_unlock(&h->clock_lock);
    jg_buf_printf(b,
                  "# HELP jetgate_http_upload_rate_closed_total Uploads cut because their body "
                  "came slower than min_upload_rate over upload_rate_window.\n"
                  "# TYPE jetgate_http_upload_rate_closed_total counter\n"
                  "jetgate_http_upload_rate_closed_total %llu\n",
                  (unsigned long long)rate_cuts);
    jg_buf_printf(b,
                  "# HELP jetgate_config_reload_failures_total SIGHUP reloads refused (the "
                  "running configuration and tokens were kept).\n"
                  "# TYPE jetgate_config_reload_failures_total counter\n"
                  "jetgate_config_reload_failures_total %llu\n",
                  (unsigned long long)atomic_load(&h->app->reload_failures));
    jg_buf_puts(b, "# HELP jetgate_http_requests_total HTTP requests answered, by route, method "
                   "and status.\n# TYPE jetgate_http_requests_total counter\n");
    for (size_t i = 0; i <= h->nroutes; i++) {
        const struct jg_route *r = i < h->nroutes ? &jg_routes[i] : NULL;
        jg_methods_text(r ? r->methods : 0, method, sizeof(method));
        for (int c = 0; c < 500; c++) {
            uint64_t v = atomic_load(&h->stats[i].by_code[c]);
            if (v)
                jg_buf_printf(b,
                              "jetgate_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} "
                              "%llu\n",
                              r ? r->operation_id : "none", r ? method : "", c + 100,
                              (unsigned long long)v);
        }
    }
    jg_buf_puts(b, "# HELP jetgate_http_request_duration_seconds Time from request line to "
                   "response, by route.\n# TYPE jetgate_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= h->nroutes; i++) {
        const char *name = i < h->nroutes ? jg_routes[i].operation_id : "none";
        uint64_t cum = 0, vals[NBOUNDS + 1];
        for (size_t k = 0; k <= NBOUNDS; k++) {
            vals[k] = atomic_load(&h->stats[i].buckets[k]);
            cum += vals[k];
        }
        if (!cum)
            continue;
        uint64_t run = 0;
        for (size_t k = 0; k < NBOUNDS; k++) {
            run += vals[k];
            jg_buf_printf(b, "jetgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          name, jg_http_latency_bounds[k], (unsigned long long)run);
        }
        jg_buf_printf(b, "jetgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      name, (unsigned long long)cum);
        jg_buf_printf(b, "jetgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
                      (double)atomic_load(&h->stats[i].sum_us) / 1e6);
        jg_buf_printf(b, "jetgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
                      (unsigned long long)cum);
    }
}

void jg_http_stop(struct jg_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->clock_lock);
    h->reaper_stop = true;
    pthread_cond_signal(&h->reaper_cond);
    pthread_mutex_unlock(&h->clock_lock);
    pthread_join(h->reaper, NULL);
    if (h->unix_daemon)
        MHD_stop_daemon(h->unix_daemon);
    MHD_stop_daemon(h->daemon);
    jg_tls_done();
    free(h->reap_fds);
    free(h->reap_reqs);
    http_free(h);
}
