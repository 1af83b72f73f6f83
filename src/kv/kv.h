/* kv.h - key-value operations on JetStream, asynchronous.
 *
 * Buckets are the streams nats.go creates (KV_<bucket>, subjects
 * $KV.<bucket>.>); every operation here is byte-compatible with the
 * official clients.  Reads are direct gets, or leader gets (STREAM.MSG.GET)
 * on replicated buckets and buckets without direct access, so a read sees
 * every write acknowledged before it.  Writes are publishes with the
 * headers KV-Operation, Nats-Rollup, Nats-Expected-Last-Subject-Sequence
 * and Nats-Msg-Id.
 *
 * Every operation calls its callback exactly once, on the loop thread
 * (loop.h) or before it returns; the callback owns what it is given. */
#ifndef JG_KV_H
#define JG_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <nats/nats.h>

#include "app.h"
#include "nats/bucketm.h"
#include "status.h"

enum jg_kv_op { JG_KV_PUT, JG_KV_DEL, JG_KV_PURGE };

/* The longest key jetgate accepts. */
#define JG_KV_MAX_KEY_LEN 2048

/* The operation a KV-Operation header value names (NULL or anything else:
 * JG_KV_PUT). */
enum jg_kv_op jg_kv_op_from_header(const char *v);

/* Validation (no NATS involved). */
bool jg_kv_bucket_valid(const char *bucket);
bool jg_kv_key_valid(const char *key);
/* A key pattern: key characters plus '*' tokens and a final '>'. */
bool jg_kv_filter_valid(const char *filter);
/* NATS subject matching of key against pattern (tokens split at '.'). */
bool jg_kv_filter_match(const char *pattern, const char *key);

const char *jg_kv_op_name(enum jg_kv_op op);

/* --- client input (pure: no NATS, no request) -------------------------- */

/* An entity tag holding a revision, as jetgate sends it in ETag: "42" (or
 * a bare 42).  The revision goes to *ret (only on success); JG_OK or
 * JG_ERR_INVALID_PARAMETER.  No "W/" prefix here: If-Match wants a strong
 * tag. */
jg_status jg_kv_etag_parse(const char *v, uint64_t *ret);
/* An If-None-Match value: true when it is "*" or when one of its
 * comma-separated entity tags (weak ones compare equal; tags that are not
 * revisions are skipped) names revision rev. */
bool jg_kv_etag_list_match(const char *list, uint64_t rev);

/* A KV bucket configuration from the JSON body of POST/PUT
 * /v1/kvm/buckets/{bucket}; has_* say which fields were given. */
struct jg_kv_bucket_cfg {
    char *description;        /* owned; freed by jg_kv_bucket_cfg_done */
    int64_t history;          /* 1..64 */
    int64_t ttl;              /* ns, >= 0 */
    int64_t max_value_size;   /* -1 or > 0 */
    int64_t max_bytes;        /* -1 or > 0 */
    int64_t replicas;         /* 1..5 */
    char storage[8];          /* "file" or "memory" */
    bool has_description, has_history, has_ttl, has_mvs, has_mb, has_storage, has_replicas;
};
/* Parses body (len bytes, NUL-terminated after them; len 0 = all
 * defaults) into c, which must be zeroed before; a field given twice
 * counts once, the last time.  JG_OK, or JG_ERR_INVALID_CONFIG (or
 * JG_ERR_NOMEM) with the reason in why (whylen bytes).  c may hold
 * some fields after an error: free it with jg_kv_bucket_cfg_done either
 * way. */
jg_status jg_kv_bucket_cfg_parse(const char *body, size_t len, struct jg_kv_bucket_cfg *c,
                                 char *why, size_t whylen);
/* Frees what c owns (not c).  NULL-safe. */
void jg_kv_bucket_cfg_done(struct jg_kv_bucket_cfg *c);

/* --- bucket operations (bucket.c) --------------------------------------------
 * The stream configuration nats.go writes for a KV bucket (malloc'd), the
 * bucket status {"bucket","values","history","ttl","max_value_size",
 * "max_bytes","bytes","storage","replicas","description"} from a
 * stream-info reply, whether an existing stream config holds what c asks
 * (with defaults), and an update of the fields c gives (the storage cannot
 * change: JG_ERR_INVALID_CONFIG with why).  Pure. */
