/* bucketm.c - the HTTP side of bucket management (see bucketm.h). */
#include "autoconfig.h"
#include "http/bucketm.h"

#include "auth.h"

void jg_bucketm_answer(void *ctx, jg_status st, bool created, cJSON *json, const char *detail)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s", detail && *detail ? detail : jg_status_title(st));
        return;
    }
    jg_resp_json(&req->resp, created ? 201 : 200, json);
    jg_req_done(req);
}

bool jg_bucketm_listable(void *ctx, const char *name)
{
    struct jg_req *req = ctx;
    return !req->token || jg_auth_allows(req->token, JG_PERM_LIST, name, NULL);
}

bool jg_bucketm_check(struct jg_req *req, bool (*valid)(const char *bucket))
{
    if (valid(req->bucket))
        return true;
    jg_req_fail(req, JG_ERR_INVALID_BUCKET, "bucket names are [A-Za-z0-9_-]+");
    return false;
}
