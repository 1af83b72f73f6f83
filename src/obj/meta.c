/* meta.c - the asynchronous operations on object metas and subjects (see
 * obj.h): meta read (through the read routine, nats/msgget.h), meta write
 * with rollup, removal of a subject, and the object list (a scan on a
 * worker thread, answered on the loop thread). */
#include "autoconfig.h"
#include "obj/obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "log.h"
#include "nats/conn.h"
#include "nats/buckets.h"
#include "nats/js.h"
#include "nats/msgget.h"
#include "nats/scan.h"
#include "nats/subjects.h"
#include "util.h"

#define SUBJ_MAX 2400            /* "$O.<bucket>.M.<base64 of 1024 bytes>" fits */

/* --- meta read ------------------------------------------------------------------ */

struct info_op {
    struct jg_app *app;
    char *bucket, *name;
    struct jg_bucket_info binfo;
    jg_obj_info_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
    struct jg_msgget get;   /* policy JG_MSGGET_META (nats/msgget.h) */
    char stream[300], msubj[SUBJ_MAX];
};

static void info_finish(struct info_op *op, jg_status st, struct jg_obj_info *info)
{
    jg_obj_info_fn fn = op->fn;
    void *fctx = op->ctx;
    struct jg_bucket_info binfo = op->binfo;
    free(op->bucket);
    free(op->name);
    free(op);
    fn(fctx, st, info, &binfo);
}

static void on_meta(void *ctx, jg_status st, struct jg_stored_msg *m)
{
    struct info_op *op = ctx;
    struct jg_obj_info *info = NULL;

    if (st == JG_OK) {
        st = jg_obj_info_parse(m->data, m->len, &info);
        if (st == JG_OK) {
            if (m->seq)
                info->revision = m->seq;
            if (m->time_ns)
                info->stored_ns = m->time_ns;
        }
        jg_stored_msg_clear(m);
    } else if (st == JG_ERR_KEY_NOT_FOUND) {
        st = JG_ERR_OBJECT_NOT_FOUND;
    }
    if (st == JG_ERR_INTERNAL)
        jg_debug("obj: unreadable meta for '%s' in '%s'", op->name, op->bucket);
    info_finish(op, st, info);
}

static void info_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct info_op *op = ctx;
    if (st != JG_OK) {
        info_finish(op, st, NULL);
        return;
    }
    op->binfo = *binfo;
    char *enc = jg_obj_name_encode(op->name);
    if (!enc) {
        info_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, op->stream, sizeof(op->stream));
    jg_subj_obj_meta(op->bucket, enc, op->msubj, sizeof(op->msubj));
    free(enc);
    op->get = (struct jg_msgget){
        .nats = op->app->nats,
        .buckets = op->app->buckets,
        .kind = JG_BUCKET_OBJ,
        .bucket = op->bucket,
        .stream = op->stream,
        .subject = op->msubj,
        .leader = binfo->replicas > 1 || !binfo->allow_direct,
        .replicas = binfo->replicas > 1 && binfo->allow_direct,
        .single = binfo->replicas <= 1,
        .policy = JG_MSGGET_META,
        .request_timeout_ms = op->app->cfg.request_timeout_ms,
        .fn = on_meta,
        .ctx = op,
    };
    st = jg_msgget_start(&op->get);
    if (st != JG_OK)
        info_finish(op, st, NULL);
}

void jg_obj_info_get(struct jg_app *app, const char *bucket, const char *name, jg_obj_info_fn fn,
                     void *ctx)
{
    struct info_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->name = strdup(name))) {
        if (op)
            free(op->bucket);
        free(op);
        fn(ctx, JG_ERR_NOMEM, NULL, NULL);
        return;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, info_bucket, op);
}

/* --- meta write -------------------------------------------------------------------- */

struct seq_op {
    struct jg_app *app;
    char *bucket;
    jg_obj_seq_fn fn;
    void *ctx;
    struct jg_nats_req req;
};

