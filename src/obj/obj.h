/* obj.h - the object store on JetStream, byte-compatible with nats.go and
 * nats.js (stream OBJ_<bucket>, chunks on $O.<bucket>.C.<nuid>, ObjectInfo
 * JSON on $O.<bucket>.M.<base64url(name)>; the layout of NATS ADR-20).
 *
 * Pure parts (no NATS): names, meta JSON, digests, Range and Content-Digest
 * parsing, the bucket stream configuration.  Asynchronous parts: meta read,
 * meta write, purge, the streaming put session and the chunk reader.  The
 * HTTP layer decides what to answer; nothing here builds HTTP responses.
 *
 * Callbacks run on the loop thread (loop.h) unless stated otherwise. */
#ifndef JG_OBJ_H
#define JG_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "nats/bucketm.h"
#include "nats/js.h"
#include "status.h"

#define JG_OBJ_DEFAULT_CHUNK (128u * 1024u)
#define JG_OBJ_MAX_NAME 1024
#define JG_OBJ_DIGEST_PREFIX "SHA-256="

/* --- names and subjects ----------------------------------------------------- */

bool jg_obj_bucket_valid(const char *bucket);
/* Non-empty valid UTF-8 of at most JG_OBJ_MAX_NAME bytes. */
bool jg_obj_name_valid(const char *name);
/* Padded URL-safe base64 of the name's bytes (malloc'd). */
char *jg_obj_name_encode(const char *name);
/* Fresh 22-character nuid into out (23 bytes). */
jg_status jg_obj_nuid(char out[23]);

/* --- ObjectInfo ------------------------------------------------------------ */

struct jg_obj_info {
    char *name;
    char *description;       /* NULL = none */
    cJSON *headers;          /* object: name -> array of strings; NULL = none */
    cJSON *metadata;         /* object: string -> string; NULL = none */
    uint32_t max_chunk_size; /* 0 = not given */
    bool is_link;
    char *link_bucket;       /* with is_link */
    char *link_name;         /* NULL = link to a whole bucket */
    char *bucket;
    char *nuid;
    uint64_t size;
    uint64_t chunks;
    char *mtime;             /* as stored (RFC 3339) */
    int64_t stored_ns;       /* timestamp of the meta message (0 = unknown) */
    char *digest;            /* "SHA-256=<b64url>" or NULL */
    bool deleted;
    uint64_t revision;       /* stream sequence of the meta message */
};

void jg_obj_info_free(struct jg_obj_info *info);   /* NULL-safe */
/* Parses a meta message payload; unknown fields are ignored. */
jg_status jg_obj_info_parse(const char *json, size_t len, struct jg_obj_info **ret);
/* The JSON stored in the meta message, in nats.go's field order and
 * omitempty style (malloc'd text). */
char *jg_obj_info_meta_json(const struct jg_obj_info *info);
/* ObjectInfo as returned over HTTP: the stored fields plus "revision",
 * "mtime" from the stored timestamp, "deleted" always present. */
cJSON *jg_obj_info_api_json(const struct jg_obj_info *info);
/* First value of an object header (case-insensitive name) or NULL. */
const char *jg_obj_info_header(const struct jg_obj_info *info, const char *name);

/* "SHA-256=" + padded base64url of the 32-byte hash into out (54 bytes). */
void jg_obj_digest_format(const uint8_t sha[32], char out[54]);
/* Decodes a stored digest leniently (as nats.js: base64url or std, padded or
 * not, or hex) into 32 bytes. */
jg_status jg_obj_digest_parse(const char *digest, uint8_t ret_sha[32]);

/* Canonical MIME header form: "x-custom-thing" -> "X-Custom-Thing" (in place). */
void jg_obj_canonical_header(char *name);
/* Can HTTP carry this header: a name that is an RFC 9110 token of at most
 * 255 bytes, a value without control bytes (tab allowed)?  Pure. */
bool jg_obj_header_name_valid(const char *name);
bool jg_obj_header_value_valid(const char *value);

