/* bucket.c - KV buckets: the fields of the configuration body and their
 * bounds, the stream nats.go writes for a KV bucket, the status JSON, and
 * the bucket operations (create, create-or-update, status, delete, list);
 * the mechanics are nats/bucketcfg.c and nats/bucketm.c. */
#include "autoconfig.h"
#include "kv/kv.h"

#include <stddef.h>
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

/* The body's fields (kv.h: struct jg_kv_bucket_cfg) and the stream members
 * they map onto, as nats.go writes them. */
#define F(name, type, field, has, member, def, min, max)                                         \
    {name, type, offsetof(struct jg_kv_bucket_cfg, field), offsetof(struct jg_kv_bucket_cfg, has), \
     member, def, min, max, false}
static const struct jg_bcf_field kv_field_rows[] = {
    F("description", JG_BCF_TEXT, description, has_description, "description", 0, 0, 0),
    F("history", JG_BCF_INT, history, has_history, "max_msgs_per_subject", 1, 1, 64),
    F("ttl", JG_BCF_DURATION, ttl, has_ttl, "max_age", 0, 0, 0),
    F("max_value_size", JG_BCF_LIMIT, max_value_size, has_mvs, "max_msg_size", -1, 0,
      INT32_MAX * 1024LL * 1024),
    F("max_bytes", JG_BCF_LIMIT, max_bytes, has_mb, "max_bytes", -1, 0, INT32_MAX * 1024LL * 1024),
    F("storage", JG_BCF_STORAGE, storage, has_storage, "storage", 0, 0, 0),
    F("replicas", JG_BCF_INT, replicas, has_replicas, "num_replicas", 1, 1, 5),
};
#undef F
static const struct jg_bcf_fields kv_fields = {kv_field_rows,
                                               sizeof(kv_field_rows) / sizeof(kv_field_rows[0])};

/* The status JSON, after "bucket". */
static const struct jg_bcs_member kv_status_rows[] = {
    {"values", true, "messages", JG_BCS_NUM, 0, NULL},
    {"history", false, "max_msgs_per_subject", JG_BCS_NUM, 1, NULL},
    {"ttl", false, "max_age", JG_BCS_NUM, 0, NULL},
    {"max_value_size", false, "max_msg_size", JG_BCS_NUM, -1, NULL},
    {"max_bytes", false, "max_bytes", JG_BCS_NUM, -1, NULL},
    {"bytes", true, "bytes", JG_BCS_NUM, 0, NULL},
    {"storage", false, "storage", JG_BCS_STR, 0, "file"},
    {"replicas", false, "num_replicas", JG_BCS_NUM, 1, NULL},
    {"description", false, "description", JG_BCS_STR, 0, ""},
};
static const struct jg_bcs_members kv_status = {
    kv_status_rows, sizeof(kv_status_rows) / sizeof(kv_status_rows[0])};

cJSON *jg_kv_bucket_status_json(const char *bucket, const cJSON *si)
{
    return jg_bucketcfg_status(&kv_status, bucket, si);
}

bool jg_kv_bucket_cfg_same(const cJSON *cfg, const struct jg_kv_bucket_cfg *c)
{
    return jg_bucketcfg_same(&kv_fields, cfg, c);
}

/* A new ttl brings the duplicate window down to it (at most two minutes). */
static void update_more(cJSON *cfg, const void *kc)
{
    const struct jg_kv_bucket_cfg *c = kc;
    if (c->has_ttl && jg_js_num(cfg, "duplicate_window", 0) > dup_window(c->ttl))
        jg_bucketcfg_set_num(cfg, "duplicate_window", dup_window(c->ttl));
}

jg_status jg_kv_bucket_cfg_update(cJSON *cfg, const struct jg_kv_bucket_cfg *c, char *why,
                                  size_t wl)
{
    jg_status st = jg_bucketcfg_update(&kv_fields, cfg, c, why, wl);
    if (st == JG_OK)
        update_more(cfg, c);
    return st;
}

/* --- the configuration body of POST/PUT ---------------------------------- */

jg_status jg_kv_bucket_cfg_parse(const char *body, size_t len, struct jg_kv_bucket_cfg *c,
                                 char *why, size_t wl)
{
    return jg_bucketcfg_parse(&kv_fields, body, len, c, why, wl);
}

void jg_kv_bucket_cfg_done(struct jg_kv_bucket_cfg *c)
{
    jg_bucketcfg_done(&kv_fields, c);
}

/* --- the kind --------------------------------------------------------------- */

static char *stream_config(const char *bucket, const void *cfg)
{
    return jg_kv_stream_config(bucket, cfg);
}

static const struct jg_bucketm_kind kv_kind = {
    .kind = JG_BUCKET_KV,
    .stream_prefix = JG_SUBJ_KV_STREAM_PREFIX,
    .missing = "no such key-value bucket",
    .cfg_size = sizeof(struct jg_kv_bucket_cfg),
    .fields = &kv_fields,
    .status = &kv_status,
    .stream_config = stream_config,
    .update_more = update_more,
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
