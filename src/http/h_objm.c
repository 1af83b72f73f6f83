/* h_objm.c - HTTP handlers for object store buckets under /v1/objm/buckets:
 * list, status, create, create-or-update, delete, seal, the object list and
 * links.  The object watch lives in h_watch.c. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/bucketm.h"
#include "auth.h"
#include "obj/obj.h"
#include "http/watch_query.h"
#include "watch/watch.h"

/* --- buckets ----------------------------------------------------------------------------- */

static bool check_bucket(struct jg_req *req)
{
    return jg_bucketm_check(req, jg_obj_bucket_valid);
}

void jg_h_objm_create(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_write(req->app, req->bucket, req->body.data, req->body.len, false,
                        jg_bucketm_answer, req);
}

void jg_h_objm_put(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_write(req->app, req->bucket, req->body.data, req->body.len, true,
                        jg_bucketm_answer, req);
}

void jg_h_objm_status(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_status(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_objm_delete(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_delete(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_objm_list(struct jg_req *req)
{
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_list(req->app, jg_bucketm_listable, jg_bucketm_answer, req);
}

void jg_h_objm_seal(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_bucket_seal(req->app, req->bucket, jg_bucketm_answer, req);
}

/* --- object list ------------------------------------------------------------------------- */

/* What a listing selects: ?filter= (exact names) and ?prefix=, as the
 * object watch matches them, within the token's scope. */
struct list_sel {
    struct jg_req *req;
    char **filters, **prefixes;
};

static bool list_wants(void *ctx, const char *name)
{
    struct list_sel *sel = ctx;
    return jg_auth_scope_allows(sel->req->scope, name) &&
           jg_watch_key_wanted(sel->filters, sel->prefixes, true, name);
}

static void list_sel_free(struct list_sel *sel)
{
    if (!sel)
        return;
    jg_strv_free(sel->filters);
    jg_strv_free(sel->prefixes);
    free(sel);
}

static void on_objects(void *ctx, jg_status st, cJSON *arr)
{
    struct list_sel *sel = ctx;
    struct jg_req *req = sel->req;
    list_sel_free(sel);
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s",
                    st == JG_ERR_BUCKET_NOT_FOUND ? jg_h_detail(st, JG_H_OBJ) : jg_status_title(st));
        return;
    }
    jg_resp_json(&req->resp, 200, arr);
    jg_req_done(req);
}

void jg_h_objm_list_objects(struct jg_req *req)
{
    bool deleted = false;
    struct jg_watch_query q = {0};
    struct jg_watch_params p = {0};
    const char *why;
    jg_status st;
    if (!check_bucket(req))
        return;
    if (jg_req_query_bool(req, "deleted", &deleted) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'deleted' must be true or false");
        return;
    }
    struct list_sel *sel = calloc(1, sizeof(*sel));
    if (!sel) {
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    sel->req = req;
    if (jg_req_query_list(req, "filter", 64, &sel->filters) != JG_OK ||
        jg_req_query_list(req, "prefix", 64, &sel->prefixes) != JG_OK) {
        list_sel_free(sel);
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad 'filter' or 'prefix' (at most 64 each)");
        return;
    }
    /* filters are checked as the object watch checks them */
    q.filters = sel->filters;
    st = jg_watch_query_parse(JG_WATCH_OBJ, &q, &p, &why);
    if (st != JG_OK) {
        list_sel_free(sel);
        jg_req_fail(req, st, "%s", why);
        return;
    }
    jg_req_suspend(req);
    jg_h_calls->obj_list(req->app, req->bucket, deleted, list_wants, on_objects, sel);
}

/* --- links -------------------------------------------------------------------------------- */

static void on_linked(void *ctx, jg_status st, const struct jg_obj_info *info, const char *detail)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        if (st == JG_ERR_NATS_UNAVAILABLE && !detail)
            detail = "not connected to NATS; retry later";
        jg_req_fail(req, st, "%s", detail ? detail : jg_status_title(st));
        return;
    }
    jg_resp_json(&req->resp, 201, jg_obj_info_api_json(info));
    jg_req_done(req);
}

void jg_h_objm_link(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    if (!jg_obj_name_valid(req->key)) {
        jg_req_fail(req, JG_ERR_INVALID_NAME, "object names are non-empty UTF-8 of at most %d bytes",
                    JG_OBJ_MAX_NAME);
        return;
    }
    cJSON *root = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "bucket");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsObject(root) || !cJSON_IsString(b) || !jg_obj_bucket_valid(b->valuestring) ||
        (n && !cJSON_IsNull(n) && (!cJSON_IsString(n) || (*n->valuestring &&
                                                          !jg_obj_name_valid(n->valuestring))))) {
        cJSON_Delete(root);
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "the body must be {\"bucket\":\"B\",\"name\":\"N\"} (omit name for a bucket link)");
        return;
    }
    bool named = cJSON_IsString(n) && *n->valuestring;
    jg_req_suspend(req);
    jg_h_calls->obj_link(req->app, req->bucket, req->key, b->valuestring, named ? n->valuestring : NULL,
                on_linked, req);
    cJSON_Delete(root);
}
