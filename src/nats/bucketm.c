/* bucketm.c - bucket management shared by KV and object buckets (see
 * bucketm.h).  Every step is an asynchronous JetStream API request. */
#include "autoconfig.h"
#include "nats/bucketm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "nats/buckets.h"
#include "nats/conn.h"

struct op {
    struct jg_app *app;
    const struct jg_bucketm_kind *k;
    char *bucket;                /* NULL for a listing */
    jg_bucketm_fn fn;
    void *ctx;
    jg_bucketm_want_fn want;     /* listing: which names */
    char stream[300];
    void *cfg;                   /* k->cfg_size bytes, parsed */
    struct jg_nats_req nreq;
    bool update;                 /* PUT: create or update */
    void (*edit)(cJSON *stream_cfg);
    cJSON *names;                /* list: names so far */
    int offset;
};

static void op_free(struct op *op)
{
    if (!op)
        return;
    if (op->cfg)
        jg_bucketcfg_done(op->k->fields, op->cfg);
    free(op->cfg);
    cJSON_Delete(op->names);
    free(op->bucket);
    free(op);
}

static void op_fail(struct op *op, jg_status st, const char *detail)
{
    jg_bucketm_fn fn = op->fn;
    void *ctx = op->ctx;
    if (st == JG_ERR_BUCKET_NOT_FOUND)
        detail = op->k->missing;
    if (st == JG_ERR_NATS_UNAVAILABLE && (!detail || !*detail))
        detail = "not connected to NATS; retry later";
    char text[256];
    snprintf(text, sizeof(text), "%s", detail && *detail ? detail : jg_status_title(st));
    op_free(op);
    fn(ctx, st, false, NULL, text);
}

static void done(struct op *op, bool created, cJSON *json)
{
    jg_bucketm_fn fn = op->fn;
    void *ctx = op->ctx;
    JG_ASSERT_LOOP_THREAD(op->app->nats);
    op_free(op);
    fn(ctx, json ? JG_OK : JG_ERR_NOMEM, created, json, json ? NULL : "out of memory");
}

/* A new operation on bucket (NULL: a listing). */
static struct op *op_start(struct jg_app *app, const struct jg_bucketm_kind *k,
                           const char *bucket, jg_bucketm_fn fn, void *ctx)
{
    struct op *op = calloc(1, sizeof(*op));
    if (op && bucket && !(op->bucket = strdup(bucket))) {
        free(op);
        op = NULL;
    }
    if (!op) {
        fn(ctx, JG_ERR_NOMEM, false, NULL, "out of memory");
        return NULL;
    }
    op->app = app;
    op->k = k;
    op->fn = fn;
    op->ctx = ctx;
    if (bucket)
        jg_js_stream_name(k->kind, bucket, op->stream, sizeof(op->stream));
    return op;
}

/* Sends "$JS.API.<api>.<the bucket's stream>". */
static void send_api(struct op *op, const char *api, const char *body, jg_nats_reply_fn fn)
{
    jg_status st = jg_js_stream_api(op->app->nats, &op->nreq, api, op->stream, NULL, body, 0, fn, op);
    if (st != JG_OK)
        op_fail(op, st, NULL);
}

/* The JSON of an API reply, or the operation failed (and is gone). */
static cJSON *reply_json(struct op *op, jg_status st, natsMsg *msg)
{
    cJSON *json = NULL;
    char desc[256] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st != JG_OK) {
        op_fail(op, st, desc);
        return NULL;
    }
    return json;
}

static void reply_status(struct op *op, jg_status st, natsMsg *msg, bool created)
{
    cJSON *json = reply_json(op, st, msg);
    if (!json)
        return;
    cJSON *status = jg_bucketcfg_status(op->k->status, op->bucket, json);
    cJSON_Delete(json);
    done(op, created, status);
}

/* --- create / update / edit -------------------------------------------------- */

static void on_changed(void *ctx, jg_status st, natsMsg *msg, bool created)
{
    struct op *op = ctx;
    jg_buckets_forget(op->app->buckets, op->k->kind, op->bucket);
    reply_status(op, st, msg, created);
}

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    on_changed(ctx, st, msg, true);
}

static void on_updated(void *ctx, jg_status st, natsMsg *msg)
{
    on_changed(ctx, st, msg, false);
}

char *jg_bucketm_config_text(const cJSON *stream_cfg)
{
    char *text = NULL;
    cJSON *copy = cJSON_Duplicate(stream_cfg, true);
    if (copy && jg_js_ints_raw(copy))
        text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

/* Writes the (edited) config of an existing stream back. */
static void send_update(struct op *op, cJSON *stream_cfg)
{
    char *body = jg_bucketm_config_text(stream_cfg);
    if (!body) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    send_api(op, "STREAM.UPDATE", body, on_updated);
    free(body);
}

static void on_info_for_write(void *ctx, jg_status st, natsMsg *msg)
{
    struct op *op = ctx;
    cJSON *json = NULL;
    char desc[256] = "", why[200] = "";

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        /* not there yet: create it (jg_js_stream_config writes integer
         * literals) */
        char *body = op->k->stream_config(op->bucket, op->cfg);
        if (!body) {
            op_fail(op, JG_ERR_NOMEM, NULL);
            return;
        }
        send_api(op, "STREAM.CREATE", body, on_created);
        free(body);
        return;
    }
    if (st != JG_OK) {
        op_fail(op, st, desc);
        return;
    }
    cJSON *stream_cfg = cJSON_GetObjectItemCaseSensitive(json, "config");
    if (op->update) {
        st = jg_bucketcfg_update(op->k->fields, stream_cfg, op->cfg, why, sizeof(why));
        if (st == JG_OK && op->k->update_more)
            op->k->update_more(stream_cfg, op->cfg);
        if (st == JG_OK)
            send_update(op, stream_cfg);
        else
            op_fail(op, st, why);
    } else if (jg_bucketcfg_same(op->k->fields, stream_cfg, op->cfg)) {
        cJSON *status = jg_bucketcfg_status(op->k->status, op->bucket, json);
        done(op, false, status);
    } else {
        op_fail(op, JG_ERR_BUCKET_EXISTS, "the bucket exists with another configuration");
    }
    cJSON_Delete(json);
}

