/* server_int.h - what the files of the HTTP server share and handlers
 * never see: the server object, the request states, the per-connection
 * clocks, and the functions the server's files call in each other.
 *
 *   server.c     the libmicrohttpd daemons on the loop: options, start, stop,
 *                the loop hook, statistics and /metrics text
 *   limits.c     connection accounting and limits: per-connection clocks,
 *                max_connections, the deadline and upload-rate reaper
 *   lifecycle.c  a request's life: first access call, routing and
 *                admission, body, handler, completion, suspend/resume
 *   headers.c    the first access call's checks of the request line and headers
 *   upload.c     the gate of a streamed upload (pause, wake)
 *   respond.c    response assembly: queueing, early answers with linger,
 *                streaming responses
 *
 * Everything here runs on the loop thread unless a comment says otherwise. */
#ifndef JG_HTTP_SERVER_INT_H
#define JG_HTTP_SERVER_INT_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/request.h"
#include "loop.h"
#include "http/server.h"

/* Request states: HEADERS (allocated by the URI-log callback when the
 * request line arrives), BODY (route found, body being read), RUNNING
 * (handler started; maybe suspended while NATS answers), READY (response
 * complete, to be queued on the next access-handler call), DISCARD (answered
 * early: the body is read away), STREAM (a streamed upload's body flows to
 * the handler), LINGER (answered and shut down for writing, see
 * jg_http_answer_and_linger). */
enum { ST_HEADERS, ST_BODY, ST_RUNNING, ST_READY, ST_DISCARD, ST_STREAM, ST_LINGER };

/* A request refused before its body arrived still has its body read (up to
 * this much) so that the client sees the answer instead of a reset.  Past
 * it the answer is written with Connection: close, the connection is shut
 * down for writing, and what the client still sends is read away for at
 * most LINGER_MS (a close with unread data would reset the connection and
 * could take the answer with it). */
#define DISCARD_MAX (8u << 20)
#define LINGER_MS 2000

/* Upper bounds of the latency histogram's buckets, in seconds (server.c). */
#define NBOUNDS 14
extern const double jg_http_latency_bounds[NBOUNDS];

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
    struct jg_req *helds;         /* held requests (held.c; stream_lock) */
    struct pollfd *reap_fds;      /* the reaper's poll set (reaper thread) */
    struct jg_req **reap_reqs;
    size_t reap_cap;
};


/* A request as the server holds it: the handler's part first, then what
 * only the server's files touch.  Every struct jg_req a handler gets is
 * the req member of one of these. */
struct jg_sreq {
    struct jg_req req;
    void *conn;              /* struct MHD_Connection */
    struct jg_buf scratch;   /* char* freed with req (decoded query values, jg_req_keep) */
    int64_t body_limit;
    int64_t start_ms;
    atomic_int state;        /* ST_* */
    bool suspended;
    /* a streamed upload (jg_req_read_body) */
    jg_body_fn on_body;
    jg_body_end_fn on_body_end;
    atomic_int upload_gate;  /* GATE_*: paused or woken (upload.c) */
    /* life cycle */
    atomic_int refs;
    atomic_bool closed;
    bool counted;            /* counted in the server's active requests */
    uint64_t discarded;      /* body bytes read and dropped */
    size_t uri_len;          /* request target as sent (with the query) */
    bool stream_waiting;     /* guarded by the server's stream lock */
    bool peer_gone;          /* the client hung up (stream lock) */
    struct jg_req *snext, *sprev;  /* active streaming responses */
    /* a held request (held.c): in the server's held list (stream lock) */
    bool held;
    jg_close_fn held_gone;
    struct jg_req *hnext, *hprev;
    struct jg_loop_task held_task;
    struct jg_http *http;
    /* the token set in force when the request came (a reference) */
    struct jg_auth *auth;
    const char *cors_origin; /* allowed Origin of the request, or NULL */
    const char *method_name; /* as sent (libmicrohttpd's copy) */
    char *path;              /* raw path, without the query: for the access log */
    uint64_t bytes_out;      /* response body bytes sent */
};

static inline struct jg_sreq *srv(struct jg_req *req)
{
    return (struct jg_sreq *)req;
}

/* A streaming upload's gate: the loop thread pauses it (suspending the
 * connection) when on_body takes less than offered; any thread may wake
 * it.  A wake that comes before the pause is remembered, so it is never
 * lost, and nothing waits or spins. */
enum { GATE_RUNNING, GATE_PAUSED, GATE_WAKE };

/* --- lifecycle.c ---------------------------------------------------------- */
/* libmicrohttpd's callbacks (loop thread). */
enum MHD_Result jg_http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls);
void jg_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
void *jg_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
/* Resumes a suspended connection (any thread). */
void jg_http_resume_conn(struct jg_http *h, struct MHD_Connection *conn);
/* A body is declared or being sent (not over DISCARD_MAX). */
bool jg_http_has_body(struct jg_req *req);

/* --- headers.c ------------------------------------------------------------ */
/* The request line and headers are within max_header_size, framed one way
 * and free of NUL bytes; else the answer is set (state READY) and false
 * returned. */
bool jg_http_headers_sane(struct jg_req *req, const char *method, const char *version);

/* --- limits.c ------------------------------------------------------------- */
void jg_http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* The connection's clock goes to mode (CLOCK_*), from now (any thread). */
void jg_http_clock_set(struct jg_http *h, struct MHD_Connection *conn, int mode);
/* A streamed upload's body starts to flow; n more bytes of it came in;
 * jetgate paused it or let it go on (any thread). */
void jg_http_upload_clock_start(struct jg_http *h, struct MHD_Connection *conn);
void jg_http_upload_clock_add(struct jg_http *h, struct MHD_Connection *conn, size_t n);
void jg_http_upload_clock_pause(struct jg_http *h, struct MHD_Connection *conn, bool paused);
/* The reaper thread's body: cuts connections over their deadline. */
void *jg_http_reaper_main(void *arg);

/* --- upload.c ------------------------------------------------------------- */
/* A piece of a streamed upload's body: offered to the handler's on_body;
 * *size is left at what it did not take.  Returns true when the upload
 * was paused (the handler took less). */
bool jg_http_upload_piece(struct jg_http *h, struct jg_req *req, const char *data,
                          size_t *size);
/* Wakes a paused upload, or remembers the wake (any thread). */
void jg_http_upload_wake(struct jg_req *req);

/* --- respond.c ------------------------------------------------------------ */
/* Hands req's response to libmicrohttpd. */
enum MHD_Result jg_http_queue(struct jg_http *h, struct jg_req *req);
/* Writes the answer itself and lingers (a body past DISCARD_MAX still
 * coming); false when it cannot, the caller closes or queues. */
bool jg_http_answer_and_linger(struct jg_http *h, struct jg_req *req);
/* Reaper thread: wakes the waiting streams whose client hung up. */
void jg_http_reap_gone_streams(struct jg_http *h);

/* --- held.c --------------------------------------------------------------- */
/* Reaper thread, stream_lock held: one poll() over the sockets of the
 * requests of list (followed by next()) that pick() chooses; gone() for each
 * whose client hung up. */
void jg_http_reap_gone(struct jg_http *h, struct jg_req *list,
                       struct jg_req *(*next)(struct jg_req *), bool (*pick)(struct jg_req *),
                       void (*gone)(struct jg_http *, struct jg_req *));
/* Reaper thread: tells the held requests whose client hung up. */
void jg_http_reap_gone_helds(struct jg_http *h);
/* Shutdown: tells every held request to end now, as if its client left
 * (any thread). */
void jg_http_end_helds(struct jg_http *h);

#endif
