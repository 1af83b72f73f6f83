/* bucketm.h - the HTTP side of bucket management (KV and object store
 * buckets): the answer of every bucket operation of kv/bucket.c and
 * obj/bucket.c (201 for a bucket created, 200 with the JSON otherwise, the
 * problem with its detail on error), and the listing filter by the token.
 * The operations themselves live below HTTP (kv/bucket.c, obj/bucket.c). */
#ifndef JG_HTTP_BUCKETM_H
#define JG_HTTP_BUCKETM_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "http/request.h"

/* A jg_bucketm_fn with the request as ctx (loop thread): answers and ends it. */
void jg_bucketm_answer(void *req, jg_status st, bool created, cJSON *json, const char *detail);

/* A jg_bucketm_want_fn with the request as ctx (loop thread): a bucket the
 * token has no rule for is not listed. */
bool jg_bucketm_listable(void *req, const char *name);

/* Validates {bucket} with valid (called at once, on the caller's thread);
 * answers 400 invalid_bucket and returns false when bad. */
bool jg_bucketm_check(struct jg_req *req, bool (*valid)(const char *bucket));

#endif
