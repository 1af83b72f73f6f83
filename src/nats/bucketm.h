/* bucketm.h - bucket management shared by KV and object store buckets:
 * list, status, create (a new bucket, or the existing one when its
 * configuration is the one asked for; JG_ERR_BUCKET_EXISTS for another),
 * create-or-update, delete, and in-place edits of the stream configuration
 * (seal).  A kind describes what differs: the stream name, the tables of
 * the config body and of the status JSON (nats/bucketcfg.h), the stream
 * config of a new bucket.  The kinds live in kv/bucket.c and obj/bucket.c,
 * which are what callers use. */
#ifndef JG_NATS_BUCKETM_H
#define JG_NATS_BUCKETM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "nats/bucketcfg.h"
#include "nats/js.h"

struct jg_app;

struct jg_bucketm_kind {
    enum jg_bucket_kind kind;
    const char *stream_prefix;   /* "KV_" or "OBJ_" */
    const char *missing;         /* detail of JG_ERR_BUCKET_NOT_FOUND */
    size_t cfg_size;             /* the parsed config, zero-initialised storage */
    /* The fields of a config body and the stream members they map onto
     * (nats/bucketcfg.h): parse, compare, update. */
    const struct jg_bcf_fields *fields;
    /* The status JSON from a stream-info reply. */
    const struct jg_bcs_members *status;
    /* The stream configuration JSON for a new bucket (malloc'd).  Pure,
     * called on the loop thread. */
    char *(*stream_config)(const char *bucket, const void *cfg);
    /* After the fields of an update: what else follows from them (the
     * duplicate window from the ttl); NULL for nothing.  Pure, called on
     * the loop thread. */
    void (*update_more)(cJSON *stream_cfg, const void *cfg);
};

/* The end of a bucket operation: JG_OK with json (the callee owns it: the
 * bucket's status; for a delete {"bucket","deleted":true}; for a list the
 * array of names), created true when a write made a new bucket; else
 * json NULL and detail, a reason for the client.  Runs on the loop thread,
 * or at once when the operation could not start (a bad config body, out of
 * memory, not connected). */
typedef void (*jg_bucketm_fn)(void *ctx, jg_status st, bool created, cJSON *json,
                              const char *detail);

/* Create (update false) or create-or-update (update true) of bucket with
 * a JSON config body (len 0: the defaults). */
void jg_bucketm_write(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                      const char *body, size_t len, bool update, jg_bucketm_fn fn, void *ctx);
void jg_bucketm_status(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                       jg_bucketm_fn fn, void *ctx);
void jg_bucketm_delete(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                       jg_bucketm_fn fn, void *ctx);
/* Names of the kind's buckets that want accepts (want NULL: all; called
 * on the loop thread with the fn's ctx). */
typedef bool (*jg_bucketm_want_fn)(void *ctx, const char *name);
void jg_bucketm_list(struct jg_app *app, const struct jg_bucketm_kind *k, jg_bucketm_want_fn want,
                     jg_bucketm_fn fn, void *ctx);
/* Reads the stream config, lets edit change it (on the loop thread),
 * writes it back; fn gets the status. */
void jg_bucketm_edit(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                     void (*edit)(cJSON *stream_cfg), jg_bucketm_fn fn, void *ctx);

/* A stream configuration as JSON text for the JetStream API: as
 * cJSON_PrintUnformatted, but every integral number within int64 range is
 * written as an integer literal.  cJSON writes numbers from 1e15 up in
 * exponent form ("2.592e+15"), which the server's Go decoder refuses for
 * its integer fields (a max_age of 30 days is 2.592e15 ns).  Returns
 * malloc'd text, or NULL when out of memory.  Pure. */
char *jg_bucketm_config_text(const cJSON *stream_cfg);

#endif
