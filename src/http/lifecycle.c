/* lifecycle.c - a request's life: allocated when its request line
 * arrives, routed and admitted (CORS, mutual TLS, token, authorization,
 * body size) on the first access call, body read, handler run, suspended
 * while it waits, resumed by jg_req_done(), completed and freed when its
 * last reference goes. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "auth.h"
#include "http/authz.h"
#include "http/router.h"
#include "http/tls.h"
#include "log.h"
#include "loop.h"
#include "util.h"

static struct jg_req *req_new(struct jg_http *h)
{
    struct jg_sreq *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    struct jg_req *req = &s->req;
    req->app = h->app;
    srv(req)->http = h;
    atomic_init(&srv(req)->refs, 1);
    srv(req)->start_ms = jg_now_ms();
    jg_buf_init(&req->body);
    jg_buf_init(&srv(req)->scratch);
    atomic_init(&srv(req)->state, ST_HEADERS);
    return req;
}

static void req_free(struct jg_req *req)
{
    if (!req)
        return;
    char **v = (char **)srv(req)->scratch.data;
    for (size_t i = 0; i < srv(req)->scratch.len / sizeof(char *); i++)
        free(v[i]);
    jg_buf_done(&srv(req)->scratch);
    jg_buf_done(&req->body);
    jg_auth_unref(srv(req)->auth);
    jg_strv_free(req->scope);
    jg_resp_clear(&req->resp);
    free(req->bucket);
    free(req->key);
    free(srv(req)->path);
    free(srv(req));
}

/* Resumes a suspended connection.  libmicrohttpd runs on the loop thread
 * and does not watch its own wake-up channel there, and a resume takes
 * effect only in its next run: from any other thread the loop is woken;
 * on the loop thread (inside a run, from a handler) the hook is told to
 * run libmicrohttpd again before the loop sleeps (its timeout does not
 * count resumed connections, so with no other connection the loop could
 * sleep on with the request's answer or the rest of its body unread). */
void jg_http_resume_conn(struct jg_http *h, struct MHD_Connection *conn)
{
    MHD_resume_connection(conn);
    if (jg_loop_on_thread(h->loop))
        atomic_store(&h->resumed, true);
    else
        jg_loop_wake(h->loop);
}

/* Loop thread, after a piece of a request body was taken whole: has the
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
    jg_http_resume_conn(h, conn);
}

void jg_req_done(struct jg_req *req)
{
    bool suspended = srv(req)->suspended;
    struct MHD_Connection *conn = srv(req)->conn;
    struct jg_http *h = srv(req)->http;
    bool uploading = atomic_load(&srv(req)->state) == ST_STREAM;
    atomic_store(&srv(req)->state, ST_READY);
    /* req may be freed by the loop thread from here on: use the copies */
    if (uploading)
        jg_http_upload_wake(req); /* a paused upload reads the rest away, then answers */
    else if (suspended)
        jg_http_resume_conn(h, conn);
}

/* A body longer than DISCARD_MAX declared, and no 100-continue asked (an
 * answer before one would be followed by libmicrohttpd's "100 Continue"). */
static bool big_body(struct jg_req *req)
{
    const char *cl = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n;
    return cl && jg_u64_parse(cl, &n) == JG_OK && n > DISCARD_MAX &&
           !MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
}

bool jg_http_has_body(struct jg_req *req)
{
    const char *cl = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
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
    atomic_store(&srv(req)->state, jg_http_has_body(req) ? ST_DISCARD : ST_READY);
}

/* The request's Origin when the configuration allows it (CORS). */
static void cors_origin(struct jg_http *h, struct jg_req *req)
{
    const char *origin = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND, "Origin");
    const char *list = h->app->cfg.cors_origins;
    if (!origin || !list || !*origin)
        return;
    size_t ol = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if ((n == 1 && *p == '*') || (n == ol && strncasecmp(p, origin, n) == 0)) {
            srv(req)->cors_origin = origin;
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
    if (srv(req)->cors_origin) {
        const char *want = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
                                                       "Access-Control-Request-Headers");
        jg_resp_header(&req->resp, "Access-Control-Allow-Methods", "%s", text);
        jg_resp_header(&req->resp, "Access-Control-Allow-Headers", "%s",
                       want ? want : "Authorization, Content-Type");
        jg_resp_header(&req->resp, "Access-Control-Max-Age", "600");
    }
    atomic_store(&srv(req)->state, ST_READY);
}

/* Mutual TLS: the peer's certificate verifies against tls_client_ca. */
static bool client_cert_ok(struct jg_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
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
    srv(req)->auth = app->auth;
    jg_auth_ref(srv(req)->auth);
    pthread_mutex_unlock(&app->auth_lock);
    if (jg_auth_count(srv(req)->auth) == 0)
        return true; /* open access */
    const char *hdr = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_AUTHORIZATION);
    if (hdr && strncasecmp(hdr, "Bearer ", 7) == 0)
        presented = hdr + 7;
    else if (req->route->perm == JG_PERM_WATCH)
        jg_req_query(req, "authorization", &presented); /* EventSource cannot set headers */
    req->token = jg_auth_find(srv(req)->auth, presented);
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
    const char *v = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND, "X-Request-Id");
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

