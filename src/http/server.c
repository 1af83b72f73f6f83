/* server.c - libmicrohttpd daemon, request life cycle and limits.
 *
 * Request states: HEADERS (allocated by the URI-log callback when the
 * request line arrives), BODY (route found, body being read), RUNNING
 * (handler started; maybe suspended while NATS answers), READY (response
 * complete, to be queued on the next access-handler call). */
#include "autoconfig.h"
#include "http/server.h"
#include "http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/request.h"
#include "http/router.h"
#include "auth.h"
#include "http/authz.h"
#include "log.h"
#include "loop.h"
#include "nats/conn.h"
#include "util.h"

enum { ST_HEADERS, ST_BODY, ST_RUNNING, ST_READY, ST_DISCARD, ST_STREAM, ST_LINGER };

/* A request refused before its body arrived still has its body read (up to
 * this much) so that the client sees the answer instead of a reset.  Past
 * it the answer is written with Connection: close, the connection is shut
 * down for writing, and what the client still sends is read away for at
 * most LINGER_MS (a close with unread data would reset the connection and
 * could take the answer with it). */
#define DISCARD_MAX (8u << 20)
#define LINGER_MS 2000

static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

/* One per TCP connection, for deadlines that bytes trickling in cannot
 * push back.  Waiting for a request line (idle keep-alive, or a line sent
 * slowly) the limit is idle_timeout from accept or the previous response;
 * from the request line on, request_deadline for headers and body.  The
 * clock stops while a handler works (waiting for NATS or streaming is not
 * the client's fault).
 *
 * A streamed upload (an object's body, which may rightly take longer than
 * request_deadline) is held to min_upload_rate instead: the bytes received
 * over each upload_rate_window of its time, not counting the time jetgate
 * itself paused it (waiting for NATS to take the chunks). */
enum { CLOCK_OFF, CLOCK_LINE, CLOCK_REQUEST, CLOCK_UPLOAD, CLOCK_LINGER };

struct conn_clock {
    struct conn_clock *prev, *next;
    int fd;
    int mode;
    int64_t since_ms;        /* LINE, REQUEST: start; UPLOAD: this window's start */
    uint64_t up_bytes;       /* UPLOAD: bytes received in this window */
    int64_t up_paused_ms;    /* UPLOAD: paused by jetgate in this window */
    int64_t up_pause_since;  /* UPLOAD: paused since then (0: running) */
};

/* Per-route counters; row nroutes is "no route". */
struct route_stats {
    atomic_uint_fast64_t by_code[500]; /* status 100..599 */
    atomic_uint_fast64_t buckets[NBOUNDS + 1];
    atomic_uint_fast64_t sum_us;
};

struct jg_http {
    struct jg_app *app;
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *unix_daemon;   /* listen_unix, or NULL */
    struct jg_loop *loop;
    atomic_bool resumed;          /* a connection was resumed on the loop thread */
    atomic_int_fast64_t active;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t by_class[6];
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t bytes_out;
    atomic_uint_fast64_t next_id;
    uint32_t id_base;             /* per process, so ids differ across restarts */
    unsigned idle_timeout_s;      /* libmicrohttpd's connection timeout */
    size_t nroutes;
    struct route_stats *stats;
    struct sockaddr_storage addr; /* where we listen, for the self check */
    pthread_mutex_t clock_lock;   /* guards clocks */
    struct conn_clock *clocks;
    char *client_ca;              /* PEM text when mutual TLS is on */
    pthread_t reaper;
    pthread_cond_t reaper_cond;
    bool reaper_stop;
    uint64_t deadline_cuts;
    uint64_t upload_rate_cuts;    /* uploads cut under min_upload_rate (clock_lock) */
    int64_t nconns;               /* open connections (clock_lock) */
    uint64_t refused_conns;
    pthread_mutex_t stream_lock;  /* streaming responses: waiting flags, list */
    struct jg_req *streams;
    struct pollfd *reap_fds;      /* the reaper's poll set (reaper thread) */
    struct jg_req **reap_reqs;
    size_t reap_cap;
};

static struct jg_req *req_new(struct jg_http *h)
{
    struct jg_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->app = h->app;
    req->http = h;
    atomic_init(&req->refs, 1);
    req->start_ms = jg_now_ms();
    jg_buf_init(&req->body);
    jg_buf_init(&req->scratch);
    atomic_init(&req->state, ST_HEADERS);
    return req;
}

static void req_free(struct jg_req *req)
{
    if (!req)
        return;
    char **v = (char **)req->scratch.data;
    for (size_t i = 0; i < req->scratch.len / sizeof(char *); i++)
        free(v[i]);
    jg_buf_done(&req->scratch);
    jg_buf_done(&req->body);
    jg_auth_unref(req->auth);
    jg_strv_free(req->scope);
    jg_resp_clear(&req->resp);
    free(req->bucket);
    free(req->key);
    free(req->path);
    free(req);
}

static struct conn_clock *clock_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The body of a streamed upload starts to flow (any thread). */
static void upload_clock_start(struct jg_http *h, struct MHD_Connection *conn)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    c->mode = CLOCK_UPLOAD;
    c->since_ms = jg_now_ms();
    c->up_bytes = 0;
    c->up_paused_ms = 0;
    c->up_pause_since = 0;
    pthread_mutex_unlock(&h->clock_lock);
}

/* n more bytes of an upload's body came in (HTTP thread). */
static void upload_clock_add(struct jg_http *h, struct MHD_Connection *conn, size_t n)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    if (c->mode == CLOCK_UPLOAD)
        c->up_bytes += n;
    pthread_mutex_unlock(&h->clock_lock);
}

/* jetgate paused the upload, or let it go on (any thread). */
static void upload_clock_pause(struct jg_http *h, struct MHD_Connection *conn, bool paused)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    int64_t now = jg_now_ms();
    if (c->mode == CLOCK_UPLOAD && paused && !c->up_pause_since) {
        c->up_pause_since = now;
    } else if (c->mode == CLOCK_UPLOAD && !paused && c->up_pause_since) {
        c->up_paused_ms += now - c->up_pause_since;
        c->up_pause_since = 0;
    }
    pthread_mutex_unlock(&h->clock_lock);
}

