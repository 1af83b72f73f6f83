/* h_kvm.c - HTTP handlers for KV bucket management under /v1/kvm/buckets. */
#include "autoconfig.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http/bucketm.h"
#include "kv/kv.h"
#include "nats/js.h"
#include "nats/conn.h"

#define TWO_MIN_NS (120LL * 1000000000LL)

/* --- config ------------------------------------------------------------- */

/* The body (jg_kv_bucket_cfg_parse does the work); on error writes a
 * reason into why. */
static jg_status parse_cfg(const struct jg_buf *body, void *cfg, char *why, size_t wl)
{
    return jg_kv_bucket_cfg_parse(body->data, body->len, cfg, why, wl);
}

static int64_t dup_window(int64_t ttl)
{
    return ttl > 0 && ttl < TWO_MIN_NS ? ttl : TWO_MIN_NS;
}

static void cfg_done(void *cfg)
{
    jg_kv_bucket_cfg_done(cfg);
}

/* The stream configuration nats.go writes for a KV bucket. */
static char *stream_config(const char *bucket, const void *cfg)
{
    const struct jg_kv_bucket_cfg *c = cfg;
    int64_t ttl = c->has_ttl ? c->ttl : 0;
    struct jg_js_stream_spec s = {
        .kind = JG_BUCKET_KV,
        .bucket = bucket,
        .description = c->has_description ? c->description : NULL,
        .storage = c->has_storage ? c->storage : NULL,
        .max_bytes = c->has_mb ? c->max_bytes : -1,
        .max_age_ns = ttl,
        .per_subject = c->has_history ? c->history : 1,
        .max_msg_size = c->has_mvs ? c->max_value_size : -1,
        .replicas = c->has_replicas ? c->replicas : 1,
        .duplicate_window_ns = dup_window(ttl),
        .deny_delete = true,
    };
    return jg_js_stream_config(&s);
}

/* Bucket status JSON from a stream-info reply. */
static cJSON *status_json(const char *bucket, const cJSON *si)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(si, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(si, "state");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", bucket);
    cJSON_AddNumberToObject(o, "values", (double)jg_js_num(state, "messages", 0));
    cJSON_AddNumberToObject(o, "history", (double)jg_js_num(cfg, "max_msgs_per_subject", 1));
    cJSON_AddNumberToObject(o, "ttl", (double)jg_js_num(cfg, "max_age", 0));
    cJSON_AddNumberToObject(o, "max_value_size", (double)jg_js_num(cfg, "max_msg_size", -1));
    cJSON_AddNumberToObject(o, "max_bytes", (double)jg_js_num(cfg, "max_bytes", -1));
    cJSON_AddNumberToObject(o, "bytes", (double)jg_js_num(state, "bytes", 0));
    cJSON_AddStringToObject(o, "storage", *jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file");
    cJSON_AddNumberToObject(o, "replicas", (double)jg_js_num(cfg, "num_replicas", 1));
    cJSON_AddStringToObject(o, "description", jg_js_str(cfg, "description"));
    return o;
}

/* Does the existing stream config hold what c asks (with defaults)? */
static bool same_config(const cJSON *cfg, const void *arg)
{
    const struct jg_kv_bucket_cfg *c = arg;
    int64_t ttl = c->has_ttl ? c->ttl : 0;
    return strcmp(jg_js_str(cfg, "description"), c->has_description ? c->description : "") == 0 &&
           jg_js_num_is(cfg, "max_msgs_per_subject", 1, c->has_history ? c->history : 1) &&
           jg_js_num_is(cfg, "max_age", 0, ttl) &&
           jg_js_num_is(cfg, "max_msg_size", -1, c->has_mvs ? c->max_value_size : -1) &&
           jg_js_num_is(cfg, "max_bytes", -1, c->has_mb ? c->max_bytes : -1) &&
           strcmp(*jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file",
                  c->has_storage ? c->storage : "file") == 0 &&
           jg_js_num_is(cfg, "num_replicas", 1, c->has_replicas ? c->replicas : 1);
}

/* PUT on an existing bucket: change what was given, keep the rest. */
static jg_status update_config(cJSON *cfg, const void *arg, char *why, size_t wl)
{
    const struct jg_kv_bucket_cfg *c = arg;
    if (c->has_storage && strcmp(jg_js_str(cfg, "storage"), c->storage) != 0) {
        snprintf(why, wl, "the storage of an existing bucket cannot change");
        return JG_ERR_INVALID_CONFIG;
    }
#define SETNUM(field, name, val)                                            \
    if (c->field) {                                                         \
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);                 \
        cJSON_AddNumberToObject(cfg, name, (double)(val));                  \
    }
    SETNUM(has_history, "max_msgs_per_subject", c->history)
    SETNUM(has_ttl, "max_age", c->ttl)
    SETNUM(has_mvs, "max_msg_size", c->max_value_size)
    SETNUM(has_mb, "max_bytes", c->max_bytes)
    SETNUM(has_replicas, "num_replicas", c->replicas)
#undef SETNUM
    if (c->has_ttl && jg_js_num(cfg, "duplicate_window", 0) > dup_window(c->ttl)) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "duplicate_window");
        cJSON_AddNumberToObject(cfg, "duplicate_window", (double)dup_window(c->ttl));
    }
    if (c->has_description) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "description");
        if (*c->description)
            cJSON_AddStringToObject(cfg, "description", c->description);
    }
    return JG_OK;
}

