/* bucket.c - KV buckets: the configuration body, its mapping onto the
 * stream nats.go writes for a KV bucket, the status JSON, and the bucket
 * operations (create, create-or-update, status, delete, list) through the
 * shared management of nats/bucketm.c. */
#include "autoconfig.h"
#include "kv/kv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/js.h"
#include "nats/subjects.h"

#define TWO_MIN_NS (120LL * 1000000000LL)

/* The duplicate window: the TTL when shorter than two minutes. */
static int64_t dup_window(int64_t ttl)
{
    return ttl > 0 && ttl < TWO_MIN_NS ? ttl : TWO_MIN_NS;
}

char *jg_kv_stream_config(const char *bucket, const struct jg_kv_bucket_cfg *c)
{
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

cJSON *jg_kv_bucket_status_json(const char *bucket, const cJSON *si)
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

bool jg_kv_bucket_cfg_same(const cJSON *cfg, const struct jg_kv_bucket_cfg *c)
{
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

jg_status jg_kv_bucket_cfg_update(cJSON *cfg, const struct jg_kv_bucket_cfg *c, char *why,
                                  size_t wl)
{
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

/* --- the configuration body of POST/PUT ---------------------------------- */

jg_status jg_kv_bucket_cfg_parse(const char *body, size_t len, struct jg_kv_bucket_cfg *c,
                                 char *why, size_t wl)
{
    cJSON *root = NULL;
    jg_status st = JG_OK;
    if (len == 0)
        return JG_OK; /* all defaults */
    if (strlen(body) != len || !(root = cJSON_ParseWithOpts(body, NULL, true)) ||
        !cJSON_IsObject(root)) {
        snprintf(why, wl, "the body must be a JSON object");
        st = JG_ERR_INVALID_CONFIG;
        goto out;
    }
    for (const cJSON *f = root->child; f; f = f->next) {
        const char *k = f->string;
        if (strcmp(k, "description") == 0) {
            if (!cJSON_IsString(f)) {
                snprintf(why, wl, "'description' must be a string");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            /* a repeated field: the last one counts, as for the others */
            free(c->description);
            c->description = strdup(f->valuestring);
            if (!c->description) {
                c->has_description = false;
                snprintf(why, wl, "out of memory");
                st = JG_ERR_NOMEM;
                goto out;
            }
            c->has_description = true;
        } else if (strcmp(k, "history") == 0) {
            if (jg_js_json_i64(f, &c->history) != JG_OK || c->history < 1 || c->history > 64) {
                snprintf(why, wl, "'history' must be an integer from 1 to 64");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_history = true;
        } else if (strcmp(k, "ttl") == 0) {
            if (jg_js_json_duration(f, &c->ttl) != JG_OK) {
                snprintf(why, wl, "'ttl' must be nanoseconds or a duration such as \"1h\"");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_ttl = true;
        } else if (strcmp(k, "max_value_size") == 0 || strcmp(k, "max_bytes") == 0) {
            int64_t v;
            if (jg_js_json_i64(f, &v) != JG_OK || v < -1 || v == 0 || v > INT32_MAX * 1024LL * 1024) {
                snprintf(why, wl, "'%s' must be -1 (unlimited) or a positive integer", k);
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            if (k[4] == 'v') {
                c->max_value_size = v;
                c->has_mvs = true;
            } else {
                c->max_bytes = v;
                c->has_mb = true;
            }
        } else if (strcmp(k, "storage") == 0) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "file") != 0 && strcmp(f->valuestring, "memory") != 0)) {
                snprintf(why, wl, "'storage' must be \"file\" or \"memory\"");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            snprintf(c->storage, sizeof(c->storage), "%s", f->valuestring);
            c->has_storage = true;
        } else if (strcmp(k, "replicas") == 0) {
            if (jg_js_json_i64(f, &c->replicas) != JG_OK || c->replicas < 1 || c->replicas > 5) {
                snprintf(why, wl, "'replicas' must be an integer from 1 to 5");
                st = JG_ERR_INVALID_CONFIG;
                goto out;
            }
            c->has_replicas = true;
        } else {
            snprintf(why, wl, "unknown field '%.64s'", k);
            st = JG_ERR_INVALID_CONFIG;
            goto out;
        }
    }
out:
    cJSON_Delete(root);
    return st;
}

void jg_kv_bucket_cfg_done(struct jg_kv_bucket_cfg *c)
{
    if (!c)
        return;
    free(c->description);
    c->description = NULL;
}

/* --- the kind: adapters to the shared management's untyped config --------- */

static jg_status parse_cfg(const char *body, size_t len, void *cfg, char *why, size_t wl)
{
    return jg_kv_bucket_cfg_parse(body, len, cfg, why, wl);
}

static void cfg_done(void *cfg)
{
    jg_kv_bucket_cfg_done(cfg);
}

static char *stream_config(const char *bucket, const void *cfg)
{
    return jg_kv_stream_config(bucket, cfg);
}

static bool same_config(const cJSON *stream_cfg, const void *cfg)
{
    return jg_kv_bucket_cfg_same(stream_cfg, cfg);
}

static jg_status update_config(cJSON *stream_cfg, const void *cfg, char *why, size_t wl)
{
    return jg_kv_bucket_cfg_update(stream_cfg, cfg, why, wl);
}

static const struct jg_bucketm_kind kv_kind = {
    .kind = JG_BUCKET_KV,
    .stream_prefix = JG_SUBJ_KV_STREAM_PREFIX,
    .missing = "no such key-value bucket",
    .cfg_size = sizeof(struct jg_kv_bucket_cfg),
    .cfg_parse = parse_cfg,
    .cfg_done = cfg_done,
    .stream_config = stream_config,
    .cfg_same = same_config,
    .cfg_update = update_config,
    .status_json = jg_kv_bucket_status_json,
};

void jg_kv_bucket_write(struct jg_app *app, const char *bucket, const char *body, size_t len,
                        bool update, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_write(app, &kv_kind, bucket, body, len, update, fn, ctx);
}

void jg_kv_bucket_status(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_status(app, &kv_kind, bucket, fn, ctx);
}

void jg_kv_bucket_delete(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_delete(app, &kv_kind, bucket, fn, ctx);
}

void jg_kv_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn, void *ctx)
{
    jg_bucketm_list(app, &kv_kind, want, fn, ctx);
}