static void seq_finish(struct seq_op *op, jg_status st, uint64_t seq)
{
    jg_obj_seq_fn fn = op->fn;
    void *fctx = op->ctx;
    free(op->bucket);
    free(op);
    if (fn)
        fn(fctx, st, seq);
}

static void on_seq_reply(void *ctx, jg_status st, natsMsg *msg)
{
    struct seq_op *op = ctx;
    cJSON *json = NULL;
    char desc[256] = "";
    uint64_t seq = 0;
    if (st == JG_OK && jg_nats_msg_status(msg) == 503) {
        natsMsg_Destroy(msg);
        st = jg_buckets_no_responders(op->app->buckets, JG_BUCKET_OBJ, op->bucket);
    } else if (st == JG_OK) {
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    }
    if (st == JG_ERR_REVISION_MISMATCH)
        st = JG_ERR_PRECONDITION_FAILED;
    if (st == JG_OK) {
        seq = (uint64_t)jg_js_num(json, "seq", 0);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "duplicate")))
            st = JG_ERR_OBJECT_EXISTS;
    }
    else if (st != JG_ERR_PRECONDITION_FAILED && st != JG_ERR_OBJECT_EXISTS)
        jg_debug("obj: meta write in '%s' failed: %s", op->bucket, desc);
    cJSON_Delete(json);
    seq_finish(op, st, seq);
}

static struct seq_op *seq_op_new(struct jg_app *app, const char *bucket, jg_obj_seq_fn fn,
                                 void *ctx)
{
    struct seq_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket))) {
        free(op);
        if (fn)
            fn(ctx, JG_ERR_NOMEM, 0);
        return NULL;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    return op;
}

void jg_obj_meta_write(struct jg_app *app, const char *bucket, const struct jg_obj_info *info,
                       int64_t expect_seq, const char *msg_id, jg_obj_seq_fn fn, void *ctx)
{
    char subj[SUBJ_MAX], seqtxt[24];
    const char *hdrs[8];
    size_t h = 0;
    struct seq_op *op = seq_op_new(app, bucket, fn, ctx);
    if (!op)
        return;
    char *enc = jg_obj_name_encode(info->name);
    char *json = jg_obj_info_meta_json(info);
    if (!enc || !json) {
        free(enc);
        free(json);
        seq_finish(op, JG_ERR_NOMEM, 0);
        return;
    }
    jg_subj_obj_meta(bucket, enc, subj, sizeof(subj));
    free(enc);
    hdrs[h++] = "Nats-Rollup";
    hdrs[h++] = "sub";
    if (expect_seq >= 0) {
        snprintf(seqtxt, sizeof(seqtxt), "%lld", (long long)expect_seq);
        hdrs[h++] = "Nats-Expected-Last-Subject-Sequence";
        hdrs[h++] = seqtxt;
    }
    if (msg_id) {
        hdrs[h++] = "Nats-Msg-Id";
        hdrs[h++] = msg_id;
    }
    hdrs[h] = NULL;
    jg_status st = jg_nats_request(app->nats, &op->req, subj, hdrs, json, strlen(json),
                                   JG_NATS_WRITE, 0, on_seq_reply, op);
    free(json);
    if (st != JG_OK)
        seq_finish(op, st, 0);
}

/* --- purge of a subject ------------------------------------------------------------ *
 * jg_js_remove_subject(): on replicated buckets one deletion per message,
 * never a filtered purge, which nats-server before 2.9.18 replays on a
 * restarting replica as the removal of every older object. */

struct purge_op {
    struct jg_app *app;
    char *bucket, *subject;
    jg_obj_seq_fn fn;
    void *ctx;
    struct jg_nats_req lookup;
};

static void purge_done(void *ctx, jg_status st, uint64_t count)
{
    struct purge_op *op = ctx;
    jg_obj_seq_fn fn = op->fn;
    void *fctx = op->ctx;
    free(op->bucket);
    free(op->subject);
    free(op);
    if (fn)
        fn(fctx, st, count);
}

