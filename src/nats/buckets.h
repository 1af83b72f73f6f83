/* buckets.h - the bucket cache: which KV and object buckets exist and the
 * few stream settings the request path needs (limits, direct get,
 * replicas, seal; struct jg_bucket_info in nats/js.h), so that an
 * operation on a missing bucket is answered at once and an oversize value
 * is refused before anything is published.  Entries live a few seconds
 * and are dropped when jetgate changes a bucket, on stream advisories and
 * when NATS reconnects. */
#ifndef JG_NATS_BUCKETS_H
#define JG_NATS_BUCKETS_H

#include <stdint.h>

#include "nats/conn.h"
#include "nats/js.h"
#include "status.h"

struct jg_buckets;
/* *request_timeout_ms (the configuration's, read at each lookup): a lookup
 * that asks the server takes at most half of it. */
jg_status jg_buckets_new(struct jg_nats *n, const int64_t *request_timeout_ms,
                         struct jg_buckets **ret);
/* Stops following stream advisories and waits (at most 2 s) until their
 * last callback ran: call before the connection closes, so that no
 * subscription of the cache is left for the close to end (libnats 3.4.1 then
 * loses the message that tells its delivery thread).  The cache keeps
 * working without advisories.  NULL-safe. */
void jg_buckets_stop(struct jg_buckets *b);
void jg_buckets_free(struct jg_buckets *b);

/* Callback with the bucket's settings (valid during the call only), or
 * JG_ERR_BUCKET_NOT_FOUND / a NATS error.  Runs on the loop thread, or
 * within jg_buckets_lookup / jg_buckets_recheck on the caller's thread. */
typedef void (*jg_buckets_fn)(void *ctx, jg_status st, const struct jg_bucket_info *info);

/* Looks a bucket up: from the cache (fn runs before this returns) or by a
 * stream-info request (fn runs later on the loop thread, using r).
 * If the request cannot be sent, fn runs at once with the error. */
void jg_buckets_lookup(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket,
                       struct jg_nats_req *r, jg_buckets_fn fn, void *ctx);

/* As jg_buckets_lookup, but always asks the server and updates the cache
 * with the answer: is a bucket whose stream stopped answering deleted?
 * With r and fn NULL, a background refresh that nobody waits for. */
void jg_buckets_recheck(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket,
                        struct jg_nats_req *r, jg_buckets_fn fn, void *ctx);

/* Forgets one bucket (after jetgate changed or deleted it, or on doubt). */
void jg_buckets_forget(struct jg_buckets *b, enum jg_bucket_kind kind, const char *bucket);

/* A message to a bucket's stream subjects found no responder (status 503).
 * A replicated stream is between leaders (only the leader listens):
 * JG_ERR_NATS_UNAVAILABLE (503 with Retry-After), and the bucket stays in
 * the cache, so the next request does not wait for a stream-info answer
 * that no leader gives.  Otherwise the stream is gone: its entry is dropped
 * and JG_ERR_BUCKET_NOT_FOUND. */
jg_status jg_buckets_no_responders(struct jg_buckets *b, enum jg_bucket_kind kind,
                                   const char *bucket);
/* Forgets all (after a reconnect). */
void jg_buckets_clear(struct jg_buckets *b);

#endif