void jg_bucketm_write(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                      const char *body, size_t len, bool update, jg_bucketm_fn fn, void *ctx)
{
    char why[200] = "";
    struct op *op = op_start(app, k, bucket, fn, ctx);
    if (!op)
        return;
    op->update = update;
    op->cfg = calloc(1, k->cfg_size);
    if (!op->cfg) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    jg_status st = jg_bucketcfg_parse(k->fields, body, len, op->cfg, why, sizeof(why));
    if (st != JG_OK) {
        op_fail(op, st, why);
        return;
    }
    send_api(op, "STREAM.INFO", NULL, on_info_for_write);
}

static void on_info_for_edit(void *ctx, jg_status st, natsMsg *msg)
{
    struct op *op = ctx;
    cJSON *json = reply_json(op, st, msg);
    if (!json)
        return;
    cJSON *stream_cfg = cJSON_GetObjectItemCaseSensitive(json, "config");
    op->edit(stream_cfg);
    send_update(op, stream_cfg);
    cJSON_Delete(json);
}

void jg_bucketm_edit(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                     void (*edit)(cJSON *stream_cfg), jg_bucketm_fn fn, void *ctx)
{
    struct op *op = op_start(app, k, bucket, fn, ctx);
    if (!op)
        return;
    op->edit = edit;
    send_api(op, "STREAM.INFO", NULL, on_info_for_edit);
}

/* --- status / delete ------------------------------------------------------------ */

static void on_status(void *ctx, jg_status st, natsMsg *msg)
{
    reply_status(ctx, st, msg, false);
}

void jg_bucketm_status(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                       jg_bucketm_fn fn, void *ctx)
{
    struct op *op = op_start(app, k, bucket, fn, ctx);
    if (!op)
        return;
    send_api(op, "STREAM.INFO", NULL, on_status);
}

static void on_deleted(void *ctx, jg_status st, natsMsg *msg)
{
    struct op *op = ctx;
    jg_buckets_forget(op->app->buckets, op->k->kind, op->bucket);
    cJSON *json = reply_json(op, st, msg);
    if (!json)
        return;
    cJSON_Delete(json);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", op->bucket);
    cJSON_AddBoolToObject(o, "deleted", true);
    done(op, false, o);
}

void jg_bucketm_delete(struct jg_app *app, const struct jg_bucketm_kind *k, const char *bucket,
                       jg_bucketm_fn fn, void *ctx)
{
    struct op *op = op_start(app, k, bucket, fn, ctx);
    if (!op)
        return;
    send_api(op, "STREAM.DELETE", NULL, on_deleted);
}

/* --- list ------------------------------------------------------------------------- */

static void list_page(struct op *op);

static void on_names(void *ctx, jg_status st, natsMsg *msg)
{
    struct op *op = ctx;
    cJSON *json = reply_json(op, st, msg);
    if (!json)
        return;
    const cJSON *s, *streams = cJSON_GetObjectItemCaseSensitive(json, "streams");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(json, "total");
    size_t pl = strlen(op->k->stream_prefix);
    int got = 0;
    cJSON_ArrayForEach(s, streams)
    {
        got++;
        if (!cJSON_IsString(s) || strncmp(s->valuestring, op->k->stream_prefix, pl) != 0)
            continue;
        const char *name = s->valuestring + pl;
        if (op->want && !op->want(op->ctx, name))
            continue;
        cJSON_AddItemToArray(op->names, cJSON_CreateString(name));
    }
    op->offset += got;
    bool more = got > 0 && cJSON_IsNumber(total) && op->offset < total->valueint;
    cJSON_Delete(json);
    if (more) {
        list_page(op);
        return;
    }
    cJSON *names = op->names;
    op->names = NULL;
    done(op, false, names);
}

static void list_page(struct op *op)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"offset\":%d}", op->offset);
    jg_status st = jg_js_api(op->app->nats, &op->nreq, "STREAM.NAMES", body, 0, on_names, op);
    if (st != JG_OK)
        op_fail(op, st, NULL);
}

void jg_bucketm_list(struct jg_app *app, const struct jg_bucketm_kind *k, jg_bucketm_want_fn want,
                     jg_bucketm_fn fn, void *ctx)
{
    struct op *op = op_start(app, k, NULL, fn, ctx);
    if (!op)
        return;
    op->want = want;
    op->names = cJSON_CreateArray();
    if (!op->names) {
        op_fail(op, JG_ERR_NOMEM, NULL);
        return;
    }
    list_page(op);
}
