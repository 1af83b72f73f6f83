/* bucket.c - object store buckets: the bucket operations (create,
 * create-or-update, status, delete, list, seal) through the shared
 * management of nats/bucketm.c, with the configuration mapping of obj.c
 * (jg_obj_stream_config, jg_obj_bucket_cfg_same) and the update below. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/js.h"
#include "nats/subjects.h"

static void set_num(cJSON *cfg, const char *name, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, name);
    cJSON_AddNumberToObject(cfg, name, v);
}

jg_status jg_obj_bucket_cfg_update(cJSON *cfg, const struct jg_obj_bucket_cfg *c, char *why,
                                   size_t wl)
{
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

/* --- the kind: adapters to the shared management's untyped config --------- */

static jg_status cfg_parse(const char *body, size_t len, void *cfg, char *why, size_t wl)
{
    return jg_obj_bucket_cfg_parse(body, len, cfg, why, wl);
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

static jg_status cfg_update(cJSON *stream_cfg, const void *cfg, char *why, size_t wl)
{
    return jg_obj_bucket_cfg_update(stream_cfg, cfg, why, wl);
}

static const struct jg_bucketm_kind obj_kind = {
    .kind = JG_BUCKET_OBJ,
    .stream_prefix = JG_SUBJ_OBJ_STREAM_PREFIX,
    .missing = "no such object bucket",
    .cfg_size = sizeof(struct jg_obj_bucket_cfg),
    .cfg_parse = cfg_parse,
    .cfg_done = cfg_done,
    .stream_config = stream_config,
    .cfg_same = cfg_same,
    .cfg_update = cfg_update,
    .status_json = jg_obj_bucket_status_json,
};

void jg_obj_bucket_write(struct jg_app *app, const char *bucket, const char *body, size_t len,
                         bool update, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_write(app, &obj_kind, bucket, body, len, update, fn, ctx);
}

void jg_obj_bucket_status(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_status(app, &obj_kind, bucket, fn, ctx);
}

void jg_obj_bucket_delete(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_delete(app, &obj_kind, bucket, fn, ctx);
}

void jg_obj_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_list(app, &obj_kind, want, fn, ctx);
}

static void seal(cJSON *stream_cfg)
{
    cJSON_DeleteItemFromObjectCaseSensitive(stream_cfg, "sealed");
    cJSON_AddBoolToObject(stream_cfg, "sealed", true);
}

void jg_obj_bucket_seal(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_edit(app, &obj_kind, bucket, seal, fn, ctx);
}
