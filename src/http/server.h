/* server.h - the libmicrohttpd front end: listener, request life cycle,
 * suspend/resume, limits.  libmicrohttpd runs on jetgate's event loop
 * thread (loop.h), which also reads NATS; handlers that wait for NATS
 * suspend their connection. */
#ifndef JG_HTTP_SERVER_H
#define JG_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "status.h"

struct jg_http;

struct jg_loop;

/* Starts listening on app->cfg.listen, served by loop (whose thread starts
 * later).  Logs and returns an error when the address is bad or taken. */
jg_status jg_http_start(struct jg_app *app, struct jg_loop *loop, struct jg_http **ret_http);

/* Asks our own /healthz over loopback (2 s at most): the polling thread
 * is alive and answering.  For the systemd watchdog; blocking. */
bool jg_http_alive(struct jg_http *h);

/* Stops accepting new connections (for graceful shutdown). */
void jg_http_quiesce(struct jg_http *h);

/* Requests whose handler has started and not yet finished. */
int64_t jg_http_active(struct jg_http *h);

/* Counters for /metrics. */
struct jg_http_stats {
    uint64_t requests;
    uint64_t by_class[6]; /* 1xx..5xx */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t deadline_cuts;  /* connections cut by request_deadline */
    uint64_t refused_conns;  /* connections closed over max_connections */
    int64_t open_conns;
};
void jg_http_get_stats(struct jg_http *h, struct jg_http_stats *ret);

/* Appends the per-route request counters and latency histograms in
 * Prometheus text format. */
struct jg_buf;
void jg_http_metrics(struct jg_http *h, struct jg_buf *b);

/* Ends every streaming response that waits for data (shutdown): each ends
 * after what it has already produced; held requests (blocking reads) are
 * answered at once, and those that come later are not held. */
void jg_http_end_streams(struct jg_http *h);
/* Streaming responses open now. */
int64_t jg_http_streams(struct jg_http *h);

/* Closes every connection and frees h.  The loop thread must have stopped
 * and every suspended request been completed (jg_nats_shutdown fails the
 * pending NATS requests).  NULL-safe. */
void jg_http_stop(struct jg_http *h);

#endif