/* --- HTTP-adjacent parsing (pure) ----------------------------------------- */

enum jg_obj_range_kind {
    JG_RANGE_NONE,           /* no Range, or one to ignore: send everything */
    JG_RANGE_OK,             /* [start, end] inclusive */
    JG_RANGE_UNSATISFIABLE,  /* 416 */
};
/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" against size.
 * Malformed, reversed or multi-range headers give JG_RANGE_NONE. */
enum jg_obj_range_kind jg_obj_range_parse(const char *header, uint64_t size, uint64_t *ret_start,
                                          uint64_t *ret_end);
/* Does an entity-tag list (If-Match, If-None-Match, If-Range) name digest,
 * quoted or not, or hold "*"?  weak_ok: W/"..." tags count (weak
 * comparison, for If-None-Match and If-Range); else they never match. */
bool jg_obj_etag_list_matches(const char *list, const char *digest, bool weak_ok);

/* RFC 9530 Content-Digest: finds the sha-256 member (":<std b64>:").
 * JG_OK with *ret_found false when there is no sha-256 member;
 * JG_ERR_INVALID_PARAMETER when the sha-256 member is malformed. */
jg_status jg_obj_content_digest_parse(const char *header, bool *ret_found, uint8_t ret_sha[32]);

/* --- buckets ----------------------------------------------------------------- */

struct jg_obj_bucket_cfg {
    char *description;
    int64_t ttl;             /* ns */
    int64_t max_bytes;       /* -1 = unlimited */
    int64_t replicas;
    char storage[8];
    bool has_description, has_ttl, has_max_bytes, has_replicas, has_storage;
};
void jg_obj_bucket_cfg_done(struct jg_obj_bucket_cfg *c);
/* Parses a JSON config body (empty = defaults); why gets the reason. */
jg_status jg_obj_bucket_cfg_parse(const char *body, size_t len, struct jg_obj_bucket_cfg *c,
                                  char *why, size_t whylen);
/* The stream configuration nats.go writes for an object bucket (malloc'd). */
char *jg_obj_stream_config(const char *bucket, const struct jg_obj_bucket_cfg *c);
/* Does an existing stream config match what c asks (with defaults)? */
bool jg_obj_bucket_cfg_same(const cJSON *stream_cfg, const struct jg_obj_bucket_cfg *c);
/* Bucket status {"bucket","description","ttl","storage","replicas","sealed","size","max_bytes"}
 * from a stream-info reply. */
cJSON *jg_obj_bucket_status_json(const char *bucket, const cJSON *stream_info);
/* An update of the fields c gives to an existing stream config (the
 * storage cannot change: JG_ERR_INVALID_CONFIG with why).  Pure. */
jg_status jg_obj_bucket_cfg_update(cJSON *stream_cfg, const struct jg_obj_bucket_cfg *c,
                                   char *why, size_t whylen);

/* Bucket operations (bucket.c): create (update false) or create-or-update
 * from a JSON config body, status, deletion, the names of the object
 * buckets want accepts, and seal; see nats/bucketm.h for fn. */
void jg_obj_bucket_write(struct jg_app *app, const char *bucket, const char *body, size_t len,
                         bool update, jg_bucketm_fn fn, void *ctx);
