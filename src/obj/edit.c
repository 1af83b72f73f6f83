/* edit.c - changes to one object that write only its meta message (see
 * obj.h): delete (a tombstone, then its chunks removed), rename and edits
 * of name, description, headers and metadata (a JSON merge patch), and
 * links.  Each reads the current meta (jg_obj_info_get), writes the new
 * one (jg_obj_meta_write) and removes what the new one no longer names
 * (jg_obj_purge_subject). */
#include "autoconfig.h"
#include "obj/obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "nats/buckets.h"
#include "nats/conn.h"
#include "nats/subjects.h"
#include "util.h"

/* One edit in flight: the names it works on and the meta it writes. */
struct edit_op {
    struct jg_app *app;
    char *bucket, *name;
    jg_obj_edit_fn fn;
    void *ctx;
    struct jg_obj_info *info;     /* the meta written */
    cJSON *patch;                 /* patch: the merge patch */
    char *target_bucket, *target_name; /* link: its target */
    struct jg_nats_req lookup;    /* link: the target bucket's lookup */
    char subj[2400];              /* the subject to remove after the write, or "" */
};

static struct edit_op *edit_new(struct jg_app *app, const char *bucket, const char *name,
                                jg_obj_edit_fn fn, void *ctx)
{
    struct edit_op *op = calloc(1, sizeof(*op));
    if (op && (!(op->bucket = strdup(bucket)) || !(op->name = strdup(name)))) {
        free(op->bucket);
        free(op);
        op = NULL;
    }
    if (!op) {
        fn(ctx, JG_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    op->app = app;
    op->fn = fn;
    op->ctx = ctx;
    return op;
}

/* Ends the edit: fn with the meta written on success (detail NULL: the
 * default one for st). */
static void edit_finish(struct edit_op *op, jg_status st, const char *detail)
{
    jg_obj_edit_fn fn = op->fn;
    void *ctx = op->ctx;
    JG_ASSERT_LOOP_THREAD(op->app->nats);
    fn(ctx, st, st == JG_OK ? op->info : NULL, detail);
    jg_obj_info_free(op->info);
    cJSON_Delete(op->patch);
    free(op->target_bucket);
    free(op->target_name);
    free(op->bucket);
    free(op->name);
    free(op);
}

/* The meta to write: in op's bucket, modified now. */
static jg_status stamp(struct edit_op *op, struct jg_obj_info *info)
{
    char when[40];
    jg_time_rfc3339(jg_realtime_ns(), when);
    free(info->bucket);
    free(info->mtime);
    info->bucket = strdup(op->bucket);
    info->mtime = strdup(when);
    return info->bucket && info->mtime ? JG_OK : JG_ERR_NOMEM;
}

static void on_removed(void *ctx, jg_status st, uint64_t n)
{
    struct edit_op *op = ctx;
    (void)n;
    if (st != JG_OK)
        jg_warn("obj: removing '%s' after an edit of '%s' in '%s' failed: %s", op->subj, op->name,
                op->bucket, jg_status_title(st));
    edit_finish(op, JG_OK, NULL);
}

/* The meta is written: remove op->subj if the edit named one. */
static void on_written(void *ctx, jg_status st, uint64_t seq)
{
    struct edit_op *op = ctx;
    if (st != JG_OK) {
        edit_finish(op, st, NULL);
        return;
    }
    op->info->revision = seq;
    op->info->stored_ns = jg_realtime_ns();
    if (!op->subj[0]) {
        edit_finish(op, JG_OK, NULL);
        return;
    }
    jg_obj_purge_subject(op->app, op->bucket, op->subj, on_removed, op);
}

/* The current meta of the name edited: live, in a bucket not sealed. */
static jg_status editable(jg_status st, const struct jg_obj_info *info,
                          const struct jg_bucket_info *binfo)
{
    if (st == JG_OK && info->deleted)
        st = JG_ERR_OBJECT_NOT_FOUND;
    if (st == JG_OK && binfo->sealed)
        st = JG_ERR_BUCKET_SEALED;
    return st;
}

/* --- delete ----------------------------------------------------------------------- */

static void on_del_info(void *ctx, jg_status st, struct jg_obj_info *info,
                        const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    st = editable(st, info, binfo);
    if (st != JG_OK) {
        jg_obj_info_free(info);
        edit_finish(op, st, NULL);
        return;
    }
    op->info = info;
    if (info->nuid && *info->nuid && !info->is_link)
        jg_subj_obj_chunks(op->bucket, info->nuid, op->subj, sizeof(op->subj));
    info->deleted = true;
    info->size = 0;
    info->chunks = 0;
    free(info->digest);
    info->digest = NULL;
    if (stamp(op, info) != JG_OK) {
        edit_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    jg_obj_meta_write(op->app, op->bucket, info, -1, NULL, on_written, op);
}

void jg_obj_delete(struct jg_app *app, const char *bucket, const char *name, jg_obj_edit_fn fn,
                   void *ctx)
{
    struct edit_op *op = edit_new(app, bucket, name, fn, ctx);
    if (op)
        jg_obj_info_get(app, bucket, name, on_del_info, op);
}

/* --- patch: JSON merge of name, description, headers, metadata ---------------------- */

/* The rename's write: an object that took the new name meanwhile fails it. */
static void on_renamed(void *ctx, jg_status st, uint64_t seq)
{
    struct edit_op *op = ctx;
    if (st == JG_ERR_PRECONDITION_FAILED) {
        edit_finish(op, JG_ERR_OBJECT_EXISTS, "an object took the new name meanwhile");
        return;
    }
    on_written(ctx, st, seq);
}

static void on_renamed_target(void *ctx, jg_status st, struct jg_obj_info *info,
                              const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    int64_t expect = 0;
    (void)binfo;
    if (st == JG_OK) {
        bool live = !info->deleted;
        expect = (int64_t)info->revision;
        jg_obj_info_free(info);
        if (live) {
            edit_finish(op, JG_ERR_OBJECT_EXISTS, "an object with the new name exists");
            return;
        }
    } else if (st != JG_ERR_OBJECT_NOT_FOUND) {
        edit_finish(op, st, NULL);
        return;
    }
    jg_obj_meta_write(op->app, op->bucket, op->info, expect, NULL, on_renamed, op);
}

static void on_patch_info(void *ctx, jg_status st, struct jg_obj_info *info,
                          const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    char why[200] = "";
    st = editable(st, info, binfo);
    if (st != JG_OK) {
        jg_obj_info_free(info);
        edit_finish(op, st, NULL);
        return;
    }
    op->info = info;
    st = jg_obj_info_apply_patch(info, op->patch, why, sizeof(why));
    if (st != JG_OK) {
        edit_finish(op, st, why);
        return;
    }
    if (stamp(op, info) != JG_OK) {
        edit_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    if (strcmp(info->name, op->name) != 0) {
        /* a rename: the new name must be free, the old one goes after the
         * write (delete on the old name and write on the new are enough) */
        char *enc = jg_obj_name_encode(op->name);
        if (enc)
            jg_subj_obj_meta(op->bucket, enc, op->subj, sizeof(op->subj));
        free(enc);
        jg_obj_info_get(op->app, op->bucket, info->name, on_renamed_target, op);
        return;
    }
    jg_obj_meta_write(op->app, op->bucket, info, (int64_t)info->revision, NULL, on_renamed, op);
}

void jg_obj_patch(struct jg_app *app, const char *bucket, const char *name, const cJSON *patch,
                  jg_obj_edit_fn fn, void *ctx)
{
    struct edit_op *op = edit_new(app, bucket, name, fn, ctx);
    if (!op)
        return;
    op->patch = cJSON_Duplicate(patch, true);
    if (!op->patch) {
        edit_finish(op, JG_ERR_NOMEM, "out of memory");
        return;
    }
    jg_obj_info_get(app, bucket, name, on_patch_info, op);
}

static jg_status patch_headers(cJSON **target, const cJSON *f, bool hdr, char *why, size_t wl)
{
    if (cJSON_IsNull(f)) {
        cJSON_Delete(*target);
        *target = NULL;
        return JG_OK;
    }
    if (!cJSON_IsObject(f)) {
        snprintf(why, wl, "'%s' must be an object or null", f->string);
        return JG_ERR_INVALID_PARAMETER;
    }
    if (!*target)
        *target = cJSON_CreateObject();
    for (const cJSON *h = f->child; h; h = h->next) {
        char name[256];
        if (hdr && !jg_obj_header_name_valid(h->string)) {
            snprintf(why, wl, "a header name is a token (RFC 9110) of at most 255 bytes");
            return JG_ERR_INVALID_PARAMETER;
        }
        snprintf(name, sizeof(name), "%s", h->string);
        if (hdr)
            jg_obj_canonical_header(name);
        cJSON_DeleteItemFromObjectCaseSensitive(*target, name);
        if (cJSON_IsNull(h))
            continue;
        if (!hdr) {
            if (!cJSON_IsString(h)) {
                snprintf(why, wl, "metadata values must be strings");
                return JG_ERR_INVALID_PARAMETER;
            }
            cJSON_AddStringToObject(*target, name, h->valuestring);
            continue;
        }
        cJSON *arr = cJSON_CreateArray();
        if (cJSON_IsString(h)) {
            if (!jg_obj_header_value_valid(h->valuestring)) {
                cJSON_Delete(arr);
                snprintf(why, wl, "a header value holds no control characters");
                return JG_ERR_INVALID_PARAMETER;
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(h->valuestring));
        } else if (cJSON_IsArray(h)) {
            for (const cJSON *x = h->child; x; x = x->next) {
                if (!cJSON_IsString(x) || !jg_obj_header_value_valid(x->valuestring)) {
                    cJSON_Delete(arr);
                    snprintf(why, wl, "header values are strings without control characters");
                    return JG_ERR_INVALID_PARAMETER;
                }
                cJSON_AddItemToArray(arr, cJSON_CreateString(x->valuestring));
            }
        } else {
            cJSON_Delete(arr);
            snprintf(why, wl, "header values must be strings or arrays of strings");
            return JG_ERR_INVALID_PARAMETER;
        }
        cJSON_AddItemToObject(*target, name, arr);
    }
    if (!(*target)->child) {
        cJSON_Delete(*target);
        *target = NULL;
    }
    return JG_OK;
}

jg_status jg_obj_info_apply_patch(struct jg_obj_info *info, const cJSON *patch, char *why,
                                  size_t wl)
{
    jg_status st;
    for (const cJSON *f = patch->child; f; f = f->next) {
        if (strcmp(f->string, "name") == 0) {
            if (!cJSON_IsString(f) || !jg_obj_name_valid(f->valuestring)) {
                snprintf(why, wl, "'name' must be a non-empty UTF-8 string");
                return JG_ERR_INVALID_NAME;
            }
            free(info->name);
            info->name = strdup(f->valuestring);
        } else if (strcmp(f->string, "description") == 0) {
            if (!cJSON_IsString(f) && !cJSON_IsNull(f)) {
                snprintf(why, wl, "'description' must be a string or null");
                return JG_ERR_INVALID_PARAMETER;
            }
            free(info->description);
            info->description = cJSON_IsString(f) && *f->valuestring ? strdup(f->valuestring) : NULL;
        } else if (strcmp(f->string, "headers") == 0 || strcmp(f->string, "metadata") == 0) {
            bool hdr = f->string[0] == 'h';
            st = patch_headers(hdr ? &info->headers : &info->metadata, f, hdr, why, wl);
            if (st != JG_OK)
                return st;
        } else {
            snprintf(why, wl, "unknown field '%.64s' (name, description, headers, metadata)",
                     f->string);
            return JG_ERR_INVALID_PARAMETER;
        }
    }
    return info->name ? JG_OK : JG_ERR_NOMEM;
}

/* --- links -------------------------------------------------------------------------- *
 * Written in nats.go's shape: the link's own bucket, a fresh nuid, size 0,
 * rollup.  Refused when the target is missing, deleted or itself a link, and
 * when the link's name holds a live object that is not a link. */

static void on_link_written(void *ctx, jg_status st, uint64_t seq)
{
    struct edit_op *op = ctx;
    if (st == JG_ERR_PRECONDITION_FAILED) {
        edit_finish(op, st, "the name changed meanwhile");
        return;
    }
    on_written(ctx, st, seq);
}

static void link_write(struct edit_op *op, int64_t expect)
{
    char when[40], nuid[23];
    struct jg_obj_info *i = calloc(1, sizeof(*i));
    jg_time_rfc3339(jg_realtime_ns(), when);
    if (!i || jg_obj_nuid(nuid) != JG_OK || !(i->name = strdup(op->name)) ||
        !(i->bucket = strdup(op->bucket)) || !(i->nuid = strdup(nuid)) ||
        !(i->mtime = strdup(when)) || !(i->link_bucket = strdup(op->target_bucket)) ||
        (op->target_name && !(i->link_name = strdup(op->target_name)))) {
        jg_obj_info_free(i);
        edit_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    i->is_link = true;
    op->info = i;
    jg_obj_meta_write(op->app, op->bucket, i, expect, NULL, on_link_written, op);
}

static void on_link_name(void *ctx, jg_status st, struct jg_obj_info *info,
                         const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    int64_t expect = 0;
    if (st == JG_OK) {
        if (binfo->sealed) {
            jg_obj_info_free(info);
            edit_finish(op, JG_ERR_BUCKET_SEALED, "the bucket is sealed");
            return;
        }
        if (!info->deleted && !info->is_link) {
            jg_obj_info_free(info);
            edit_finish(op, JG_ERR_OBJECT_EXISTS, "an object (not a link) has this name");
            return;
        }
        expect = (int64_t)info->revision;
        jg_obj_info_free(info);
    } else if (st == JG_ERR_OBJECT_NOT_FOUND) {
        if (binfo && binfo->sealed) {
            edit_finish(op, JG_ERR_BUCKET_SEALED, "the bucket is sealed");
            return;
        }
    } else {
        edit_finish(op, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : NULL);
        return;
    }
    link_write(op, expect);
}

static void on_link_target(void *ctx, jg_status st, struct jg_obj_info *info,
                           const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    bool ok = st == JG_OK && !info->deleted && !info->is_link;
    (void)binfo;
    jg_obj_info_free(info);
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        edit_finish(op, JG_ERR_INVALID_PARAMETER, "the link's target bucket does not exist");
        return;
    }
    if (st != JG_OK && st != JG_ERR_OBJECT_NOT_FOUND) {
        edit_finish(op, st, NULL);
        return;
    }
    if (!ok) {
        edit_finish(op, st == JG_OK ? JG_ERR_INVALID_PARAMETER : JG_ERR_OBJECT_NOT_FOUND,
                    st == JG_OK ? "the link's target is deleted or is itself a link"
                                : "the link's target object does not exist");
        return;
    }
    jg_obj_info_get(op->app, op->bucket, op->name, on_link_name, op);
}

static void on_link_target_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct edit_op *op = ctx;
    (void)binfo;
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        edit_finish(op, JG_ERR_INVALID_PARAMETER, "the link's target bucket does not exist");
        return;
    }
    if (st != JG_OK) {
        edit_finish(op, st, NULL);
        return;
    }
    jg_obj_info_get(op->app, op->bucket, op->name, on_link_name, op);
}

void jg_obj_link(struct jg_app *app, const char *bucket, const char *name,
                 const char *target_bucket, const char *target_name, jg_obj_edit_fn fn, void *ctx)
{
    struct edit_op *op = edit_new(app, bucket, name, fn, ctx);
    if (!op)
        return;
    op->target_bucket = strdup(target_bucket);
    if (target_name)
        op->target_name = strdup(target_name);
    if (!op->target_bucket || (target_name && !op->target_name)) {
        edit_finish(op, JG_ERR_NOMEM, NULL);
        return;
    }
    if (op->target_name)
        jg_obj_info_get(app, op->target_bucket, op->target_name, on_link_target, op);
    else
        jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, op->target_bucket, &op->lookup,
                          on_link_target_bucket, op);
}
