/* bucket.c - object store buckets: the fields of the configuration body
 * and their bounds, the stream configuration nats.go writes for it, the
 * status JSON, and the bucket operations (create, create-or-update,
 * status, delete, list, seal); the mechanics are nats/bucketcfg.c and
 * nats/bucketm.c. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nats/js.h"
#include "nats/subjects.h"

/* The body's fields (obj.h: struct jg_obj_bucket_cfg) and the stream
 * members they map onto. */
#define F(name, type, field, has, member, def, min, max, nonpos)                                     \
    {name, type, offsetof(struct jg_obj_bucket_cfg, field), offsetof(struct jg_obj_bucket_cfg, has), \
     member, def, min, max, nonpos}
static const struct jg_bcf_field obj_field_rows[] = {
    F("description", JG_BCF_TEXT, description, has_description, "description", 0, 0, 0, false),
    F("ttl", JG_BCF_DURATION, ttl, has_ttl, "max_age", 0, 0, 0, false),
    F("max_bytes", JG_BCF_LIMIT, max_bytes, has_max_bytes, "max_bytes", -1, 0, INT64_MAX, true),
    F("storage", JG_BCF_STORAGE, storage, has_storage, "storage", 0, 0, 0, false),
    F("replicas", JG_BCF_INT, replicas, has_replicas, "num_replicas", 1, 1, 5, false),
};
#undef F
static const struct jg_bcf_fields obj_fields = {
    obj_field_rows, sizeof(obj_field_rows) / sizeof(obj_field_rows[0])};

/* The status JSON, after "bucket". */
static const struct jg_bcs_member obj_status_rows[] = {
    {"description", false, "description", JG_BCS_STR, 0, ""},
    {"ttl", false, "max_age", JG_BCS_NUM, 0, NULL},
    {"storage", false, "storage", JG_BCS_STR, 0, "file"},
    {"replicas", false, "num_replicas", JG_BCS_NUM, 1, NULL},
    {"sealed", false, "sealed", JG_BCS_BOOL, 0, NULL},
    {"size", true, "bytes", JG_BCS_NUM, 0, NULL},
    {"max_bytes", false, "max_bytes", JG_BCS_LIMIT, -1, NULL},
};
static const struct jg_bcs_members obj_status = {
    obj_status_rows, sizeof(obj_status_rows) / sizeof(obj_status_rows[0])};

void jg_obj_bucket_cfg_done(struct jg_obj_bucket_cfg *c)
{
    jg_bucketcfg_done(&obj_fields, c);
}

jg_status jg_obj_bucket_cfg_parse(const char *body, size_t len, struct jg_obj_bucket_cfg *c,
                                  char *why, size_t wl)
{
    return jg_bucketcfg_parse(&obj_fields, body, len, c, why, wl);
}

char *jg_obj_stream_config(const char *bucket, const struct jg_obj_bucket_cfg *c)
{
    struct jg_js_stream_spec s = {
        .kind = JG_BUCKET_OBJ,
        .bucket = bucket,
        .description = c->has_description ? c->description : NULL,
        .storage = c->has_storage ? c->storage : NULL,
        .max_bytes = c->has_max_bytes ? c->max_bytes : -1,
        .max_age_ns = c->has_ttl ? c->ttl : 0,
        .per_subject = -1,
        .max_msg_size = -1,
        .replicas = c->has_replicas ? c->replicas : 1,
    };
    return jg_js_stream_config(&s);
}


bool jg_obj_bucket_cfg_same(const cJSON *cfg, const struct jg_obj_bucket_cfg *c)
{
    return jg_bucketcfg_same(&obj_fields, cfg, c);
}

cJSON *jg_obj_bucket_status_json(const char *bucket, const cJSON *si)
{
    return jg_bucketcfg_status(&obj_status, bucket, si);
}

/* A new ttl brings a longer duplicate window down to it. */
static void update_more(cJSON *cfg, const void *oc)
{
    const struct jg_obj_bucket_cfg *c = oc;
    const cJSON *dw = cJSON_GetObjectItemCaseSensitive(cfg, "duplicate_window");
    if (c->has_ttl && c->ttl > 0 && cJSON_IsNumber(dw) && dw->valuedouble > (double)c->ttl)
        jg_bucketcfg_set_num(cfg, "duplicate_window", c->ttl);
}

jg_status jg_obj_bucket_cfg_update(cJSON *cfg, const struct jg_obj_bucket_cfg *c, char *why,
                                   size_t wl)
{
    jg_status st = jg_bucketcfg_update(&obj_fields, cfg, c, why, wl);
    if (st == JG_OK)
        update_more(cfg, c);
    return st;
}

/* --- the kind --------------------------------------------------------------- */

static char *stream_config(const char *bucket, const void *cfg)
{
    return jg_obj_stream_config(bucket, cfg);
}

static const struct jg_bucketm_kind obj_kind = {
    .kind = JG_BUCKET_OBJ,
    .stream_prefix = JG_SUBJ_OBJ_STREAM_PREFIX,
    .missing = "no such object bucket",
    .cfg_size = sizeof(struct jg_obj_bucket_cfg),
    .fields = &obj_fields,
    .status = &obj_status,
    .stream_config = stream_config,
    .update_more = update_more,
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