/* Reaper: is this upload under min_upload_rate over its last window?
 * Starts the next window when it is not (clock_lock held). */
static bool upload_too_slow(struct conn_clock *c, int64_t now, int64_t rate, int64_t window)
{
    int64_t paused = c->up_paused_ms + (c->up_pause_since ? now - c->up_pause_since : 0);
    int64_t active = now - c->since_ms - paused;
    if (rate == 0 || active < window)
        return false;
    if ((double)c->up_bytes < (double)rate * (double)active / 1000.0)
        return true;
    c->since_ms = now;
    c->up_bytes = 0;
    c->up_paused_ms = 0;
    if (c->up_pause_since)
        c->up_pause_since = now;
    return false;
}

/* A streaming upload's gate: the HTTP thread pauses it (suspending the
 * connection) when on_body takes less than offered; any thread may wake
 * it.  A wake that comes before the pause is remembered, so it is never
 * lost, and nothing waits or spins. */
enum { GATE_RUNNING, GATE_PAUSED, GATE_WAKE };

/* Resumes a suspended connection.  libmicrohttpd runs on the loop thread
 * and does not watch its own wake-up channel there, and a resume takes
 * effect only in its next run: from any other thread the loop is woken;
 * on the loop thread (inside a run, from a handler) the hook is told to
 * run libmicrohttpd again before the loop sleeps (its timeout does not
 * count resumed connections, so with no other connection the loop could
 * sleep on with the request's answer or the rest of its body unread). */
static void resume_conn(struct jg_http *h, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    if (jg_loop_on_thread(h->loop))
        atomic_store(&h->resumed, true);
    else
        jg_loop_wake(h->loop);
}

static void resume(struct jg_req *req)
{
    resume_conn(req->http, req->conn);
}

/* HTTP thread, after a piece of a request body was taken whole: has the
 * client gone (its FIN or reset waiting behind the bytes just read)?
 * libmicrohttpd (0.9.x, epoll, edge-triggered) takes a read shorter than
 * its buffer for the end of what the socket holds and waits for the next
 * edge; a FIN that came in the same edge as the last bytes makes none, so
 * the connection would wait for ever, in CLOSE-WAIT, its request counted
 * active.  A suspend and resume marks it ready again: its next read sees
 * the end and it is closed as libmicrohttpd closes any client that left. */
static void recheck_gone(struct jg_http *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char c;
    if (!ci)
        return;
    ssize_t r = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return;
    MHD_suspend_connection(conn);
    resume_conn(h, conn);
}

static void upload_wake(struct jg_req *req)
{
    int expect = GATE_PAUSED;
    if (atomic_compare_exchange_strong(&req->upload_gate, &expect, GATE_RUNNING)) {
        upload_clock_pause(req->http, req->conn, false);
        resume(req);
        return;
    }
    expect = GATE_RUNNING;
    atomic_compare_exchange_strong(&req->upload_gate, &expect, GATE_WAKE);
}

/* HTTP thread: on_body took less than offered. */
static void upload_pause(struct jg_req *req)
{
    int expect = GATE_RUNNING;
    MHD_suspend_connection(req->conn);
    upload_clock_pause(req->http, req->conn, true);
    if (!atomic_compare_exchange_strong(&req->upload_gate, &expect, GATE_PAUSED)) {
        upload_clock_pause(req->http, req->conn, false);
        /* woken already: carry on with the rest of the body */
        atomic_store(&req->upload_gate, GATE_RUNNING);
        resume(req);
    }
}

void jg_req_done(struct jg_req *req)
{
    bool suspended = req->suspended;
    struct MHD_Connection *conn = req->conn;
    struct jg_http *h = req->http;
    bool uploading = atomic_load(&req->state) == ST_STREAM;
    atomic_store(&req->state, ST_READY);
    /* req may be freed by the loop thread from here on: use the copies */
    if (uploading)
        upload_wake(req); /* a paused upload reads the rest away, then answers */
    else if (suspended)
        resume_conn(h, conn);
}

static void clock_set(struct jg_http *h, struct MHD_Connection *conn, int mode)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_clock *c = ci ? ci->socket_context : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    c->mode = mode;
    c->since_ms = jg_now_ms();
    pthread_mutex_unlock(&h->clock_lock);
}

static ssize_t content_reader(void *cls, uint64_t pos, char *buf, size_t max);
static void content_free(void *cls);

/* Response headers a browser page may read (CORS). */
static const char cors_expose[] =
    "ETag, Last-Modified, Content-Range, Content-Length, Accept-Ranges, Repr-Digest, "
    "Retry-After, Location, X-Request-Id, X-Nats-Kv-Bucket, X-Nats-Kv-Key, X-Nats-Kv-Created, "
    "X-Nats-Kv-Revision, X-Nats-Kv-Delta, X-Nats-Kv-Operation, X-Nats-Kv-Sequence, "
    "X-Nats-Obj-Name, X-Nats-Obj-Bucket, X-Nats-Obj-Nuid, X-Nats-Obj-Size, X-Nats-Obj-Mod-Time, "
    "X-Nats-Obj-Chunks, X-Nats-Obj-Digest, X-Nats-Obj-Description, X-Nats-Obj-Max-Chunk-Size";

static void msg_free_cb(void *cls)
{
    jg_nats_msg_release(cls);
}

/* An answer given: counted by class and by route and code. */
static void count_status(struct jg_http *h, struct jg_req *req)
{
    int status = req->resp.status;
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&h->by_class[cls], 1);
    size_t ri = req->route ? (size_t)(req->route - jg_routes) : h->nroutes;
    if (status >= 100 && status < 600)
        atomic_fetch_add(&h->stats[ri].by_code[status - 100], 1);
}

static enum MHD_Result queue(struct jg_http *h, struct jg_req *req)
{
    struct jg_resp *r = &req->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;
    size_t body_len = r->body_len;

