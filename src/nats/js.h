/* js.h - JetStream API requests over the multiplexer: replies, error
 * mapping, the fields of JetStream JSON, the stream configuration of a
 * bucket, and the stream facts of a bucket (struct jg_bucket_info) that the
 * bucket cache (nats/buckets.h) holds. */
#ifndef JG_NATS_JS_H
#define JG_NATS_JS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "nats/conn.h"
#include "nats/subjects.h" /* enum jg_bucket_kind, jg_js_stream_name */
#include "status.h"

/* The stream configuration of a bucket, in the shape nats.go writes for KV
 * and object buckets: limits retention, discard new, rollup headers allowed,
 * direct get on.  The two kinds differ in the fields below. */
struct jg_js_stream_spec {
    enum jg_bucket_kind kind;
    const char *bucket;
    const char *description;   /* NULL or "" = none */
    const char *storage;       /* NULL = "file" */
    int64_t max_bytes;         /* -1 = unlimited */
    int64_t max_age_ns;        /* 0 = forever */
    int64_t per_subject;       /* max_msgs_per_subject, -1 = unlimited */
    int64_t max_msg_size;      /* -1 = unlimited */
    int64_t replicas;
    int64_t duplicate_window_ns; /* 0 = the server's default */
    bool deny_delete;
};
/* Returns the JSON text (caller frees) or NULL when out of memory. */
char *jg_js_stream_config(const struct jg_js_stream_spec *s);

/* Sends a JetStream API request "$JS.API.<api>" with a JSON body (may be
 * NULL).  fn gets the raw reply; see jg_js_reply_json(). */
jg_status jg_js_api(struct jg_nats *n, struct jg_nats_req *r, const char *api, const char *body,
                    int flags, jg_nats_reply_fn fn, void *ctx);
/* The same for the API of one stream, "$JS.API.<api>.<stream>", or of one
 * of its consumers (name, "$JS.API.<api>.<stream>.<name>"): jg_subj_api. */
jg_status jg_js_stream_api(struct jg_nats *n, struct jg_nats_req *r, const char *api,
                           const char *stream, const char *name, const char *body, int flags,
                           jg_nats_reply_fn fn, void *ctx);

/* Parses an API reply.  JG_OK with *ret_json (caller frees) when it holds
 * no error; else the mapped status, with the server's description in desc
 * and its err_code in *ret_err_code (0 when none).  Consumes msg. */
jg_status jg_js_reply_json(natsMsg *msg, cJSON **ret_json, int *ret_err_code, char *desc,
                           size_t desclen);

/* The stream sequence of a publish acknowledgement ({"stream":..,"seq":N,...})
 * without building a JSON tree: the hot path of every write.  JG_OK with
 * *ret_seq; anything else (an error reply, a status message, an unexpected
 * shape) is JG_ERR_INTERNAL and the caller falls back to
 * jg_js_reply_json(). */
jg_status jg_js_ack_seq(natsMsg *msg, uint64_t *ret_seq);

/* Removes the messages of one subject of stream: all of them, or with
 * keep_last all but the subject's last.  On a replicated stream one
 * STREAM.MSG.DELETE per message, never a purge: nats-server before 2.9.18
 * replays a filtered purge, on a replica that restarts, as the removal of
 * every message before it (nats-server issue 4196), and the other replicas
 * follow that replica once it leads; the stream must allow deletions
 * (object streams do, KV streams do not).  The stream leader names the
 * messages one by one, and a headers-only consumer lists the rest of a
 * subject that holds more than a few, with many deletions in flight (see
 * remove.c).  Otherwise one filtered purge.  fn gets the count removed (on
 * error, those removed so far); it runs on the loop thread, or at
 * once when nothing could be sent. */
typedef void (*jg_js_count_fn)(void *ctx, jg_status st, uint64_t count);
void jg_js_remove_subject(struct jg_nats *n, const char *stream, const char *subject,
                          bool replicated, bool keep_last, jg_js_count_fn fn, void *ctx);

/* Fields of JetStream JSON: the number (def when absent or not a number)
 * and the string ("" when absent). */
int64_t jg_js_num(const cJSON *o, const char *name, int64_t def);
/* Whether that number is want as JSON carries it: through a double, so an
 * integer beyond 2^53, which no double holds, matches its nearest double
 * (a stream created with want holds that). */
bool jg_js_num_is(const cJSON *o, const char *name, int64_t def, int64_t want);
/* Client JSON (bucket configurations): a number that is an integer in int64
 * range; a duration as nanoseconds (>= 0) or a Go duration string ("1h").
 * JG_ERR_INVALID_CONFIG otherwise. */
jg_status jg_js_json_i64(const cJSON *v, int64_t *ret);
jg_status jg_js_json_duration(const cJSON *v, int64_t *ret);
const char *jg_js_str(const cJSON *o, const char *name);
/* Turns the integral numbers under item (in [-2^63, 2^63]; 2^63, what an
 * integer near INT64_MAX becomes as a double, as INT64_MAX) into raw
 * integer literals: cJSON prints 1e15 and more in exponent form
 * (2.592e+15), which nats-server and Go's int64 fields refuse.  false when
 * out of memory (item then partly converted). */
bool jg_js_ints_raw(cJSON *item);

/* Maps a JetStream API error (HTTP-like code, err_code, description). */
jg_status jg_js_error_status(int code, int err_code, const char *desc);

struct jg_bucket_info {
    enum jg_bucket_kind kind;
    char name[256];
    int64_t max_msg_size;   /* -1 = unlimited */
    int64_t max_bytes;      /* -1 = unlimited */
    int64_t history;        /* max_msgs_per_subject */
    int replicas;
    bool allow_direct;
    bool sealed;
};

/* Fills info from a stream-info JSON object ({"config":...,"state":...}). */
jg_status jg_bucket_info_from_json(enum jg_bucket_kind kind, const char *bucket,
                                   const cJSON *stream_info, struct jg_bucket_info *info);

#endif
