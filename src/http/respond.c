/* respond.c - response assembly: a handler's struct jg_resp handed to
 * libmicrohttpd (buffers, zero-copy message bodies, streams), CORS and
 * request-id headers, per-route status counts, answers written directly
 * before a long body (linger), and streaming responses that wait for data. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "http/router.h"
#include "util.h"

static ssize_t content_reader(void *cls, uint64_t pos, char *buf, size_t max);
static void content_free(void *cls);

/* Response headers a browser page may read (CORS). */
static const char cors_expose[] =
    "ETag, Last-Modified, Content-Range, Content-Length, Accept-Ranges, Repr-Digest, "
    "Retry-After, Location, X-Request-Id, X-Nats-Kv-Bucket, X-Nats-Kv-Key, X-Nats-Kv-Created, "
    "X-Nats-Kv-Revision, X-Nats-Kv-Delta, X-Nats-Kv-Operation, X-Nats-Kv-Sequence, "
    "X-Nats-Obj-Name, X-Nats-Obj-Bucket, X-Nats-Obj-Nuid, X-Nats-Obj-Size, X-Nats-Obj-Mod-Time, "
    "X-Nats-Obj-Chunks, X-Nats-Obj-Digest, X-Nats-Obj-Description, X-Nats-Obj-Max-Chunk-Size";

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

enum MHD_Result jg_http_queue(struct jg_http *h, struct jg_req *req)
{
    struct jg_resp *r = &req->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;
    size_t body_len = r->body_len;

    if (srv(req)->counted) {
        srv(req)->counted = false;
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
            srv(req)->snext = h->streams;
            srv(req)->sprev = NULL;
            if (h->streams)
                srv(h->streams)->sprev = req;
            h->streams = req;
            pthread_mutex_unlock(&h->stream_lock);
        }
    } else if (r->body_owner) {
        mr = MHD_create_response_from_buffer_with_free_callback_cls(r->body_len, r->body,
                                                                    r->body_release, r->body_owner);
        r->body_owner = NULL;
        r->body_release = NULL;
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
    if (srv(req)->cors_origin) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", srv(req)->cors_origin);
        MHD_add_response_header(mr, "Vary", "Origin");
        MHD_add_response_header(mr, "Access-Control-Expose-Headers", cors_expose);
    }
    if (atomic_load(&h->app->shutting_down))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    if (!r->stream_read) {
        atomic_fetch_add(&h->bytes_out, body_len);
        srv(req)->bytes_out = body_len;
    }
    ret = MHD_queue_response(srv(req)->conn, (unsigned)r->status, mr);
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
bool jg_http_answer_and_linger(struct jg_http *h, struct jg_req *req)
{
    struct jg_resp *r = &req->resp;
    const union MHD_ConnectionInfo *tls =
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
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
    if (srv(req)->cors_origin)
        jg_buf_printf(&b, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                          "Access-Control-Expose-Headers: %s\r\n",
                      srv(req)->cors_origin, cors_expose);
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
    srv(req)->bytes_out = r->body ? r->body_len : 0;
    atomic_fetch_add(&h->bytes_out, srv(req)->bytes_out);
    if (srv(req)->counted) {
        srv(req)->counted = false;
        atomic_fetch_sub(&h->active, 1);
    }
    count_status(h, req);
    jg_http_clock_set(h, srv(req)->conn, CLOCK_LINGER);
    atomic_store(&srv(req)->state, ST_LINGER);
    return true;
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
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        shutdown(ci->connect_fd, SHUT_WR);
    unsigned own = srv(req)->http->idle_timeout_s == 1 ? 2 : 1;
    MHD_set_connection_option(srv(req)->conn, MHD_CONNECTION_OPTION_TIMEOUT, own);
}

static ssize_t content_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct jg_req *req = cls;
    struct jg_http *h = srv(req)->http;
    struct jg_resp *r = &req->resp;
    ssize_t ret;

    pthread_mutex_lock(&h->stream_lock);
    if (srv(req)->peer_gone) {
        pthread_mutex_unlock(&h->stream_lock);
        stream_close_now(req);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    long n = r->stream_read(r->stream_ctx, buf, max);
    if (n > 0) {
        ret = n;
        atomic_fetch_add(&h->bytes_out, (uint64_t)n);
        srv(req)->bytes_out += (uint64_t)n;
    } else if (n == 0 && atomic_load(&h->app->shutting_down)) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (n == 0) {
        srv(req)->stream_waiting = true;
        MHD_suspend_connection(srv(req)->conn);
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
    struct jg_http *h = srv(req)->http;
    struct jg_resp *r = &req->resp;

    pthread_mutex_lock(&h->stream_lock);
    if (srv(req)->sprev)
        srv(srv(req)->sprev)->snext = srv(req)->snext;
    else if (h->streams == req)
        h->streams = srv(req)->snext;
    if (srv(req)->snext)
        srv(srv(req)->snext)->sprev = srv(req)->sprev;
    srv(req)->snext = srv(req)->sprev = NULL;
    srv(req)->stream_waiting = false;
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
    struct jg_http *h = srv(req)->http;
    pthread_mutex_lock(&h->stream_lock);
    if (srv(req)->stream_waiting) {
        srv(req)->stream_waiting = false;
        jg_http_resume_conn(srv(req)->http, srv(req)->conn);
    }
    pthread_mutex_unlock(&h->stream_lock);
}

void jg_http_end_streams(struct jg_http *h)
{
    jg_http_end_helds(h);
    pthread_mutex_lock(&h->stream_lock);
    for (struct jg_req *r = h->streams; r; r = srv(r)->snext) {
        if (srv(r)->stream_waiting) {
            srv(r)->stream_waiting = false;
            jg_http_resume_conn(srv(r)->http, srv(r)->conn);
        }
    }
    pthread_mutex_unlock(&h->stream_lock);
}

static struct jg_req *stream_next(struct jg_req *r)
{
    return srv(r)->snext;
}

static bool stream_waits(struct jg_req *r)
{
    return srv(r)->stream_waiting;
}

static void stream_hung_up(struct jg_http *h, struct jg_req *r)
{
    (void)h;
    srv(r)->stream_waiting = false;
    srv(r)->peer_gone = true; /* the reader ends the stream */
    jg_http_resume_conn(srv(r)->http, srv(r)->conn);
}

/* Streams waiting for data are suspended, so libmicrohttpd does not see
 * their clients leave: once a second, one poll() over all their sockets
 * (the lock is held for one system call, not one per stream) wakes those
 * whose peer hung up, so the stream ends and its resources (a watch's
 * consumer) go. */
void jg_http_reap_gone_streams(struct jg_http *h)
{
    pthread_mutex_lock(&h->stream_lock);
    jg_http_reap_gone(h, h->streams, stream_next, stream_waits, stream_hung_up);
    pthread_mutex_unlock(&h->stream_lock);
}

int64_t jg_http_streams(struct jg_http *h)
{
    int64_t n = 0;
    pthread_mutex_lock(&h->stream_lock);
    for (struct jg_req *r = h->streams; r; r = srv(r)->snext)
        n++;
    pthread_mutex_unlock(&h->stream_lock);
    return n;
}