    if (req->counted) {
        req->counted = false;
        atomic_fetch_sub(&h->active, 1);
    }
    if (r->status == 0)
        jg_resp_problem(r, JG_ERR_INTERNAL, 0, "handler produced no response");
    if (r->stream_read) {
        mr = MHD_create_response_from_callback(
            r->stream_size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)r->stream_size, r->stream_block,
            content_reader, req, content_free);
        if (mr) {
            jg_req_ref(req); /* dropped by content_free */
            pthread_mutex_lock(&h->stream_lock);
            req->snext = h->streams;
            req->sprev = NULL;
            if (h->streams)
                h->streams->sprev = req;
            h->streams = req;
            pthread_mutex_unlock(&h->stream_lock);
        }
    } else if (r->body_msg) {
        mr = MHD_create_response_from_buffer_with_free_callback_cls(r->body_len, r->body,
                                                                    msg_free_cb, r->body_msg);
        r->body_msg = NULL;
        r->body = NULL;
    } else if (r->body) {
        mr = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body, free);
        r->body = NULL;
    } else {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!mr)
        return MHD_NO;
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(mr, jg_resp_hdr_at(r, i)->name, jg_resp_hdr_at(r, i)->value);
    if (r->request_id[0])
        MHD_add_response_header(mr, "X-Request-Id", r->request_id);
    if (req->cors_origin) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", req->cors_origin);
        MHD_add_response_header(mr, "Vary", "Origin");
        MHD_add_response_header(mr, "Access-Control-Expose-Headers", cors_expose);
    }
    if (atomic_load(&h->app->shutting_down))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    if (!r->stream_read) {
        atomic_fetch_add(&h->bytes_out, body_len);
        req->bytes_out = body_len;
    }
    ret = MHD_queue_response(req->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    count_status(h, req);
    return ret;
}

/* The answer of a request whose body goes on past DISCARD_MAX: libmicrohttpd
 * (0.9.x) takes a response only before the body or after all of it, and
 * when it answers before the body it closes the connection as soon as the
 * answer is out, with the body still coming, which resets the connection
 * and can take the answer with it.  So the answer is written to the socket
 * here, with Connection: close, and the socket is shut down for writing;
 * the rest of the body is read away while the client sees the answer and
 * closes, LINGER_MS at most.  Returns false when it cannot (TLS, a
 * streamed response, a full socket): the caller closes or queues. */
static bool answer_and_linger(struct jg_http *h, struct jg_req *req)
{
    struct jg_resp *r = &req->resp;
    const union MHD_ConnectionInfo *tls =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if ((tls && tls->tls_session) || !ci || r->stream_read)
        return false;
    struct jg_buf b;
    jg_buf_init(&b);
    const char *reason = MHD_get_reason_phrase_for((unsigned)r->status);
    jg_buf_printf(&b, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %zu\r\n",
                  r->status, reason ? reason : "", r->body ? r->body_len : 0);
    for (int i = 0; i < r->nhdr; i++)
        jg_buf_printf(&b, "%s: %s\r\n", jg_resp_hdr_at(r, i)->name, jg_resp_hdr_at(r, i)->value);
    if (r->request_id[0])
        jg_buf_printf(&b, "X-Request-Id: %s\r\n", r->request_id);
    if (req->cors_origin)
        jg_buf_printf(&b, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                          "Access-Control-Expose-Headers: %s\r\n",
                      req->cors_origin, cors_expose);
    jg_buf_puts(&b, "\r\n");
    if (r->body && jg_buf_append(&b, r->body, r->body_len) != JG_OK)
        b.len = 0;
    /* a few hundred bytes on a socket that has sent nothing yet: they fit
     * in its send buffer; if not, the connection is closed */
    bool sent = b.len > 0 && send(ci->connect_fd, b.data, b.len, MSG_NOSIGNAL) == (ssize_t)b.len;
    jg_buf_done(&b);
    if (!sent)
        return false;
    shutdown(ci->connect_fd, SHUT_WR);
    req->bytes_out = r->body ? r->body_len : 0;
    atomic_fetch_add(&h->bytes_out, req->bytes_out);
    if (req->counted) {
        req->counted = false;
        atomic_fetch_sub(&h->active, 1);
    }
    count_status(h, req);
    clock_set(h, req->conn, CLOCK_LINGER);
    atomic_store(&req->state, ST_LINGER);
    return true;
}

/* A body longer than DISCARD_MAX declared, and no 100-continue asked (an
 * answer before one would be followed by libmicrohttpd's "100 Continue"). */
static bool big_body(struct jg_req *req)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n;
    return cl && jg_u64_parse(cl, &n) == JG_OK && n > DISCARD_MAX &&
           !MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
}

static bool has_body(struct jg_req *req)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    uint64_t n;
    if (te)
        return true;
    return cl && jg_u64_parse(cl, &n) == JG_OK && n > 0 && n <= DISCARD_MAX;
}

static void early_problem(struct jg_req *req, jg_status st, const char *detail, int allow)
{
    jg_resp_problem(&req->resp, st, 0, "%s", detail);
    if (st == JG_ERR_METHOD_NOT_ALLOWED) {
        char text[128];
        jg_methods_text(allow, text, sizeof(text));
        jg_resp_header(&req->resp, MHD_HTTP_HEADER_ALLOW, "%s", text);
    }
    atomic_store(&req->state, has_body(req) ? ST_DISCARD : ST_READY);
}

/* The request's Origin when the configuration allows it (CORS). */
static void cors_origin(struct jg_http *h, struct jg_req *req)
{
    const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
    const char *list = h->app->cfg.cors_origins;
    if (!origin || !list || !*origin)
        return;
    size_t ol = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if ((n == 1 && *p == '*') || (n == ol && strncasecmp(p, origin, n) == 0)) {
            req->cors_origin = origin;
            return;
        }
        p += n;
    }
}

/* OPTIONS on a known path: the methods it takes, and CORS preflight. */
static void preflight(struct jg_req *req, int allow)
{
    char text[128];
    jg_methods_text(allow | JG_OPTIONS, text, sizeof(text));
    jg_resp_status(&req->resp, 204);
    jg_resp_header(&req->resp, MHD_HTTP_HEADER_ALLOW, "%s", text);
    if (req->cors_origin) {
        const char *want = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                       "Access-Control-Request-Headers");
        jg_resp_header(&req->resp, "Access-Control-Allow-Methods", "%s", text);
        jg_resp_header(&req->resp, "Access-Control-Allow-Headers", "%s",
                       want ? want : "Authorization, Content-Type");
        jg_resp_header(&req->resp, "Access-Control-Max-Age", "600");
    }
    atomic_store(&req->state, ST_READY);
}