static void purge_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct purge_op *op = ctx;
    char stream[300];
    if (st != JG_OK) {
        purge_done(op, st, 0);
        return;
    }
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, stream, sizeof(stream));
    jg_js_remove_subject(op->app->nats, stream, op->subject, binfo->replicas > 1, false,
                         purge_done, op);
}

void jg_obj_purge_subject(struct jg_app *app, const char *bucket, const char *subject,
                          jg_obj_seq_fn fn, void *ctx)
{
    struct purge_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->subject = strdup(subject))) {
        if (op)
            free(op->bucket);
        free(op);
        if (fn)
            fn(ctx, JG_ERR_NOMEM, 0);
        return;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, purge_bucket, op);
}

/* --- list: last meta per name through an ephemeral push consumer ------------------ *
 * A push consumer delivers only to a subject with a subscription of its own,
 * so each listing subscribes to a fresh inbox and reads it on a short-lived
 * worker thread (listings are rare; their number is capped). */



struct list_op {
    struct jg_app *app;
    char *bucket;
    bool include_deleted;
    struct jg_nats_req lookup;
    jg_obj_want_fn want;
    jg_obj_list_fn fn;
    void *ctx;
    cJSON *arr;
    jg_status st;                /* the scan's outcome, for list_done */
    struct jg_loop_task task;
};

static void list_msg(void *ctx, natsMsg *m, uint64_t sseq, int64_t ts)
{
    struct list_op *op = ctx;
    struct jg_obj_info *info = NULL;
    if (jg_obj_info_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &info) != JG_OK)
        return;
    info->revision = sseq;
    info->stored_ns = ts;
    if ((!info->deleted || op->include_deleted) &&
        (!op->want || op->want(op->ctx, info->name ? info->name : "")))
        cJSON_AddItemToArray(op->arr, jg_obj_info_api_json(info));
    jg_obj_info_free(info);
}

static jg_status list_run(struct list_op *op)
{
    char stream[300], filter[300];
    jg_js_stream_name(JG_BUCKET_OBJ, op->bucket, stream, sizeof(stream));
    jg_subj_obj_meta(op->bucket, ">", filter, sizeof(filter));
    return jg_scan_last_per_subject(op->app->nats, stream, filter, false,
                                    op->app->cfg.request_timeout_ms, list_msg, op);
}

static void list_finish(struct list_op *op, jg_status st)
{
    jg_obj_list_fn fn = op->fn;
    void *fctx = op->ctx;
    cJSON *arr = st == JG_OK ? op->arr : NULL;
    if (st != JG_OK)
        cJSON_Delete(op->arr);
    free(op->bucket);
    free(op);
    fn(fctx, st, arr);
}

/* The end of the scan, back on the loop thread. */
static void list_done(void *arg)
{
    struct list_op *op = arg;
    JG_ASSERT_LOOP_THREAD(op->app->nats);
    list_finish(op, op->st);
}

/* The scan itself, on a worker thread: blocking calls. */
static void list_work(void *arg)
{
    struct list_op *op = arg;
    op->st = list_run(op);
    jg_nats_post(op->app->nats, &op->task, list_done, op);
}

static void list_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct list_op *op = ctx;
    if (st == JG_OK && (st = jg_scan_spawn(list_work, op)) == JG_OK)
        return;
    list_finish(op, st);
}

void jg_obj_list(struct jg_app *app, const char *bucket, bool include_deleted,
                 jg_obj_want_fn want, jg_obj_list_fn fn, void *ctx)
{
    struct list_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->bucket = strdup(bucket)) || !(op->arr = cJSON_CreateArray())) {
        if (op)
            free(op->bucket);
        free(op);
        fn(ctx, JG_ERR_NOMEM, NULL);
        return;
    }
    op->app = app;
    op->include_deleted = include_deleted;
    op->want = want;
    op->fn = fn;
    op->ctx = ctx;
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, bucket, &op->lookup, list_bucket, op);
}
