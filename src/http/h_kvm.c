/* h_kvm.c - HTTP handlers for KV bucket management under /v1/kvm/buckets. */
#include "autoconfig.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http/bucketm.h"
#include "kv/kv.h"

/* --- buckets ------------------------------------------------------------ */

static bool check_bucket(struct jg_req *req)
{
    return jg_bucketm_check(req, jg_kv_bucket_valid);
}

void jg_h_kvm_create(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_kv_bucket_write(req->app, req->bucket, req->body.data, req->body.len, false,
                       jg_bucketm_answer, req);
}

void jg_h_kvm_put(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_kv_bucket_write(req->app, req->bucket, req->body.data, req->body.len, true,
                       jg_bucketm_answer, req);
}

void jg_h_kvm_status(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_kv_bucket_status(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_kvm_delete(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_kv_bucket_delete(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_kvm_list(struct jg_req *req)
{
    jg_req_suspend(req);
    jg_kv_bucket_list(req->app, jg_bucketm_listable, jg_bucketm_answer, req);
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
    if (!check_bucket(req))
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
    if (!check_bucket(req))
        return;
    if (jg_req_query(req, "olderThan", &v) != JG_OK || (v && jg_duration_parse(v, &older) != JG_OK)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'olderThan' must be a duration such as 30m");
        return;
    }
    jg_req_suspend(req);
    jg_kv_purge_deletes(req->app, req->bucket, older, on_purged, req);
}