/* Mutual TLS: the peer's certificate verifies against tls_client_ca. */
static bool client_cert_ok(struct jg_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return ci && jg_tls_client_verified(ci->tls_session);
}

/* Every name the route carries, checked by authz.c; with_body: the body's
 * too.  Answers 403 itself and returns false when the caller may not go on. */
static bool authz(struct jg_req *req, bool with_body)
{
    const char *why = NULL;
    const char *body = !with_body ? NULL : req->body.data ? req->body.data : "";
    struct jg_authz_names n = {req->bucket, req->key, body, req->body.len};
    jg_status st = jg_authz_check(req->token, req->route, &n, &req->scope, &why);
    if (st == JG_OK)
        return true;
    early_problem(req, st, st == JG_ERR_FORBIDDEN ? why : jg_status_title(st), 0);
    return false;
}

/* Authentication and authorization for the routed request; answers 401
 * or 403 itself and returns false when the caller may not go on. */
static bool authorize(struct jg_http *h, struct jg_req *req)
{
    struct jg_app *app = h->app;
    const char *presented = NULL;

    if (jg_authz_public(req->route, app->cfg.metrics_public))
        return true;
    pthread_mutex_lock(&app->auth_lock);
    req->auth = app->auth;
    jg_auth_ref(req->auth);
    pthread_mutex_unlock(&app->auth_lock);
    if (jg_auth_count(req->auth) == 0)
        return true; /* open access */
    const char *hdr = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_AUTHORIZATION);
    if (hdr && strncasecmp(hdr, "Bearer ", 7) == 0)
        presented = hdr + 7;
    else if (req->route->perm == JG_PERM_WATCH)
        jg_req_query(req, "authorization", &presented); /* EventSource cannot set headers */
    req->token = jg_auth_find(req->auth, presented);
    if (!req->token) {
        early_problem(req, JG_ERR_UNAUTHORIZED,
                      presented ? "the bearer token is not valid" : "a bearer token is required", 0);
        jg_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jetgate\"");
        return false;
    }
    return authz(req, false);
}

/* X-Request-Id: the client's when it is a sane token, else a fresh one. */
static void request_id(struct jg_http *h, struct jg_req *req)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = v ? strlen(v) : 0;
    if (n && n < sizeof(req->resp.request_id) &&
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n) {
        memcpy(req->resp.request_id, v, n + 1);
        return;
    }
    uint64_t seq = atomic_fetch_add(&h->next_id, 1);
    snprintf(req->resp.request_id, sizeof(req->resp.request_id), "%08llx%08llx",
             (unsigned long long)h->id_base, (unsigned long long)seq);
}

/* What the first access call finds in the request's headers, read with
 * their lengths (libmicrohttpd's single-value lookup sees only the first
 * of several headers of one name).
 *
 * A NUL byte inside a header line: libmicrohttpd 0.9.x hands on the value
 * up to the NUL, with that length, and drops the rest.  Its values point
 * into the read buffer, where each line's CR and LF were overwritten with
 * NULs: between the end of one value and the name of the next header
 * there is nothing but those NULs, unless the line held more after a NUL
 * (or was folded onto a next line, which RFC 9112 lets a server refuse
 * as well).  After the last value there is nothing but NULs up to the end
 * of the header block (the request line's start plus libmicrohttpd's
 * header size); where that size is not known, the byte after the value's
 * terminating NUL is a NUL too (the empty line). */
struct header_scan {
    int content_lengths;       /* Content-Length headers */
    bool lengths_differ;       /* ... with different values */
    const char *length;        /* the first one's value */
    size_t length_len;
    bool transfer_encoding;
    bool nul;                  /* a line holds a NUL byte */
    bool nul_authorization;    /* ... the Authorization header's line */
    const char *prev_end;      /* end of the previous value */
    bool prev_authorization;
    size_t max_line;           /* max_header_size: no gap is longer */
    size_t bytes;              /* the header lines, as sent */
    const char *block_start;   /* the header block (the request line on), */
    const char *block_end;     /* ... or NULL */
};

static void header_nul(struct header_scan *s, bool authorization)
{
    s->nul = true;
    s->nul_authorization |= authorization;
}

/* The bytes from the end of the previous value up to next (the next
 * header's name, or NULL after the last header). */
static void check_gap(struct header_scan *s, const char *next)
{
    const char *e = s->prev_end;
    if (!e)
        return;
    if (!next && s->block_end && e > s->block_start && e < s->block_end)
        next = s->block_end; /* the value is in that block: libmicrohttpd's buffer */
    if (next && next > e && (size_t)(next - e) <= s->max_line) {
        /* (white space too: a library that trims a value may leave it) */
        for (const char *p = e; p < next; p++)
            if (*p && !strchr(" \t\r\n", *p))
                return header_nul(s, s->prev_authorization);
    } else if (!next && e[1] != '\0') {
        header_nul(s, s->prev_authorization);
    }
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct header_scan *s = cls;
    bool authorization =
        key_size == 13 && strncasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION, 13) == 0;
    if (!value)
        value_size = 0;
    check_gap(s, key);
    s->bytes += key_size + value_size + 4; /* ": " and CRLF */
    /* a library that hands on a whole value: its length says it */
    if (strlen(key) != key_size || (value && strlen(value) != value_size))
        header_nul(s, authorization);
    s->prev_end = value ? value + value_size : NULL;
    s->prev_authorization = authorization;
    if (key_size == 17 && strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING, 17) == 0)
        s->transfer_encoding = true;
    if (key_size == 14 && strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, 14) == 0) {
        if (s->content_lengths++ == 0) {
            s->length = value;
            s->length_len = value_size;
        } else if (value_size != s->length_len || memcmp(value, s->length, value_size) != 0) {
            s->lengths_differ = true;
        }
    }
    return MHD_YES;
}

/* A request line or header block over max_header_size (414, 431), a
 * request whose framing two readers could take apart differently (RFC 9112
 * section 6.3), or whose headers hold NUL bytes, is answered at once and
 * its connection closed: nothing of a body is read, so nothing of it can be
 * taken for a next request.  Returns false when it answered.
 *
 * libmicrohttpd's memory per connection is set above max_header_size (see
 * mhd_memory()) so that these requests reach jetgate; only a request line
 * or header block larger than that memory still gets libmicrohttpd's own
 * (HTML) answer. */
