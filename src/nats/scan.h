/* scan.h - reading the last message of every subject of a stream through
 * a short-lived ephemeral push consumer: key listings, object listings,
 * purges of markers, the orphan-chunk janitor.
 *
 * A push consumer only delivers to a subject with a subscription of its
 * own (the server does not count wildcard interest), so a scan subscribes
 * to a fresh inbox and reads it with blocking calls: scans run on worker
 * threads (jg_scan_spawn), never on the loop thread. */
#ifndef JG_NATS_SCAN_H
#define JG_NATS_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "nats/conn.h"
#include "status.h"

/* Called for each message, on the thread that runs the scan (a worker);
 * msg stays owned by the scan. */
typedef void (*jg_scan_fn)(void *ctx, natsMsg *msg, uint64_t stream_seq, int64_t ts_ns);

/* Blocking.  Delivers the last message of each subject of stream that
 * matches filter (headers only when asked), until the consumer has
 * delivered what it held when it was created; deletes the consumer.
 * JG_ERR_NATS_UNAVAILABLE / _TIMEOUT / the mapped API error otherwise. */
jg_status jg_scan_last_per_subject(struct jg_nats *n, const char *stream, const char *filter,
                                   bool headers_only, int64_t timeout_ms, jg_scan_fn fn,
                                   void *ctx);

/* Runs fn(arg) on a detached worker thread.  At most a few run at once:
 * JG_ERR_TOO_MANY_REQUESTS beyond (fn is then not called).  fn hands its
 * result to the loop thread with jg_nats_post(). */
jg_status jg_scan_spawn(void (*fn)(void *arg), void *arg);

#endif