/* First call for a request: route it and size its body. */
static void begin(struct jg_http *h, struct jg_req *req, const char *url, const char *method,
                  const char *version)
{
    struct jg_route_match m;
    const struct jg_config *cfg = &h->app->cfg;
    int mflag = jg_method_from_name(method);
    jg_status st = jg_router_match(url, mflag, &m);

    request_id(h, req);
    srv(req)->method_name = method;
    if (h->app->cfg.access_log)
        srv(req)->path = strdup(url);

    req->bucket = m.bucket;
    req->key = m.key;
    if (!jg_http_headers_sane(req, method, version ? version : ""))
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
        srv(req)->body_limit = cfg->max_kv_body;
        break;
    case JG_BODY_STREAM:
        /* streamed bodies are never held whole: the handler sets its limits */
        srv(req)->body_limit = INT64_MAX;
        break;
    default:
        srv(req)->body_limit = cfg->max_json_body;
        break;
    }
    const char *cl = MHD_lookup_connection_value(srv(req)->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared;
    if (cl && jg_u64_parse(cl, &declared) == JG_OK && declared > (uint64_t)srv(req)->body_limit) {
        early_problem(req, JG_ERR_PAYLOAD_TOO_LARGE, "request body is over the limit", 0);
        return;
    }
    atomic_store(&srv(req)->state, ST_BODY);
}

/* Runs the route's handler (loop thread); counts it as active until its
 * response is queued. */
static void run_handler(struct jg_http *h, struct jg_req *req, void (*fn)(struct jg_req *))
{
    jg_http_clock_set(h, srv(req)->conn, CLOCK_OFF);
    if (!srv(req)->counted) {
        srv(req)->counted = true;
        atomic_fetch_add(&h->active, 1);
    }
    atomic_store(&srv(req)->state, ST_RUNNING);
    fn(req);
}

/* After a handler ran: queue its response if it is ready, else wait. */
static enum MHD_Result after_handler(struct jg_http *h, struct jg_req *req, bool body_pending)
{
    if (srv(req)->suspended)
        return MHD_YES; /* called again after MHD_resume_connection */
    int st = atomic_load(&srv(req)->state);
    if (st == ST_STREAM)
        return MHD_YES;
    if (st != ST_READY) {
        jg_err("handler %s returned without a response", req->route->operation_id);
        jg_resp_problem(&req->resp, JG_ERR_INTERNAL, 0, "no response");
        atomic_store(&srv(req)->state, ST_READY);
    }
    if (body_pending && jg_http_has_body(req)) {
        atomic_store(&srv(req)->state, ST_DISCARD);
        return MHD_YES;
    }
    return jg_http_queue(h, req);
}

/* The first access call: route and admit the request; a streamed upload's
 * handler runs now, before the body. */
static enum MHD_Result first_call(struct jg_http *h, struct jg_req *req,
                                  struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version)
{
    srv(req)->conn = conn;
    atomic_fetch_add(&h->requests, 1);
    begin(h, req, url, method, version);
    if (atomic_load(&srv(req)->state) == ST_READY)
        return big_body(req) && jg_http_answer_and_linger(h, req) ? MHD_YES
                                                                  : jg_http_queue(h, req);
    if (atomic_load(&srv(req)->state) == ST_BODY && req->route->body == JG_BODY_STREAM) {
        /* streaming uploads start before the body */
        run_handler(h, req, req->route->handler);
        return after_handler(h, req, true);
    }
    return MHD_YES;
}

/* A piece of the body of a request answered already (or being answered by
 * its streaming handler): read away, up to DISCARD_MAX. */
static enum MHD_Result discard_piece(struct jg_http *h, struct jg_req *req,
                                     struct MHD_Connection *conn, int st, size_t n)
{
    if (st == ST_LINGER)
        return MHD_YES; /* answered; read away until the client closes */
    if (st == ST_READY || st == ST_RUNNING) {
        /* a streaming handler answered (or is answering) early */
        if (st == ST_READY)
            atomic_store(&srv(req)->state, ST_DISCARD);
        st = ST_DISCARD;
    }
    if (st != ST_DISCARD)
        return MHD_YES;
    srv(req)->discarded += n;
    if (srv(req)->discarded > DISCARD_MAX) {
        if (atomic_load(&srv(req)->state) == ST_DISCARD)
            return jg_http_answer_and_linger(h, req) ? MHD_YES : MHD_NO;
        atomic_store(&srv(req)->state, ST_READY);
        return jg_http_queue(h, req);
    }
    recheck_gone(h, conn);
    return MHD_YES;
}

/* A piece of the request body: the streaming handler's, read away, or
 * kept whole for the handler (up to body_limit). */