static bool headers_sane(struct jg_req *req, const char *method, const char *version)
{
    size_t max = (size_t)req->app->cfg.max_header_size;
    struct header_scan s = {.max_line = max};
    const union MHD_ConnectionInfo *hi =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (hi && hi->header_size) {
        s.block_start = method; /* where the request starts in the read buffer */
        s.block_end = method + hi->header_size;
    }
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, scan_header, &s);
    check_gap(&s, NULL);
    size_t line = strlen(method) + 1 + req->uri_len + 1 + strlen(version) + 2;
    if (line > max) {
        jg_resp_problem(&req->resp, JG_ERR_URI_TOO_LONG, 0,
                        "the request line is longer than max_header_size (%zu bytes)", max);
    } else if (line + s.bytes + 2 > max) {
        jg_resp_problem(&req->resp, JG_ERR_HEADERS_TOO_LARGE, 0,
                        "the request line and headers are larger than max_header_size (%zu bytes)",
                        max);
    } else if (s.nul_authorization) {
        jg_resp_problem(&req->resp, JG_ERR_UNAUTHORIZED, 0, "the bearer token is not valid");
        jg_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jetgate\"");
    } else if (s.nul) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0, "a request header holds a NUL byte");
    } else if (s.lengths_differ) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0,
                        "the request has Content-Length headers with different values");
    } else if (s.content_lengths && s.transfer_encoding) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0,
                        "the request has both Content-Length and Transfer-Encoding");
    } else {
        return true;
    }
    jg_resp_header(&req->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    atomic_store(&req->state, ST_READY);
    return false;
}

/* First call for a request: route it and size its body. */
static void begin(struct jg_http *h, struct jg_req *req, const char *url, const char *method,
                  const char *version)
{
    struct jg_route_match m;
    const struct jg_config *cfg = &h->app->cfg;
    int mflag = jg_method_from_name(method);
    jg_status st = jg_router_match(url, mflag, &m);

    request_id(h, req);
    req->method_name = method;
    if (h->app->cfg.access_log)
        req->path = strdup(url);

    req->bucket = m.bucket;
    req->key = m.key;
    if (!headers_sane(req, method, version ? version : ""))
        return;
    if (atomic_load(&h->app->shutting_down)) {
        early_problem(req, JG_ERR_NATS_UNAVAILABLE, "jetgate is shutting down", 0);
        return;
    }
    cors_origin(h, req);
    if (mflag == JG_OPTIONS && m.allow) {
        preflight(req, m.allow);
        return;
    }
    switch (st) {
    case JG_OK:
        break;
    case JG_ERR_METHOD_NOT_ALLOWED:
        early_problem(req, st, "method not allowed on this route", m.allow);
        return;
    case JG_ERR_INVALID_BUCKET:
    case JG_ERR_INVALID_KEY:
    case JG_ERR_INVALID_NAME:
        early_problem(req, st, "malformed percent-encoding in the path", 0);
        return;
    default:
        early_problem(req, JG_ERR_NOT_FOUND, "no route for this path", 0);
        return;
    }
    req->route = m.route;
    req->method = (enum jg_method)mflag;
    if (h->client_ca && !client_cert_ok(req)) {
        early_problem(req, JG_ERR_UNAUTHORIZED, "a valid client certificate is required", 0);
        return;
    }
    if (!authorize(h, req))
        return;
    switch (m.route->body) {
    case JG_BODY_KV:
        req->body_limit = cfg->max_kv_body;
        break;
    case JG_BODY_STREAM:
        /* streamed bodies are never held whole: the handler sets its limits */
        req->body_limit = INT64_MAX;
        break;
    default:
        req->body_limit = cfg->max_json_body;
        break;
    }
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared;
    if (cl && jg_u64_parse(cl, &declared) == JG_OK && declared > (uint64_t)req->body_limit) {
        early_problem(req, JG_ERR_PAYLOAD_TOO_LARGE, "request body is over the limit", 0);
        return;
    }
    atomic_store(&req->state, ST_BODY);
}

/* Runs the route's handler (HTTP thread); counts it as active until its
 * response is queued. */
static void run_handler(struct jg_http *h, struct jg_req *req, void (*fn)(struct jg_req *))
{
    clock_set(h, req->conn, CLOCK_OFF);
    if (!req->counted) {
        req->counted = true;
        atomic_fetch_add(&h->active, 1);
    }
    atomic_store(&req->state, ST_RUNNING);
    fn(req);
}