void jg_obj_bucket_status(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
void jg_obj_bucket_delete(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
void jg_obj_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn, void *ctx);
void jg_obj_bucket_seal(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);

/* --- asynchronous operations ------------------------------------------------- */

/* Meta read.  st JG_OK with info (deleted ones too: check info->deleted),
 * JG_ERR_OBJECT_NOT_FOUND when the name has no meta, or another error.
 * binfo: the bucket's settings (valid during the call).  Callee owns info. */
typedef void (*jg_obj_info_fn)(void *ctx, jg_status st, struct jg_obj_info *info,
                               const struct jg_bucket_info *binfo); /* loop thread */
void jg_obj_info_get(struct jg_app *app, const char *bucket, const char *name, jg_obj_info_fn fn,
                     void *ctx);

/* Meta write with Nats-Rollup: sub on info->name's meta subject in bucket.
 * expect_seq >= 0 adds Nats-Expected-Last-Subject-Sequence (mismatch:
 * JG_ERR_PRECONDITION_FAILED).  msg_id may be NULL; when the server reports
 * the message as a duplicate of that id, st is JG_ERR_OBJECT_EXISTS with the
 * original's sequence.  fn gets the new sequence. */
typedef void (*jg_obj_seq_fn)(void *ctx, jg_status st, uint64_t seq); /* loop thread */
void jg_obj_meta_write(struct jg_app *app, const char *bucket, const struct jg_obj_info *info,
                       int64_t expect_seq, const char *msg_id, jg_obj_seq_fn fn, void *ctx);

/* Removes every message of one subject of the bucket's stream
 * ("$O.<b>.C.<nuid>" or a meta subject); fn gets the count removed.  On
 * replicated buckets one deletion per message, never a purge (see
 * "purge of a subject" in obj.c). */
void jg_obj_purge_subject(struct jg_app *app, const char *bucket, const char *subject,
                          jg_obj_seq_fn fn, void *ctx);

/* Every current ObjectInfo of a bucket (deleted ones only with
 * include_deleted) whose name want accepts (want NULL: all; called with
 * ctx on the scan's worker thread) as a JSON array; callee owns arr.  fn
 * runs on the loop thread. */
typedef void (*jg_obj_list_fn)(void *ctx, jg_status st, cJSON *arr); /* loop thread */
typedef bool (*jg_obj_want_fn)(void *ctx, const char *name); /* the scan's worker thread */
void jg_obj_list(struct jg_app *app, const char *bucket, bool include_deleted,
                 jg_obj_want_fn want, jg_obj_list_fn fn, void *ctx);

/* --- edits of one object (edit.c) ------------------------------------------ */

/* The end of an edit: JG_OK with the meta written (valid during the call
 * only), or an error with a detail for the client (NULL: none beyond the
 * status's own).  Runs on the loop thread, or at once when the edit could
 * not start (out of memory). */
typedef void (*jg_obj_edit_fn)(void *ctx, jg_status st, const struct jg_obj_info *info,
                               const char *detail); /* loop thread */

/* Deletes an object: a tombstone meta (deleted, size 0), then its chunks
 * are removed.  JG_ERR_OBJECT_NOT_FOUND for a missing or deleted object,
 * JG_ERR_BUCKET_SEALED in a sealed bucket. */
void jg_obj_delete(struct jg_app *app, const char *bucket, const char *name, jg_obj_edit_fn fn,
                   void *ctx);

/* Applies a JSON merge patch (name, description, headers, metadata; see
 * jg_obj_info_apply_patch) to an object's meta.  A new name must be free
 * (JG_ERR_OBJECT_EXISTS); the old name's meta is removed after the write. */
void jg_obj_patch(struct jg_app *app, const char *bucket, const char *name, const cJSON *patch,
                  jg_obj_edit_fn fn, void *ctx);

/* The merge patch itself on info; pure.  JG_OK, or JG_ERR_INVALID_NAME /
 * JG_ERR_INVALID_PARAMETER with the reason in why (info then partly
 * changed). */
jg_status jg_obj_info_apply_patch(struct jg_obj_info *info, const cJSON *patch, char *why,
                                  size_t wl);

/* Writes name as a link to target_bucket's target_name (NULL: a link to
 * the bucket).  The target must exist, live and not a link
 * (JG_ERR_INVALID_PARAMETER, JG_ERR_OBJECT_NOT_FOUND); name may hold a
 * link or nothing, not an object (JG_ERR_OBJECT_EXISTS). */
void jg_obj_link(struct jg_app *app, const char *bucket, const char *name,
                 const char *target_bucket, const char *target_name, jg_obj_edit_fn fn, void *ctx);

/* --- streaming put ---------------------------------------------------------- */

enum jg_obj_cond { JG_OBJ_COND_NONE, JG_OBJ_COND_ABSENT, JG_OBJ_COND_DIGEST };

struct jg_obj_put_opts {
    const char *bucket;
    const char *name;
    const char *description;   /* NULL = none */
    cJSON *headers;            /* taken; NULL = none */
    uint64_t chunk_size;       /* 0 = default */
    int64_t declared_size;     /* -1 = unknown */
    bool has_digest;           /* Content-Digest sha-256 given */
    uint8_t digest[32];
    enum jg_obj_cond cond;
    const char *if_match;      /* with JG_OBJ_COND_DIGEST: list of entity tags */
    const char *msg_id;        /* NULL = none */
};

struct jg_obj_put;

/* Events of a put session (see jg_obj_put_begin). */
struct jg_obj_put_events {
    /* A write that took less than offered may be retried now.  Runs on
     * the loop thread (after an acknowledgement), or within
     * jg_obj_put_end on the caller's thread. */
    void (*wake)(void *ctx);
    /* Final: committed (st JG_OK, info valid during the call) or failed
     * (everything written removed, the previous version intact).  The
     * session is freed right after.  Runs on the loop thread, or
     * within jg_obj_put_write/_end/_abort on the caller's thread. */
    void (*done)(void *ctx, jg_status st, const char *detail, const struct jg_obj_info *info);
};

/* Starts a put: bucket check, size limits, current version, preconditions
 * run while the caller already feeds data (writes take nothing until they
 * pass; a failure among them ends in done).  opts' strings are copied.
 * *ret is NULL only when out of memory (then nothing follows).  done is
 * delivered only within a write, end or abort, or after a write that took
 * less than offered, or after end or abort. */
void jg_obj_put_begin(struct jg_app *app, const struct jg_obj_put_opts *opts,
                      const struct jg_obj_put_events *ev, void *ctx, struct jg_obj_put **ret);
/* Takes up to len bytes (caller's thread).  Less than len: the window of
 * unacknowledged chunks is full, wake follows (or, when the put failed,
 * done follows or has run within this call). */
size_t jg_obj_put_write(struct jg_obj_put *p, const void *data, size_t len);
/* No more data: verifies, commits; done follows. */
void jg_obj_put_end(struct jg_obj_put *p);
/* The client left: the put is undone (unless already committing); done
 * follows with an error or, if committing, JG_OK. */
void jg_obj_put_abort(struct jg_obj_put *p);

/* --- chunk reader -------------------------------------------------------------- */

struct jg_obj_reader;
/* Reads bytes [start, start+len) of the object described by info (a live,
 * non-link object in bucket) with a small prefetch window.  With a full
 * read (start 0, len = size) the size, chunk count and digest are checked
 * and the last chunk is held back until they are.  wake(ctx) runs when a
 * read that returned 0 may succeed (loop thread, no lock held); release(ctx)
 * runs once when the reader is gone for good (after jg_obj_reader_free and
 * its last in-flight fetch; loop thread).  On error release is not called.
 * Every call here is made on the loop thread. */
jg_status jg_obj_reader_new(struct jg_app *app, const struct jg_bucket_info *binfo,
                            const struct jg_obj_info *info, uint64_t start, uint64_t len,
                            void (*wake)(void *), void (*release)(void *), void *ctx,
                            struct jg_obj_reader **ret);
/* Copies what is queued, across chunks, up to max: >0 bytes, 0 = nothing
 * yet, -1 end, -2 error (see detail). */
long jg_obj_reader_read(struct jg_obj_reader *r, char *buf, size_t max);
/* Why the reader failed ("" when it did not). */
const char *jg_obj_reader_error(struct jg_obj_reader *r);
/* Releases the reader (any in-flight fetch is dropped when it returns). */
void jg_obj_reader_free(struct jg_obj_reader *r);

#endif
