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
#include "obj/obj.h"

struct objm_op {
    struct jg_req *req;
    char stream[300];
    struct jg_obj_bucket_cfg cfg;
    struct jg_nats_req nreq;
    bool update;             /* PUT: create or update */
    cJSON *names;            /* list: names so far */
    int offset;
    /* links */
    char *target_bucket, *target_name;
    struct jg_obj_info *existing;
};

static void op_free(struct objm_op *op)
{
    if (!op)
        return;
    jg_obj_bucket_cfg_done(&op->cfg);
    cJSON_Delete(op->names);
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

static bool check_bucket(struct jg_req *req)
{
    if (jg_obj_bucket_valid(req->bucket))
        return true;
    jg_req_fail(req, JG_ERR_INVALID_BUCKET, "bucket names are [A-Za-z0-9_-]+");
    return false;
}

static void send_api(struct objm_op *op, const char *api_fmt, const char *body, jg_nats_reply_fn fn)
{
    char api[400];
    snprintf(api, sizeof(api), api_fmt, op->stream);
    jg_status st = jg_js_api(op->req->app->nats, &op->nreq, api, body, 0, fn, op);
    if (st != JG_OK)
        op_fail(op, st, NULL);
}

static void reply_status(struct objm_op *op, natsMsg *msg, jg_status st, int http)
{
    cJSON *json = NULL;
    char desc[256] = "";
    struct jg_req *req = op->req;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK) {
        op_fail(op, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : desc);
        return;
    }
    jg_resp_json(&req->resp, http, jg_obj_bucket_status_json(req->bucket, json));
    cJSON_Delete(json);
    op_free(op);
    jg_req_done(req);
}

/* --- create / update ---------------------------------------------------------- */

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    jg_buckets_forget(op->req->app->buckets, JG_BUCKET_OBJ, op->req->bucket);
    reply_status(op, msg, st, 201);
}

static void on_updated(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    jg_buckets_forget(op->req->app->buckets, JG_BUCKET_OBJ, op->req->bucket);
    reply_status(op, msg, st, 200);
}

static void create_stream(struct objm_op *op)
{
    char *body = jg_obj_stream_config(op->req->bucket, &op->cfg);
    if (!body) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    send_api(op, "STREAM.CREATE.%s", body, on_created);
    free(body);
}

static void set_num(cJSON *cfg, const char *name, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);
    cJSON_AddNumberToObject(cfg, name, v);
}

/* PUT on an existing bucket: change what was given, keep the rest. */
static void update_stream(struct objm_op *op, cJSON *info)
{
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(info, "config");
    const struct jg_obj_bucket_cfg *c = &op->cfg;
    const cJSON *storage = cJSON_GetObjectItemCaseSensitive(cfg, "storage");
    if (c->has_storage && (!cJSON_IsString(storage) || strcmp(storage->valuestring, c->storage) != 0)) {
        op_fail(op, JG_ERR_INVALID_CONFIG, "the storage of an existing bucket cannot change");
        return;
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
    char *body = cJSON_PrintUnformatted(cfg);
    if (!body) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    send_api(op, "STREAM.UPDATE.%s", body, on_updated);
    free(body);
}

static void on_info_for_write(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    struct jg_req *req = op->req;
    cJSON *json = NULL;
    char desc[256] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        create_stream(op);
        return;
    }
    if (st != JG_OK) {
        op_fail(op, st, desc);
        return;
    }
    if (op->update) {
        update_stream(op, json);
        cJSON_Delete(json);
        return;
    }
    if (jg_obj_bucket_cfg_same(cJSON_GetObjectItemCaseSensitive(json, "config"), &op->cfg)) {
        jg_resp_json(&req->resp, 200, jg_obj_bucket_status_json(req->bucket, json));
        cJSON_Delete(json);
        op_free(op);
        jg_req_done(req);
        return;
    }
    cJSON_Delete(json);
    op_fail(op, JG_ERR_BUCKET_EXISTS, "the bucket exists with another configuration");
}