/* After a handler ran: queue its response if it is ready, else wait. */
static enum MHD_Result after_handler(struct jg_http *h, struct jg_req *req, bool body_pending)
{
    if (req->suspended)
        return MHD_YES; /* called again after MHD_resume_connection */
    int st = atomic_load(&req->state);
    if (st == ST_STREAM)
        return MHD_YES;
    if (st != ST_READY) {
        jg_err("handler %s returned without a response", req->route->operation_id);
        jg_resp_problem(&req->resp, JG_ERR_INTERNAL, 0, "no response");
        atomic_store(&req->state, ST_READY);
    }
    if (body_pending && has_body(req)) {
        atomic_store(&req->state, ST_DISCARD);
        return MHD_YES;
    }
    return queue(h, req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct jg_http *h = cls;
    struct jg_req *req = *con_cls;

    if (!req) {
        req = req_new(h);
        if (!req)
            return MHD_NO;
        *con_cls = req;
    }
    req->suspended = false; /* we are called: the connection runs */
    if (!req->conn) {
        req->conn = conn;
        atomic_fetch_add(&h->requests, 1);
        begin(h, req, url, method, version);
        if (atomic_load(&req->state) == ST_READY)
            return big_body(req) && answer_and_linger(h, req) ? MHD_YES : queue(h, req);
        if (atomic_load(&req->state) == ST_BODY && req->route->body == JG_BODY_STREAM) {
            /* streaming uploads start before the body */
            run_handler(h, req, req->route->handler);
            return after_handler(h, req, true);
        }
        return MHD_YES;
    }
    int st = atomic_load(&req->state);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (st == ST_STREAM) {
            size_t took = req->on_body(req, upload_data, n);
            if (took > n)
                took = n;
            atomic_fetch_add(&h->bytes_in, took);
            upload_clock_add(h, conn, took);
            *upload_data_size = n - took;
            if (took < n && atomic_load(&req->state) == ST_STREAM) {
                upload_pause(req);
                return MHD_YES;
            }
            if (atomic_load(&req->state) == ST_READY) {
                /* answered within on_body, before the end of the body: this
                 * piece and the rest are read away (a piece left untaken
                 * without a pause would never be offered again) */
                atomic_store(&req->state, ST_DISCARD);
                atomic_fetch_add(&h->bytes_in, n - took);
                upload_clock_add(h, conn, n - took);
                req->discarded += n - took;
                *upload_data_size = 0;
            }
            recheck_gone(h, conn);
            return MHD_YES;
        }
        atomic_fetch_add(&h->bytes_in, n);
        if (req->on_body)
            upload_clock_add(h, conn, n); /* a streamed upload read away */
        *upload_data_size = 0;
        if (st == ST_LINGER)
            return MHD_YES; /* answered; read away until the client closes */
        if (st == ST_READY || st == ST_RUNNING) {
            /* a streaming handler answered (or is answering) early */
            if (st == ST_READY)
                atomic_store(&req->state, ST_DISCARD);
            st = ST_DISCARD;
        }
        if (st == ST_DISCARD) {
            req->discarded += n;
            if (req->discarded > DISCARD_MAX) {
                if (atomic_load(&req->state) == ST_DISCARD)
                    return answer_and_linger(h, req) ? MHD_YES : MHD_NO;
                atomic_store(&req->state, ST_READY);
                return queue(h, req);
            }
            recheck_gone(h, conn);
            return MHD_YES;
        }
        if (st != ST_BODY)
            return MHD_YES;
        if (req->body.len + n > (size_t)req->body_limit) {
            jg_buf_done(&req->body);
            early_problem(req, JG_ERR_PAYLOAD_TOO_LARGE, "request body is over the limit", 0);
            atomic_store(&req->state, ST_DISCARD);
            req->discarded = n;
            return MHD_YES;
        }
        if (jg_buf_append(&req->body, upload_data, n) != JG_OK)
            return MHD_NO;
        recheck_gone(h, conn);
        return MHD_YES;
    }
    switch (st) {
    case ST_BODY:
        if (req->token && jg_authz_body_names(req->route) && !authz(req, true)) {
            atomic_store(&req->state, ST_READY); /* the body is in: answer now */
            return queue(h, req);
        }
        run_handler(h, req, req->route->handler);
        return after_handler(h, req, false);
    case ST_STREAM:
        run_handler(h, req, req->on_body_end);
        return after_handler(h, req, false);
    case ST_DISCARD:
        atomic_store(&req->state, ST_READY);
        return queue(h, req);
    case ST_READY:
        return queue(h, req);
    case ST_LINGER:
        return MHD_NO; /* the whole body came after all: close */
    default:
        return MHD_YES;
    }
}

void jg_req_read_body(struct jg_req *req, jg_body_fn on_body, jg_body_end_fn on_end)
{
    bool suspended = req->suspended;
    req->on_body = on_body;
    req->on_body_end = on_end;
    atomic_store(&req->state, ST_STREAM);
    upload_clock_start(req->http, req->conn);
    if (suspended)
        resume(req);
}

void jg_req_resume_upload(struct jg_req *req)
{
    upload_wake(req);
}

void jg_req_ref(struct jg_req *req)
{
    atomic_fetch_add(&req->refs, 1);
}

void jg_req_unref(struct jg_req *req)
{
    if (req && atomic_fetch_sub(&req->refs, 1) == 1)
        req_free(req);
}

bool jg_req_closed(struct jg_req *req)
{
    return atomic_load(&req->closed);
}

/* --- streaming responses ------------------------------------------------ */

/* A streamed response that ends early (an error, a client gone, shutdown)
 * closes its connection.  When that happens on the first read after a
 * resume, libmicrohttpd (0.9.75) marks the connection closed inside its
 * idle handler and does not visit it again until the connection reaches
 * the old end of its timeout list: behind every older idle keep-alive
 * connection, up to idle_timeout later.  With MHD_USE_TURBO it does not
 * shut the socket down either, so the client would wait that long for the
 * rest of a body.  Shut the socket down for writing (the client sees the
 * end at once) and give the connection a timeout of its own: connections
 * with one are on the list libmicrohttpd walks on every run, which frees
 * it on the next turn of the loop. */
static void stream_close_now(struct jg_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        shutdown(ci->connect_fd, SHUT_WR);
    unsigned own = req->http->idle_timeout_s == 1 ? 2 : 1;
    MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, own);
}

static ssize_t content_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct jg_req *req = cls;
    struct jg_http *h = req->http;
    struct jg_resp *r = &req->resp;
    ssize_t ret;

    pthread_mutex_lock(&h->stream_lock);
    if (req->peer_gone) {
        pthread_mutex_unlock(&h->stream_lock);
        stream_close_now(req);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    long n = r->stream_read(r->stream_ctx, buf, max);
    if (n > 0) {
        ret = n;
        atomic_fetch_add(&h->bytes_out, (uint64_t)n);
        req->bytes_out += (uint64_t)n;
    } else if (n == 0 && atomic_load(&h->app->shutting_down)) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (n == 0) {
        req->stream_waiting = true;
        MHD_suspend_connection(req->conn);
        ret = 0;
    } else if (n == JG_STREAM_END) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    }
    pthread_mutex_unlock(&h->stream_lock);
    if (ret == MHD_CONTENT_READER_END_WITH_ERROR ||
        (ret == MHD_CONTENT_READER_END_OF_STREAM && r->stream_size >= 0))
        stream_close_now(req);
    return ret;
}

static void content_free(void *cls)
{
    struct jg_req *req = cls;
    struct jg_http *h = req->http;
    struct jg_resp *r = &req->resp;

    pthread_mutex_lock(&h->stream_lock);
    if (req->sprev)
        req->sprev->snext = req->snext;
    else if (h->streams == req)
        h->streams = req->snext;
    if (req->snext)
        req->snext->sprev = req->sprev;
    req->snext = req->sprev = NULL;
    req->stream_waiting = false;
    pthread_mutex_unlock(&h->stream_lock);
    if (r->stream_free)
        r->stream_free(r->stream_ctx);
    r->stream_free = NULL;
    r->stream_read = NULL;
    r->stream_ctx = NULL;
    jg_req_unref(req);
}