static enum MHD_Result body_piece(struct jg_http *h, struct jg_req *req,
                                  struct MHD_Connection *conn, const char *data, size_t *size)
{
    int st = atomic_load(&srv(req)->state);
    size_t n = *size;
    if (st == ST_STREAM) {
        if (!jg_http_upload_piece(h, req, data, size))
            recheck_gone(h, conn);
        return MHD_YES;
    }
    atomic_fetch_add(&h->bytes_in, n);
    if (srv(req)->on_body)
        jg_http_upload_clock_add(h, conn, n); /* a streamed upload read away */
    *size = 0;
    if (st != ST_BODY)
        return discard_piece(h, req, conn, st, n);
    if (req->body.len + n > (size_t)srv(req)->body_limit) {
        jg_buf_done(&req->body);
        early_problem(req, JG_ERR_PAYLOAD_TOO_LARGE, "request body is over the limit", 0);
        atomic_store(&srv(req)->state, ST_DISCARD);
        srv(req)->discarded = n;
        return MHD_YES;
    }
    if (jg_buf_append(&req->body, data, n) != JG_OK)
        return MHD_NO;
    recheck_gone(h, conn);
    return MHD_YES;
}

/* The body is in (an access call without data). */
static enum MHD_Result body_end(struct jg_http *h, struct jg_req *req)
{
    switch (atomic_load(&srv(req)->state)) {
    case ST_BODY:
        if (req->token && jg_authz_body_names(req->route) && !authz(req, true)) {
            atomic_store(&srv(req)->state, ST_READY); /* the body is in: answer now */
            return jg_http_queue(h, req);
        }
        run_handler(h, req, req->route->handler);
        return after_handler(h, req, false);
    case ST_STREAM:
        run_handler(h, req, srv(req)->on_body_end);
        return after_handler(h, req, false);
    case ST_DISCARD:
        atomic_store(&srv(req)->state, ST_READY);
        return jg_http_queue(h, req);
    case ST_READY:
        return jg_http_queue(h, req);
    case ST_LINGER:
        return MHD_NO; /* the whole body came after all: close */
    default:
        return MHD_YES;
    }
}

enum MHD_Result jg_http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
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
    srv(req)->suspended = false; /* we are called: the connection runs */
    if (!srv(req)->conn)
        return first_call(h, req, conn, url, method, version);
    if (*upload_data_size)
        return body_piece(h, req, conn, upload_data, upload_data_size);
    return body_end(h, req);
}

void jg_req_suspend(struct jg_req *req)
{
    srv(req)->suspended = true;
    MHD_suspend_connection(srv(req)->conn);
}

void jg_req_ref(struct jg_req *req)
{
    atomic_fetch_add(&srv(req)->refs, 1);
}

void jg_req_unref(struct jg_req *req)
{
    if (req && atomic_fetch_sub(&srv(req)->refs, 1) == 1)
        req_free(req);
}

bool jg_req_closed(struct jg_req *req)
{
    return atomic_load(&srv(req)->closed);
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
    char *path = jg_pct_encode_header(srv(req)->path ? srv(req)->path : "-",
                                      srv(req)->path ? strlen(srv(req)->path) : 1);
    jg_info("access: %s \"%s %s\" %d %llu %lldms id=%s token=%s%s", addr,
            srv(req)->method_name ? srv(req)->method_name : "-", path ? path : "-",
            req->resp.status,
            (unsigned long long)srv(req)->bytes_out, (long long)(jg_now_ms() - srv(req)->start_ms),
            req->resp.request_id, req->token ? jg_auth_token_name(req->token) : "-",
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    free(path);
}

void jg_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct jg_http *h = cls;
    struct jg_req *req = *con_cls;
    if (!req)
        return;
    if (srv(req)->conn) {
        struct route_stats *rs =
            &h->stats[req->route ? (size_t)(req->route - jg_routes) : h->nroutes];
        double secs = (double)(jg_now_ms() - srv(req)->start_ms) / 1000.0;
        size_t b = 0;
        while (b < NBOUNDS && secs > jg_http_latency_bounds[b])
            b++;
        atomic_fetch_add(&rs->buckets[b], 1);
        atomic_fetch_add(&rs->sum_us, (uint64_t)(secs * 1e6));
    }
    if (srv(req)->conn && h->app->cfg.access_log)
        access_log(req, conn, toe);
    else if (jg_log_enabled(JG_LOG_DEBUG) && req->route)
        jg_debug("http: %s %d %lldms id=%s%s", req->route->operation_id, req->resp.status,
                 (long long)(jg_now_ms() - srv(req)->start_ms), req->resp.request_id,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    if (srv(req)->counted) {
        /* ended without a response queued (an upload the client left) */
        srv(req)->counted = false;
        atomic_fetch_sub(&h->active, 1);
    }
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        jg_http_clock_set(h, conn, CLOCK_LINE);
    atomic_store(&srv(req)->closed, true);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->on_close)
        req->on_close(req);
    *con_cls = NULL;
    jg_req_unref(req);
}

/* The request line is in: its target's length is kept for the first access
 * call, which answers 414 beyond max_header_size. */
void *jg_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    jg_http_clock_set(cls, conn, CLOCK_REQUEST);
    struct jg_req *req = req_new(cls);
    if (req)
        srv(req)->uri_len = strlen(uri);
    return req;
}