static void start_write(struct jg_req *req, bool update)
{
    char why[200] = "";
    if (!check_bucket(req))
        return;
    struct objm_op *op = op_new(req);
    if (!op)
        return;
    op->update = update;
    jg_status st = jg_obj_bucket_cfg_parse(req->body.data, req->body.len, &op->cfg, why, sizeof(why));
    if (st != JG_OK) {
        op_fail(op, st, why);
        return;
    }
    jg_req_suspend(req);
    send_api(op, "STREAM.INFO.%s", NULL, on_info_for_write);
}

void jg_h_objm_create(struct jg_req *req)
{
    start_write(req, false);
}

void jg_h_objm_put(struct jg_req *req)
{
    start_write(req, true);
}

/* --- status, delete, seal ------------------------------------------------------------ */

static void on_status(void *ctx, jg_status st, natsMsg *msg)
{
    reply_status(ctx, msg, st, 200);
}

void jg_h_objm_status(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    struct objm_op *op = op_new(req);
    if (!op)
        return;
    jg_req_suspend(req);
    send_api(op, "STREAM.INFO.%s", NULL, on_status);
}

static void on_deleted(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    struct jg_req *req = op->req;
    cJSON *json = NULL;
    char desc[256] = "";
    jg_buckets_forget(req->app->buckets, JG_BUCKET_OBJ, req->bucket);
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    cJSON_Delete(json);
    if (st != JG_OK) {
        op_fail(op, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : desc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", req->bucket);
    cJSON_AddBoolToObject(o, "deleted", true);
    jg_resp_json(&req->resp, 200, o);
    op_free(op);
    jg_req_done(req);
}

void jg_h_objm_delete(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    struct objm_op *op = op_new(req);
    if (!op)
        return;
    jg_req_suspend(req);
    send_api(op, "STREAM.DELETE.%s", NULL, on_deleted);
}

static void on_info_for_seal(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    cJSON *json = NULL;
    char desc[256] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK) {
        op_fail(op, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : desc);
        return;
    }
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(json, "config");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "sealed");
    cJSON_AddBoolToObject(cfg, "sealed", true);
    char *body = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(json);
    if (!body) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    send_api(op, "STREAM.UPDATE.%s", body, on_updated);
    free(body);
}

void jg_h_objm_seal(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    struct objm_op *op = op_new(req);
    if (!op)
        return;
    jg_req_suspend(req);
    send_api(op, "STREAM.INFO.%s", NULL, on_info_for_seal);
}

/* --- bucket list ------------------------------------------------------------------------ */

static void list_page(struct objm_op *op);

static void on_names(void *ctx, jg_status st, natsMsg *msg)
{
    struct objm_op *op = ctx;
    cJSON *json = NULL;
    char desc[256] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK) {
        op_fail(op, st, desc);
        return;
    }
    const cJSON *streams = cJSON_GetObjectItemCaseSensitive(json, "streams");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(json, "total");
    int got = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, streams)
    {
        got++;
        if (cJSON_IsString(s) && strncmp(s->valuestring, "OBJ_", 4) == 0)
            cJSON_AddItemToArray(op->names, cJSON_CreateString(s->valuestring + 4));
    }
    op->offset += got;
    bool more = got > 0 && cJSON_IsNumber(total) && op->offset < total->valueint;
    cJSON_Delete(json);
    if (more) {
        list_page(op);
        return;
    }
    struct jg_req *req = op->req;
    jg_resp_json(&req->resp, 200, op->names);
    op->names = NULL;
    op_free(op);
    jg_req_done(req);
}

static void list_page(struct objm_op *op)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"offset\":%d}", op->offset);
    jg_status st = jg_js_api(op->req->app->nats, &op->nreq, "STREAM.NAMES", body, 0, on_names, op);
    if (st != JG_OK)
        op_fail(op, st, NULL);
}

void jg_h_objm_list(struct jg_req *req)
{
    struct objm_op *op = op_new(req);
    if (!op)
        return;
    op->names = cJSON_CreateArray();
    jg_req_suspend(req);
    list_page(op);
}

/* --- object list ------------------------------------------------------------------------- */

static void on_objects(void *ctx, jg_status st, cJSON *arr)
{
    struct jg_req *req = ctx;
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
    if (!check_bucket(req))
        return;
    if (jg_req_query_bool(req, "deleted", &deleted) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'deleted' must be true or false");
        return;
    }
    jg_req_suspend(req);
    jg_obj_list(req->app, req->bucket, deleted, on_objects, req);
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