void jg_req_wake(struct jg_req *req)
{
    struct jg_http *h = req->http;
    pthread_mutex_lock(&h->stream_lock);
    if (req->stream_waiting) {
        req->stream_waiting = false;
        resume(req);
    }
    pthread_mutex_unlock(&h->stream_lock);
}

void jg_http_end_streams(struct jg_http *h)
{
    pthread_mutex_lock(&h->stream_lock);
    for (struct jg_req *r = h->streams; r; r = r->snext) {
        if (r->stream_waiting) {
            r->stream_waiting = false;
            resume(r);
        }
    }
    pthread_mutex_unlock(&h->stream_lock);
}

/* Streams waiting for data are suspended, so libmicrohttpd does not see
 * their clients leave: once a second, one poll() over all their sockets
 * (the lock is held for one system call, not one per stream) wakes those
 * whose peer hung up, so the stream ends and its resources (a watch's
 * consumer) go. */
static void reap_gone_streams(struct jg_http *h)
{
    pthread_mutex_lock(&h->stream_lock);
    size_t n = 0;
    for (struct jg_req *r = h->streams; r; r = r->snext)
        n += r->stream_waiting;
    if (n > h->reap_cap) {
        struct pollfd *p = realloc(h->reap_fds, n * sizeof(*p));
        struct jg_req **q = p ? realloc(h->reap_reqs, n * sizeof(*q)) : NULL;
        if (p)
            h->reap_fds = p;
        if (q)
            h->reap_reqs = q;
        if (p && q)
            h->reap_cap = n;
    }
    size_t k = 0;
    for (struct jg_req *r = h->streams; r && k < h->reap_cap; r = r->snext) {
        if (!r->stream_waiting)
            continue;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || ci->connect_fd < 0)
            continue;
        h->reap_fds[k] = (struct pollfd){.fd = ci->connect_fd, .events = POLLRDHUP};
        h->reap_reqs[k++] = r;
    }
    if (k > 0 && poll(h->reap_fds, (nfds_t)k, 0) > 0) {
        for (size_t i = 0; i < k; i++) {
            if (!(h->reap_fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
                continue;
            struct jg_req *r = h->reap_reqs[i];
            r->stream_waiting = false;
            r->peer_gone = true; /* the reader ends the stream */
            resume(r);
        }
    }
    pthread_mutex_unlock(&h->stream_lock);
}

int64_t jg_http_streams(struct jg_http *h)
{
    int64_t n = 0;
    pthread_mutex_lock(&h->stream_lock);
    for (struct jg_req *r = h->streams; r; r = r->snext)
        n++;
    pthread_mutex_unlock(&h->stream_lock);
    return n;
}

/* One line per request: client, method, path (never the query, which may
 * hold ?authorization=), status, body bytes, time, request id, token name. */
static void access_log(struct jg_req *req, struct MHD_Connection *conn,
                       enum MHD_RequestTerminationCode toe)
{
    char addr[INET6_ADDRSTRLEN] = "-";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
    }
    char *path = jg_pct_encode_header(req->path ? req->path : "-",
                                      req->path ? strlen(req->path) : 1);
    jg_info("access: %s \"%s %s\" %d %llu %lldms id=%s token=%s%s", addr,
            req->method_name ? req->method_name : "-", path ? path : "-", req->resp.status,
            (unsigned long long)req->bytes_out, (long long)(jg_now_ms() - req->start_ms),
            req->resp.request_id, req->token ? jg_auth_token_name(req->token) : "-",
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    free(path);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct jg_http *h = cls;
    struct jg_req *req = *con_cls;
    if (!req)
        return;
    if (req->conn) {
        struct route_stats *rs =
            &h->stats[req->route ? (size_t)(req->route - jg_routes) : h->nroutes];
        double secs = (double)(jg_now_ms() - req->start_ms) / 1000.0;
        size_t b = 0;
        while (b < NBOUNDS && secs > latency_bounds[b])
            b++;
        atomic_fetch_add(&rs->buckets[b], 1);
        atomic_fetch_add(&rs->sum_us, (uint64_t)(secs * 1e6));
    }
    if (req->conn && h->app->cfg.access_log)
        access_log(req, conn, toe);
    else if (jg_log_enabled(JG_LOG_DEBUG) && req->route)
        jg_debug("http: %s %d %lldms id=%s%s", req->route->operation_id, req->resp.status,
                 (long long)(jg_now_ms() - req->start_ms), req->resp.request_id,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    if (req->counted) {
        /* ended without a response queued (an upload the client left) */
        req->counted = false;
        atomic_fetch_sub(&h->active, 1);
    }
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        clock_set(h, conn, CLOCK_LINE);
    atomic_store(&req->closed, true);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->on_close)
        req->on_close(req);
    *con_cls = NULL;
    jg_req_unref(req);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct jg_http *h = cls;
    struct conn_clock *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(*c));
        if (!c || !ci)
            return;
        c->fd = ci->connect_fd;
        c->mode = CLOCK_LINE;
        c->since_ms = jg_now_ms();
        pthread_mutex_lock(&h->clock_lock);
        if (++h->nconns > __atomic_load_n(&h->app->cfg.max_connections, __ATOMIC_RELAXED)) {
            /* over the limit: close at once rather than leave it waiting */
            shutdown(c->fd, SHUT_RDWR);
            c->mode = CLOCK_OFF;
            h->refused_conns++;
        }
        c->next = h->clocks;
        if (h->clocks)
            h->clocks->prev = c;
        h->clocks = c;
        pthread_mutex_unlock(&h->clock_lock);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    h->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clocks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&h->clock_lock);
    free(c);
    *socket_context = NULL;
}

/* Cuts connections whose request has not arrived in time: libmicrohttpd's
 * own timeout is an idle timeout that every byte resets (slowloris). */
