/* h_objm.c - HTTP handlers for object store buckets under /v1/objm/buckets:
 * list, status, create, create-or-update, delete, seal, the object list and
 * links.  The object watch lives in h_watch.c. */
#include "autoconfig.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/conn.h"
#include "nats/js.h"
#include "http/bucketm.h"
#include "auth.h"
#include "obj/obj.h"
#include "watch/watch.h"

/* A link being written. */
struct objm_op {
    struct jg_req *req;
    char stream[300];
    struct jg_nats_req nreq;
    char *target_bucket, *target_name;
    struct jg_obj_info *existing;
};

static void op_free(struct objm_op *op)
{
    if (!op)
        return;
    free(op->target_bucket);
    free(op->target_name);
    jg_obj_info_free(op->existing);
    free(op);
}

static void op_fail(struct objm_op *op, jg_status st, const char *detail)
{
    struct jg_req *req = op->req;
    op_free(op);
    if (st == JG_ERR_NATS_UNAVAILABLE && (!detail || !*detail))
        detail = "not connected to NATS; retry later";
    jg_req_fail(req, st, "%s", detail && *detail ? detail : jg_status_title(st));
}

static struct objm_op *op_new(struct jg_req *req)
{
    struct objm_op *op = calloc(1, sizeof(*op));
    if (!op) {
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    op->req = req;
    if (req->bucket)
        jg_js_stream_name(JG_BUCKET_OBJ, req->bucket, op->stream, sizeof(op->stream));
    return op;
}

/* --- buckets: the shared management with the object store's config ----- */

static jg_status cfg_parse(const struct jg_buf *body, void *cfg, char *why, size_t wl)
{
    return jg_obj_bucket_cfg_parse(body->data, body->len, cfg, why, wl);
}

static void cfg_done(void *cfg)
{
    jg_obj_bucket_cfg_done(cfg);
}

static char *stream_config(const char *bucket, const void *cfg)
{
    return jg_obj_stream_config(bucket, cfg);
}

static bool cfg_same(const cJSON *stream_cfg, const void *cfg)
{
    return jg_obj_bucket_cfg_same(stream_cfg, cfg);
}

static void set_num(cJSON *cfg, const char *name, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);
    cJSON_AddNumberToObject(cfg, name, v);
}

/* PUT on an existing bucket: change what was given, keep the rest. */
static jg_status cfg_update(cJSON *cfg, const void *arg, char *why, size_t wl)
{
    const struct jg_obj_bucket_cfg *c = arg;
    const cJSON *storage = cJSON_GetObjectItemCaseSensitive(cfg, "storage");
    if (c->has_storage && (!cJSON_IsString(storage) || strcmp(storage->valuestring, c->storage) != 0)) {
        snprintf(why, wl, "the storage of an existing bucket cannot change");
        return JG_ERR_INVALID_CONFIG;
    }
    if (c->has_ttl) {
        set_num(cfg, "max_age", (double)c->ttl);
        const cJSON *dw = cJSON_GetObjectItemCaseSensitive(cfg, "duplicate_window");
        if (c->ttl > 0 && cJSON_IsNumber(dw) && dw->valuedouble > (double)c->ttl)
            set_num(cfg, "duplicate_window", (double)c->ttl);
    }
    if (c->has_max_bytes)
        set_num(cfg, "max_bytes", (double)c->max_bytes);
    if (c->has_replicas)
        set_num(cfg, "num_replicas", (double)c->replicas);
    if (c->has_description) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "description");
        if (c->description && *c->description)
            cJSON_AddStringToObject(cfg, "description", c->description);
    }
    return JG_OK;
}

static const struct jg_bucketm_kind obj_kind = {
    .kind = JG_BUCKET_OBJ,
    .stream_prefix = "OBJ_",
    .missing = "no such object bucket",
    .valid = jg_obj_bucket_valid,
    .cfg_size = sizeof(struct jg_obj_bucket_cfg),
    .cfg_parse = cfg_parse,
    .cfg_done = cfg_done,
    .stream_config = stream_config,
    .cfg_same = cfg_same,
    .cfg_update = cfg_update,
    .status_json = jg_obj_bucket_status_json,
};

static bool check_bucket(struct jg_req *req)
{
    return jg_bucketm_check(req, &obj_kind);
}

void jg_h_objm_create(struct jg_req *req)
{
    jg_bucketm_write(req, &obj_kind, false);
}

void jg_h_objm_put(struct jg_req *req)
{
    jg_bucketm_write(req, &obj_kind, true);
}

void jg_h_objm_status(struct jg_req *req)
{
    jg_bucketm_status(req, &obj_kind);
}

void jg_h_objm_delete(struct jg_req *req)
{
    jg_bucketm_delete(req, &obj_kind);
}

void jg_h_objm_list(struct jg_req *req)
{
    jg_bucketm_list(req, &obj_kind);
}

static void seal(cJSON *stream_cfg)
{
    cJSON_DeleteItemFromObjectCaseSensitive(stream_cfg, "sealed");
    cJSON_AddBoolToObject(stream_cfg, "sealed", true);
}