char *jg_kv_stream_config(const char *bucket, const struct jg_kv_bucket_cfg *c);
cJSON *jg_kv_bucket_status_json(const char *bucket, const cJSON *stream_info);
bool jg_kv_bucket_cfg_same(const cJSON *stream_cfg, const struct jg_kv_bucket_cfg *c);
jg_status jg_kv_bucket_cfg_update(cJSON *stream_cfg, const struct jg_kv_bucket_cfg *c, char *why,
                                  size_t whylen);
/* Create (update false) or create-or-update of a bucket from a JSON config
 * body, its status, its deletion, and the names of the KV buckets want
 * accepts; see nats/bucketm.h for fn. */
void jg_kv_bucket_write(struct jg_app *app, const char *bucket, const char *body, size_t len,
                        bool update, jg_bucketm_fn fn, void *ctx);
void jg_kv_bucket_status(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
void jg_kv_bucket_delete(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
void jg_kv_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn, void *ctx);

struct jg_kv_entry {
    char *bucket;
    char *key;
    uint64_t revision;
    uint64_t delta;
    int64_t created_ns;
    enum jg_kv_op op;
    const char *value;       /* points into msg or value_buf */
    size_t value_len;
    char *content_type;      /* NULL when none stored */
    natsMsg *msg;            /* owner of value (direct get) */
    char *value_buf;         /* owner of value (leader get) */
};

/* NULL-safe. */
void jg_kv_entry_free(struct jg_kv_entry *e);
/* JSON object {"bucket","key","created","revision","delta","operation","value"}. */
cJSON *jg_kv_entry_json(const struct jg_kv_entry *e);

/* Entry from a direct-get reply (headers Nats-Sequence, Nats-Time-Stamp,
 * Nats-Subject; nats/msgget.h reads them).  Takes msg.
 * JG_ERR_KEY_NOT_FOUND for a 404 status. */
jg_status jg_kv_entry_from_direct(const char *bucket, natsMsg *msg, struct jg_kv_entry **ret);
/* Entry from a STREAM.MSG.GET reply's "message" object. */
jg_status jg_kv_entry_from_stored(const char *bucket, const cJSON *message,
                                  struct jg_kv_entry **ret);
/* KV-Operation and Content-Type from a raw NATS header block. */
void jg_kv_parse_header_block(const char *hdrs, size_t len, enum jg_kv_op *op, char **ctype);

/* Result of a get: st JG_OK with e; JG_ERR_KEY_NOT_FOUND with e set when a
 * delete or purge marker hides the key (e->op says which), NULL when the
 * key never existed. */
typedef void (*jg_kv_get_fn)(void *ctx, jg_status st, struct jg_kv_entry *e); /* loop thread */
/* revision 0 = the latest. */
void jg_kv_get(struct jg_app *app, const char *bucket, const char *key, uint64_t revision,
               jg_kv_get_fn fn, void *ctx);

/* History: entries oldest first (array of count, callee frees each and the
 * array). */
typedef void (*jg_kv_history_fn)(void *ctx, jg_status st, struct jg_kv_entry **entries,
                                 size_t count); /* loop thread */
void jg_kv_history(struct jg_app *app, const char *bucket, const char *key,
                   jg_kv_history_fn fn, void *ctx);

enum jg_kv_expect { JG_KV_EXPECT_ANY, JG_KV_EXPECT_REVISION, JG_KV_EXPECT_CREATE };

struct jg_kv_write {
    enum jg_kv_op op;
    enum jg_kv_expect expect;
    uint64_t revision;          /* with JG_KV_EXPECT_REVISION */
    const char *content_type;   /* PUT only; NULL = none */
    const char *msg_id;         /* Idempotency-Key; NULL = none */
};

/* Write result: the new revision.  Errors: JG_ERR_REVISION_MISMATCH,
 * JG_ERR_KEY_EXISTS (create), JG_ERR_PAYLOAD_TOO_LARGE, JG_ERR_BUCKET_SEALED,
 * JG_ERR_INSUFFICIENT_STORAGE, JG_ERR_BUCKET_NOT_FOUND, NATS errors. */
typedef void (*jg_kv_write_fn)(void *ctx, jg_status st, uint64_t revision); /* loop thread */
/* value is copied before this returns. */
void jg_kv_write(struct jg_app *app, const char *bucket, const char *key, const void *value,
                 size_t len, const struct jg_kv_write *w, jg_kv_write_fn fn, void *ctx);

/* Current keys (no deleted ones) matching any of filters (NULL-terminated,
 * may be NULL) and starting with any of prefixes (likewise), and with one
 * of scope's prefixes (a caller's access limit, jg_auth_scope; NULL for
 * none; copied).  keys is a JSON array text (callee frees).  The keys
 * are read on a worker thread (a scan, nats/scan.h); fn runs on the loop
 * thread. */
typedef void (*jg_kv_keys_fn)(void *ctx, jg_status st, char *json, size_t len); /* loop thread */
void jg_kv_keys(struct jg_app *app, const char *bucket, char **filters, char **prefixes,
                char *const *scope, jg_kv_keys_fn fn, void *ctx);

/* The key selector of listings and bulk reads: does key match any of
 * filters (NULL-terminated, NULL or empty for all), start with any of
 * prefixes (likewise) and start with one of scope's prefixes (NULL: any)?
 * Pure. */
bool jg_kv_selected(char *const *filters, char *const *prefixes, char *const *scope,
                    const char *key);
/* A key pattern the server can filter by that selects exactly what
 * filters and prefixes select (one filter, or one prefix ending with '.'),
 * written to buf when needed; NULL when the keys must be matched here. */
const char *jg_kv_server_filter(char *const *filters, char *const *prefixes, char *buf,
                                size_t len);

/* --- many values in one read (entries.c) ----------------------------------
 * The current entry of every key a selector matches (filters, prefixes
 * and scope as for jg_kv_keys), through one last-per-subject consumer, or
 * of each named key (keys, in the order given; a key that does not exist,
 * or is deleted without `deleted`, as {"bucket","key","missing":true}).
 * Each entry is the text of jg_kv_entry_json; a JSON array, or one entry a
 * line with ndjson.  Deleted keys (markers) only with deleted.  Memory stays
 * bounded: NATS is asked for more only while the reader keeps up. */
struct jg_kv_entries;
struct jg_kv_entries_query {
    char *const *filters, *const *prefixes; /* NULL-terminated or NULL */
    char *const *keys;                      /* named keys instead, or NULL */
    char *const *scope;                     /* jg_auth_scope, NULL for all */
    bool deleted, ndjson;
    int64_t max_ms;                         /* the whole read's time limit */
};
/* Once, on the loop thread, unless closed first: st JG_OK with the bucket's
 * revision R read before any entry (the body may start), or the error
 * before anything was read (JG_ERR_BUCKET_NOT_FOUND ...). */
typedef void (*jg_kv_entries_fn)(void *ctx, jg_status st, uint64_t revision); /* loop thread */
/* Starts a read (copies q); wake(ctx) runs (loop thread) when
 * jg_kv_entries_read() returned 0 and text is ready.  Loop thread only. */
jg_status jg_kv_entries_open(struct jg_app *app, const char *bucket,
                             const struct jg_kv_entries_query *q, jg_kv_entries_fn started,
                             void (*wake)(void *ctx), void *ctx, struct jg_kv_entries **ret);
/* Copies up to max bytes of text: the count, 0 when none is ready yet (wake
 * follows), -1 at the end, -2 when the read failed after it started. */
long jg_kv_entries_read(struct jg_kv_entries *e, char *buf, size_t max);
/* Entries written so far. */
uint64_t jg_kv_entries_count(const struct jg_kv_entries *e);
/* Ends the read; no callback follows.  NULL-safe. */
void jg_kv_entries_close(struct jg_kv_entries *e);

/* A delete (or, with purge, a purge) marker for every current key that
 * filters, prefixes and scope select (as jg_kv_keys; all NULL: every key),
 * a few written at once.  Not atomic: on a failure the writes stop; fn
 * gets how many keys were done, the newest marker's revision (0 if none)
 * and, on failure, a detail naming where it stopped.  Repeating finishes
 * the job (done keys are no longer current).  fn runs on the loop thread. */
typedef void (*jg_kv_mark_fn)(void *ctx, jg_status st, size_t done, uint64_t revision,
                              const char *detail); /* loop thread */
void jg_kv_mark_selected(struct jg_app *app, const char *bucket, char *const *filters,
                         char *const *prefixes, char *const *scope, bool purge, jg_kv_mark_fn fn,
                         void *ctx);

/* Removes delete and purge markers older than older_than_ns (younger ones
 * keep only the marker), as the Go client's PurgeDeletes.  fn runs on
 * the loop thread. */
typedef void (*jg_kv_done_fn)(void *ctx, jg_status st, const char *detail); /* loop thread */
void jg_kv_purge_deletes(struct jg_app *app, const char *bucket, int64_t older_than_ns,
                         jg_kv_done_fn fn, void *ctx);

#endif