static void *reaper_main(void *arg)
{
    struct jg_http *h = arg;
    pthread_mutex_lock(&h->clock_lock);
    while (!h->reaper_stop) {
        int64_t deadline = __atomic_load_n(&h->app->cfg.request_deadline_ms, __ATOMIC_RELAXED);
        int64_t idle = __atomic_load_n(&h->app->cfg.idle_timeout_ms, __ATOMIC_RELAXED);
        int64_t rate = __atomic_load_n(&h->app->cfg.min_upload_rate, __ATOMIC_RELAXED);
        int64_t window = __atomic_load_n(&h->app->cfg.upload_rate_window_ms, __ATOMIC_RELAXED);
        int64_t now = jg_now_ms();
        for (struct conn_clock *c = h->clocks; c; c = c->next) {
            if (c->mode == CLOCK_UPLOAD) {
                if (c->fd >= 0 && upload_too_slow(c, now, rate, window)) {
                    shutdown(c->fd, SHUT_RDWR);
                    c->mode = CLOCK_OFF;
                    h->upload_rate_cuts++;
                }
                continue;
            }
            int64_t limit = c->mode == CLOCK_REQUEST  ? deadline
                            : c->mode == CLOCK_LINGER ? LINGER_MS
                                                      : idle;
            if (c->mode != CLOCK_OFF && now - c->since_ms > limit && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                if (c->mode != CLOCK_LINGER)
                    h->deadline_cuts++;
                c->mode = CLOCK_OFF;
            }
        }
        pthread_mutex_unlock(&h->clock_lock);
        reap_gone_streams(h);
        pthread_mutex_lock(&h->clock_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!h->reaper_stop)
            pthread_cond_timedwait(&h->reaper_cond, &h->clock_lock, &ts);
    }
    pthread_mutex_unlock(&h->clock_lock);
    return NULL;
}

/* The request line is in: its target's length is kept for the first access
 * call, which answers 414 beyond max_header_size. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    clock_set(cls, conn, CLOCK_REQUEST);
    struct jg_req *req = req_new(cls);
    if (req)
        req->uri_len = strlen(uri);
    return req;
}

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
                                      NULL, on_access, h, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
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

jg_status jg_http_start(struct jg_app *app, struct jg_loop *loop, struct jg_http **ret_http)
{
    const struct jg_config *cfg = &app->cfg;
    struct sockaddr_storage ss;
    bool v6;
    struct jg_http *h;

    if (parse_listen(cfg->listen, &ss, &v6) != JG_OK) {
        jg_err("config: bad listen address '%s' (want HOST:PORT or [V6]:PORT)", cfg->listen);
        return JG_ERR_INVALID_CONFIG;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        return JG_ERR_NOMEM;
    h->app = app;
    h->loop = loop;
    h->addr = ss;
    h->id_base = (uint32_t)(jg_realtime_ns() / 1000) ^ ((uint32_t)getpid() << 16);
    while (jg_routes[h->nroutes].pattern)
        h->nroutes++;
    pthread_mutex_init(&h->stream_lock, NULL);
    pthread_mutex_init(&h->clock_lock, NULL);
    pthread_cond_init(&h->reaper_cond, NULL);
    h->stats = calloc(h->nroutes + 1, sizeof(*h->stats));
    if (!h->stats) {
        free(h);
        return JG_ERR_NOMEM;
    }
    /* no internal thread: libmicrohttpd runs on jetgate's event loop, the
     * same thread that reads NATS replies (loop.h) */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (v6)
        flags |= MHD_USE_IPv6;
    unsigned timeout_s = (unsigned)((cfg->idle_timeout_ms + 999) / 1000);
    struct MHD_OptionItem ops[24];
    int no = 0;
#define OPT(o, v, p) ops[no++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h);
    OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
    /* jetgate closes connections over max_connections itself (a
     * reloadable limit); this only bounds what libmicrohttpd accepts */
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections * 2 + 64, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip, NULL);
    h->idle_timeout_s = timeout_s;
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, mhd_memory(cfg->max_header_size), NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h);
    OPT(MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_raw, h);
    OPT(MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
    if (cfg->tls_cert) {
        if (!cfg->tls_key || jg_tls_load(cfg->tls_cert, cfg->tls_key) != JG_OK) {
            jg_err("tls: 'tls_cert' needs a readable 'tls_key'");
            free(h->stats);
            free(h);
            return JG_ERR_INVALID_CONFIG;
        }
        if (!jg_tls_priorities_ok(cfg->tls_priorities)) {
            free(h->stats);
            free(h);
            return JG_ERR_INVALID_CONFIG;
        }
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, jg_tls_retrieve_callback());
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, cfg->tls_priorities);
        if (cfg->tls_client_ca) {
            h->client_ca = jg_tls_read_file(cfg->tls_client_ca);
            if (!h->client_ca) {
                jg_err("tls: cannot read 'tls_client_ca' file '%s'", cfg->tls_client_ca);
                free(h->stats);
                free(h);
                return JG_ERR_INVALID_CONFIG;
            }
            OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, h->client_ca);
        }
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h, MHD_OPTION_ARRAY, ops,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        jg_err("http: cannot listen on %s: %s", cfg->listen, strerror(errno));
        free(h->stats);
        free(h);
        return JG_ERR_INVALID_CONFIG;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    jg_status ust = cfg->listen_unix && *cfg->listen_unix ? start_unix(h, loop, flags, ops) : JG_OK;
    if (ust != JG_OK || !di || jg_loop_add(loop, di->epoll_fd, EPOLLIN, on_http_fd, h) != JG_OK ||
        jg_loop_add_hook(loop, http_hook, h) != JG_OK ||
        pthread_create(&h->reaper, NULL, reaper_main, h) != 0) {
        if (h->unix_daemon)
            MHD_stop_daemon(h->unix_daemon);
        MHD_stop_daemon(h->daemon);
        free(h->stats);
        free(h);
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
                          name, latency_bounds[k], (unsigned long long)run);
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
    pthread_mutex_destroy(&h->stream_lock);
    pthread_mutex_destroy(&h->clock_lock);
    pthread_cond_destroy(&h->reaper_cond);
    free(h->client_ca);
    jg_tls_done();
    free(h->reap_fds);
    free(h->reap_reqs);
    free(h->stats);
    free(h);
}
