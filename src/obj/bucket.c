/* bucket.c - object store buckets: the configuration body, the stream
 * configuration nats.go writes for it, the status JSON, what an update may
 * change, and the bucket operations (create, create-or-update, status,
 * delete, list, seal) through the shared management of nats/bucketm.c. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/js.h"

#define TWO_MIN_NS (120LL * 1000000000LL)
#include "nats/subjects.h"

/* --- buckets ------------------------------------------------------------------- */

void jg_obj_bucket_cfg_done(struct jg_obj_bucket_cfg *c)
{
    free(c->description);
    c->description = NULL;
}

jg_status jg_obj_bucket_cfg_parse(const char *body, size_t len, struct jg_obj_bucket_cfg *c,
                                  char *why, size_t wl)
{
    cJSON *root = NULL;
    jg_status st = JG_ERR_INVALID_CONFIG;
    if (len == 0)
        return JG_OK;
    if (strlen(body) != len || !(root = cJSON_ParseWithOpts(body, NULL, true)) ||
        !cJSON_IsObject(root)) {
        snprintf(why, wl, "the body must be a JSON object");
        goto out;
    }
    for (const cJSON *f = root->child; f; f = f->next) {
        const char *k = f->string;
        if (strcmp(k, "description") == 0) {
            if (!cJSON_IsString(f)) {
                snprintf(why, wl, "'description' must be a string");
                goto out;
            }
            free(c->description);
            c->description = strdup(f->valuestring);
            c->has_description = true;
        } else if (strcmp(k, "ttl") == 0) {
            if (jg_js_json_duration(f, &c->ttl) != JG_OK) {
                snprintf(why, wl, "'ttl' must be nanoseconds or a duration such as \"1h\"");
                goto out;
            }
            c->has_ttl = true;
        } else if (strcmp(k, "max_bytes") == 0) {
            if (jg_js_json_i64(f, &c->max_bytes) != JG_OK || c->max_bytes < -1 || c->max_bytes == 0) {
                snprintf(why, wl, "'max_bytes' must be -1 (unlimited) or a positive integer");
                goto out;
            }
            c->has_max_bytes = true;
        } else if (strcmp(k, "storage") == 0) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "file") != 0 && strcmp(f->valuestring, "memory") != 0)) {
                snprintf(why, wl, "'storage' must be \"file\" or \"memory\"");
                goto out;
            }
            snprintf(c->storage, sizeof(c->storage), "%s", f->valuestring);
            c->has_storage = true;
        } else if (strcmp(k, "replicas") == 0) {
            if (jg_js_json_i64(f, &c->replicas) != JG_OK || c->replicas < 1 || c->replicas > 5) {
                snprintf(why, wl, "'replicas' must be an integer from 1 to 5");
                goto out;
            }
            c->has_replicas = true;
        } else {
            snprintf(why, wl, "unknown field '%.64s'", k);
            goto out;
        }
    }
    st = JG_OK;
out:
    cJSON_Delete(root);
    return st;
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
    int64_t mb = c->has_max_bytes ? c->max_bytes : -1;
    return strcmp(jg_js_str(cfg, "description"), c->has_description ? c->description : "") == 0 &&
           jg_js_num_is(cfg, "max_age", 0, c->has_ttl ? c->ttl : 0) &&
           (mb <= 0 ? jg_js_num(cfg, "max_bytes", -1) <= 0 : jg_js_num_is(cfg, "max_bytes", -1, mb)) &&
           strcmp(*jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file",
                  c->has_storage ? c->storage : "file") == 0 &&
           jg_js_num_is(cfg, "num_replicas", 1, c->has_replicas ? c->replicas : 1);
}

cJSON *jg_obj_bucket_status_json(const char *bucket, const cJSON *si)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(si, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(si, "state");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int64_t mb = jg_js_num(cfg, "max_bytes", -1);
    cJSON_AddStringToObject(o, "bucket", bucket);
    cJSON_AddStringToObject(o, "description", jg_js_str(cfg, "description"));
    cJSON_AddNumberToObject(o, "ttl", (double)jg_js_num(cfg, "max_age", 0));
    cJSON_AddStringToObject(o, "storage", *jg_js_str(cfg, "storage") ? jg_js_str(cfg, "storage") : "file");
    cJSON_AddNumberToObject(o, "replicas", (double)jg_js_num(cfg, "num_replicas", 1));
    cJSON_AddBoolToObject(o, "sealed", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "sealed")));
    cJSON_AddNumberToObject(o, "size", (double)jg_js_num(state, "bytes", 0));
    cJSON_AddNumberToObject(o, "max_bytes", (double)(mb <= 0 ? -1 : mb));
    return o;
}

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