static const struct jg_bucketm_kind kv_kind = {
    .kind = JG_BUCKET_KV,
    .stream_prefix = "KV_",
    .missing = "no such key-value bucket",
    .valid = jg_kv_bucket_valid,
    .cfg_size = sizeof(struct jg_kv_bucket_cfg),
    .cfg_parse = parse_cfg,
    .cfg_done = cfg_done,
    .stream_config = stream_config,
    .cfg_same = same_config,
    .cfg_update = update_config,
    .status_json = status_json,
};

void jg_h_kvm_create(struct jg_req *req)
{
    jg_bucketm_write(req, &kv_kind, false);
}

void jg_h_kvm_put(struct jg_req *req)
{
    jg_bucketm_write(req, &kv_kind, true);
}

void jg_h_kvm_status(struct jg_req *req)
{
    jg_bucketm_status(req, &kv_kind);
}

void jg_h_kvm_delete(struct jg_req *req)
{
    jg_bucketm_delete(req, &kv_kind);
}

void jg_h_kvm_list(struct jg_req *req)
{
    jg_bucketm_list(req, &kv_kind);
}

/* --- keys and purge ---------------------------------------------------------- */

static void on_keys(void *ctx, jg_status st, char *json, size_t len)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        free(json);
        jg_req_fail(req, st, "%s", jg_status_title(st));
        return;
    }
    jg_resp_status(&req->resp, 200);
    jg_resp_header(&req->resp, "Content-Type", "application/json");
    jg_resp_body_take(&req->resp, json, len);
    jg_req_done(req);
}

void jg_h_kvm_keys(struct jg_req *req)
{
    char **filters = NULL, **prefixes = NULL;
    if (!jg_bucketm_check(req, &kv_kind))
        return;
    if (jg_req_query_list(req, "filter", 64, &filters) != JG_OK ||
        jg_req_query_list(req, "prefix", 64, &prefixes) != JG_OK) {
        jg_strv_free(filters);
        jg_strv_free(prefixes);
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad 'filter' or 'prefix' (at most 64 each)");
        return;
    }
    for (size_t i = 0; filters && filters[i]; i++) {
        if (!jg_kv_filter_valid(filters[i])) {
            jg_strv_free(filters);
            jg_strv_free(prefixes);
            jg_req_fail(req, JG_ERR_INVALID_KEY,
                        "a filter is a key pattern: key tokens, '*' tokens and a final '>'");
            return;
        }
    }
    jg_req_suspend(req);
    jg_kv_keys(req->app, req->bucket, filters, prefixes, req->scope, on_keys, req);
    jg_strv_free(filters);
    jg_strv_free(prefixes);
}

static void on_purged(void *ctx, jg_status st, const char *detail)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s", detail && *detail ? detail : jg_status_title(st));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", req->bucket);
    cJSON_AddBoolToObject(o, "purged", true);
    jg_resp_json(&req->resp, 200, o);
    jg_req_done(req);
}

void jg_h_kvm_purge(struct jg_req *req)
{
    const char *v;
    int64_t older = 30LL * 60 * 1000000000LL;
    if (!jg_bucketm_check(req, &kv_kind))
        return;
    if (jg_req_query(req, "olderThan", &v) != JG_OK || (v && jg_duration_parse(v, &older) != JG_OK)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'olderThan' must be a duration such as 30m");
        return;
    }
    jg_req_suspend(req);
    jg_kv_purge_deletes(req->app, req->bucket, older, on_purged, req);
}
