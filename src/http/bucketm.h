/* bucketm.h - bucket management shared by KV and object store buckets:
 * list, status, create (POST: 201, or 200 for an identical bucket, 409
 * for another config), create-or-update (PUT), delete, and in-place edits
 * of the stream configuration (seal).  A kind describes what differs: the
 * stream name, the config body and how it maps onto a stream config, the
 * status JSON.  Handlers in h_kvm.c and h_objm.c are thin wrappers. */
#ifndef JG_HTTP_BUCKETM_H
#define JG_HTTP_BUCKETM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http/request.h"
#include "nats/js.h"

struct jg_bucketm_kind {
    enum jg_bucket_kind kind;
    const char *stream_prefix;   /* "KV_" or "OBJ_" */
    const char *missing;         /* detail of 404 bucket_not_found */
    bool (*valid)(const char *bucket);
    size_t cfg_size;             /* the parsed config, zero-initialised storage */
    /* Parses the request body into cfg; why gets the reason of an error. */
    jg_status (*cfg_parse)(const struct jg_buf *body, void *cfg, char *why, size_t whylen);
    void (*cfg_done)(void *cfg);
    /* The stream configuration JSON for a new bucket (malloc'd). */
    char *(*stream_config)(const char *bucket, const void *cfg);
    /* Does an existing stream config hold what cfg asks? */
    bool (*cfg_same)(const cJSON *stream_cfg, const void *cfg);
    /* Applies the fields cfg gives to an existing stream config (PUT);
     * JG_ERR_INVALID_CONFIG with why for a change NATS cannot make. */
    jg_status (*cfg_update)(cJSON *stream_cfg, const void *cfg, char *why, size_t whylen);
    /* Status JSON from a stream-info reply. */
    cJSON *(*status_json)(const char *bucket, const cJSON *stream_info);
};

/* POST (update false) or PUT (update true) of {bucket} with a config body. */
void jg_bucketm_write(struct jg_req *req, const struct jg_bucketm_kind *k, bool update);
void jg_bucketm_status(struct jg_req *req, const struct jg_bucketm_kind *k);
void jg_bucketm_delete(struct jg_req *req, const struct jg_bucketm_kind *k);
/* Names of the kind's buckets the caller's token may see. */
void jg_bucketm_list(struct jg_req *req, const struct jg_bucketm_kind *k);
/* Reads the stream config, lets edit change it, writes it back; answers
 * with the status. */
void jg_bucketm_edit(struct jg_req *req, const struct jg_bucketm_kind *k,
                     void (*edit)(cJSON *stream_cfg));

/* A stream configuration as JSON text for the JetStream API: as
 * cJSON_PrintUnformatted, but every integral number within int64 range is
 * written as an integer literal.  cJSON writes numbers from 1e15 up in
 * exponent form ("2.592e+15"), which the server's Go decoder refuses for
 * its integer fields (a max_age of 30 days is 2.592e15 ns).  Returns
 * malloc'd text, or NULL when out of memory.  Pure. */
char *jg_bucketm_config_text(const cJSON *stream_cfg);

/* Validates {bucket}; answers 400 invalid_bucket and returns false when bad. */
bool jg_bucketm_check(struct jg_req *req, const struct jg_bucketm_kind *k);

#endif