void jg_h_objm_seal(struct jg_req *req)
{
    jg_bucketm_edit(req, &obj_kind, seal);
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
                    st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : jg_status_title(st));
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
    jg_obj_list(req->app, req->bucket, deleted, list_wants, on_objects, sel);
}

/* --- links -------------------------------------------------------------------------------- *
 * Written in nats.go's shape: the link's own bucket, a fresh nuid, size 0,
 * rollup.  Refused when the target is missing, deleted or itself a link, and
 * when the link's name holds a live object that is not a link. */

static void on_link_written(void *ctx, jg_status st, uint64_t seq)
{
    struct objm_op *op = ctx;
    struct jg_req *req = op->req;
    struct jg_obj_info *i = op->existing; /* the link written */
    if (st != JG_OK) {
        op_fail(op, st, st == JG_ERR_PRECONDITION_FAILED ? "the name changed meanwhile" : NULL);
        return;
    }
    i->revision = seq;
    i->stored_ns = jg_realtime_ns();
    jg_resp_json(&req->resp, 201, jg_obj_info_api_json(i));
    op_free(op);
    jg_req_done(req);
}

static void link_write(struct objm_op *op, int64_t expect)
{
    char when[40], nuid[23];
    struct jg_req *req = op->req;
    struct jg_obj_info *i = calloc(1, sizeof(*i));
    jg_time_rfc3339(jg_realtime_ns(), when);
    if (!i || jg_obj_nuid(nuid) != JG_OK || !(i->name = strdup(req->key)) ||
        !(i->bucket = strdup(req->bucket)) || !(i->nuid = strdup(nuid)) ||
        !(i->mtime = strdup(when)) || !(i->link_bucket = strdup(op->target_bucket)) ||
        (op->target_name && !(i->link_name = strdup(op->target_name)))) {
        jg_obj_info_free(i);
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    i->is_link = true;
    jg_obj_info_free(op->existing);
    op->existing = i;
    jg_obj_meta_write(req->app, req->bucket, i, expect, NULL, on_link_written, op);
}

static void on_link_name(void *ctx, jg_status st, struct jg_obj_info *info,
                         const struct jg_bucket_info *binfo)
{
    struct objm_op *op = ctx;
    int64_t expect = 0;
    if (st == JG_OK) {
        if (binfo->sealed) {
            jg_obj_info_free(info);
            op_fail(op, JG_ERR_BUCKET_SEALED, "the bucket is sealed");
            return;
        }
        if (!info->deleted && !info->is_link) {
            jg_obj_info_free(info);
            op_fail(op, JG_ERR_OBJECT_EXISTS, "an object (not a link) has this name");
            return;
        }
        expect = (int64_t)info->revision;
        jg_obj_info_free(info);
    } else if (st == JG_ERR_OBJECT_NOT_FOUND) {
        if (binfo && binfo->sealed) {
            op_fail(op, JG_ERR_BUCKET_SEALED, "the bucket is sealed");
            return;
        }
    } else {
        op_fail(op, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : NULL);
        return;
    }
    link_write(op, expect);
}

static void on_link_target(void *ctx, jg_status st, struct jg_obj_info *info,
                           const struct jg_bucket_info *binfo)
{
    struct objm_op *op = ctx;
    bool ok = st == JG_OK && !info->deleted && !info->is_link;
    jg_obj_info_free(info);
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        op_fail(op, JG_ERR_INVALID_PARAMETER, "the link's target bucket does not exist");
        return;
    }
    if (st != JG_OK && st != JG_ERR_OBJECT_NOT_FOUND) {
        op_fail(op, st, NULL);
        return;
    }
    if (!ok) {
        op_fail(op, st == JG_OK ? JG_ERR_INVALID_PARAMETER : JG_ERR_OBJECT_NOT_FOUND,
                st == JG_OK ? "the link's target is deleted or is itself a link"
                            : "the link's target object does not exist");
        return;
    }
    jg_obj_info_get(op->req->app, op->req->bucket, op->req->key, on_link_name, op);
}

static void on_link_target_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct objm_op *op = ctx;
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        op_fail(op, JG_ERR_INVALID_PARAMETER, "the link's target bucket does not exist");
        return;
    }
    if (st != JG_OK) {
        op_fail(op, st, NULL);
        return;
    }
    jg_obj_info_get(op->req->app, op->req->bucket, op->req->key, on_link_name, op);
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
    struct objm_op *op = op_new(req);
    if (!op) {
        cJSON_Delete(root);
        return;
    }
    bool named = cJSON_IsString(n) && *n->valuestring;
    op->target_bucket = strdup(b->valuestring);
    if (named)
        op->target_name = strdup(n->valuestring);
    cJSON_Delete(root);
    if (!op->target_bucket || (named && !op->target_name)) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    jg_req_suspend(req);
    if (op->target_name)
        jg_obj_info_get(req->app, op->target_bucket, op->target_name, on_link_target, op);
    else
        jg_buckets_lookup(req->app->buckets, JG_BUCKET_OBJ, op->target_bucket, &op->nreq,
                          on_link_target_bucket, op);
}
