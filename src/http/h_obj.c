/* h_obj.c - HTTP handlers for objects: /v1/obj/{bucket}/{name} and its
 * alias /v1/objm/buckets/{bucket}/keys/{name}: streaming upload (PUT),
 * streaming download with Range and conditional requests (GET, HEAD),
 * DELETE and PATCH.  The NATS side lives in src/obj/. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/calls.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/authz.h"
#include "http/pct.h"
#include "log.h"
#include "obj/obj.h"

#define MAX_LINK_HOPS 4
#define META_PREFIX "X-Nats-Obj-Meta-"
/* a download's response block: two 128 KiB chunks per write to the socket */
#define GET_BLOCK (256 * 1024)

static bool check_names(struct jg_req *req)
{
    if (!jg_obj_bucket_valid(req->bucket)) {
        jg_req_fail(req, JG_ERR_INVALID_BUCKET, "bucket names are [A-Za-z0-9_-]+");
        return false;
    }
    if (!jg_obj_name_valid(req->key)) {
        jg_req_fail(req, JG_ERR_INVALID_NAME,
                    "object names are non-empty UTF-8 of at most %d bytes", JG_OBJ_MAX_NAME);
        return false;
    }
    return true;
}

static const char *detail_for(jg_status st)
{
    return jg_h_detail(st, JG_H_OBJ);
}

/* --- GET / HEAD ------------------------------------------------------------ */

struct get_ctx {
    struct jg_req *req;
    bool head, meta_only;
    char *range, *if_range, *inm;
    int hops;
    struct jg_obj_reader *reader;
};

static void get_ctx_free(struct get_ctx *g)
{
    free(g->range);
    free(g->if_range);
    free(g->inm);
    free(g);
}

static void object_headers(struct jg_req *req, const struct jg_obj_info *i)
{
    struct jg_resp *resp = &req->resp;
    char when[40], http[32];
    uint8_t sha[32];
    char *v;
    const char *ct = jg_obj_info_header(i, "Content-Type");
    jg_resp_header(resp, "Content-Type", "%s", ct ? ct : "application/octet-stream");
    if (i->digest) {
        jg_resp_header(resp, "ETag", "\"%s\"", i->digest);
        if (jg_obj_digest_parse(i->digest, sha) == JG_OK) {
            char *b = jg_base64_encode(sha, 32, false);
            if (b)
                jg_resp_header(resp, "Repr-Digest", "sha-256=:%s:", b);
            free(b);
        }
    }
    if (i->stored_ns > 0) {
        jg_time_http(i->stored_ns, http);
        jg_resp_header(resp, "Last-Modified", "%s", http);
        jg_time_rfc3339(i->stored_ns, when);
    } else {
        snprintf(when, sizeof(when), "%s", i->mtime ? i->mtime : "");
    }
    jg_resp_header(resp, "Accept-Ranges", "bytes");
    v = jg_pct_encode_header(i->name, strlen(i->name));
    jg_resp_header(resp, "X-Nats-Obj-Name", "%s", v ? v : "");
    free(v);
    jg_resp_header(resp, "X-Nats-Obj-Bucket", "%s", i->bucket ? i->bucket : "");
    jg_resp_header(resp, "X-Nats-Obj-Nuid", "%s", i->nuid ? i->nuid : "");
    jg_resp_header(resp, "X-Nats-Obj-Size", "%llu", (unsigned long long)i->size);
    jg_resp_header(resp, "X-Nats-Obj-Mod-Time", "%s", when);
    jg_resp_header(resp, "X-Nats-Obj-Chunks", "%llu", (unsigned long long)i->chunks);
    jg_resp_header(resp, "X-Nats-Obj-Digest", "%s", i->digest ? i->digest : "");
    if (i->description) {
        v = jg_pct_encode_header(i->description, strlen(i->description));
        jg_resp_header(resp, "X-Nats-Obj-Description", "%s", v ? v : "");
        free(v);
    }
    if (i->max_chunk_size)
        jg_resp_header(resp, "X-Nats-Obj-Max-Chunk-Size", "%u", i->max_chunk_size);
    if (!i->headers)
        return;
    /* one header line per stored value, in stored order (a header of the Go
     * and JavaScript clients is a list of values) */
    for (const cJSON *h = i->headers->child; h; h = h->next) {
        if (!h->string || strcasecmp(h->string, "Content-Type") == 0)
            continue;
        const cJSON *first = cJSON_IsArray(h) ? h->child : h;
        char *name = NULL;
        for (const cJSON *e = first; e; e = cJSON_IsArray(h) ? e->next : NULL) {
            if (!cJSON_IsString(e))
                continue;
            if (!name) {
                if (asprintf(&name, META_PREFIX "%s", h->string) < 0)
                    break;
                /* response header names must outlive the response */
                if (jg_req_keep(req, name) != JG_OK)
                    break;
            }
            v = jg_pct_encode_header(e->valuestring, strlen(e->valuestring));
            jg_resp_header(resp, name, "%s", v ? v : "");
            free(v);
        }
    }
}

static long head_read(void *ctx, char *buf, size_t max)
{
    return JG_STREAM_END;
}

static long get_read(void *ctx, char *buf, size_t max)
{
    struct get_ctx *g = ctx;
    long n = jg_h_calls->obj_reader_read(g->reader, buf, max);
    if (n == -1)
        return JG_STREAM_END;
    if (n == -2) {
        jg_warn("obj: download of '%s' in '%s' cut short: %s", g->req->key, g->req->bucket,
                jg_h_calls->obj_reader_error(g->reader));
        return JG_STREAM_ERROR;
    }
    return n;
}

static void get_free(void *ctx)
{
    struct get_ctx *g = ctx;
    jg_h_calls->obj_reader_free(g->reader); /* get_release follows */
}

static void get_wake(void *ctx)
{
    struct get_ctx *g = ctx;
    jg_req_wake(g->req);
}

static void get_release(void *ctx)
{
    struct get_ctx *g = ctx;
    struct jg_req *req = g->req;
    get_ctx_free(g);
    jg_req_unref(req);
}

static void on_get_info(void *ctx, jg_status st, struct jg_obj_info *info,
                        const struct jg_bucket_info *binfo);

/* The request is answered: info and g go. */
static void get_answered(struct get_ctx *g, struct jg_obj_info *info)
{
    struct jg_req *req = g->req;
    jg_obj_info_free(info);
    get_ctx_free(g);
    jg_req_done(req);
}

/* info is a link: the lookup goes on at its target, or the request is
 * answered (a link to a bucket, a target the token may not read, too many
 * hops). */
static void follow_link(struct get_ctx *g, struct jg_obj_info *info)
{
    struct jg_req *req = g->req;
    if (!info->link_name) {
        jg_resp_problem(&req->resp, JG_ERR_BUCKET_LINK, 0, "'%s' is a link to the bucket '%s'",
                        info->name, info->link_bucket);
    } else if (!jg_authz_link_hop(req->token, info->link_bucket, info->link_name)) {
        /* asked before the target is looked up: the answer does not tell
         * whether it exists */
        jg_resp_problem(&req->resp, JG_ERR_FORBIDDEN, 0,
                        "the token may not read the link's target");
    } else if (++g->hops > MAX_LINK_HOPS || !jg_obj_bucket_valid(info->link_bucket)) {
        jg_resp_problem(&req->resp, JG_ERR_OBJECT_NOT_FOUND, 0, "link '%s' leads nowhere",
                        info->name);
    } else {
        jg_h_calls->obj_info_get(req->app, info->link_bucket, info->link_name, on_get_info, g);
        jg_obj_info_free(info);
        return;
    }
    get_answered(g, info);
}

/* The body of a GET (len bytes from start), or a HEAD's headers for it. */
static void send_body(struct get_ctx *g, struct jg_obj_info *info,
                      const struct jg_bucket_info *binfo, uint64_t start, uint64_t len)
{
    struct jg_req *req = g->req;
    if (g->meta_only || len == 0)
        return get_answered(g, info);
    if (g->head) {
        /* HEAD: the server sends the headers of a body of this size */
        jg_resp_stream(&req->resp, (int64_t)len, 0, head_read, NULL, NULL);
        return get_answered(g, info);
    }
    jg_req_ref(req);
    jg_status st = jg_h_calls->obj_reader_new(req->app, binfo, info, start, len, get_wake,
                                              get_release, g, &g->reader);
    jg_obj_info_free(info);
    if (st != JG_OK) {
        jg_req_unref(req);
        get_ctx_free(g);
        jg_req_fail(req, st, "cannot read the object");
        return;
    }
    jg_resp_stream(&req->resp, (int64_t)len, GET_BLOCK, get_read, get_free, g);
    jg_req_done(req);
}

static void on_get_info(void *ctx, jg_status st, struct jg_obj_info *info,
                        const struct jg_bucket_info *binfo)
{
    struct get_ctx *g = ctx;
    struct jg_req *req = g->req;
    struct jg_resp *resp = &req->resp;
    uint64_t start = 0, end = 0;

    if (st == JG_OK && info->deleted)
        st = JG_ERR_OBJECT_NOT_FOUND;
    if (st != JG_OK) {
        jg_resp_problem(resp, st, 0, "%s", detail_for(st));
        return get_answered(g, info);
    }
    if (info->is_link)
        return follow_link(g, info);
    if (g->inm && jg_obj_etag_list_matches(g->inm, info->digest, true)) {
        jg_resp_status(resp, 304);
        if (info->digest)
            jg_resp_header(resp, "ETag", "\"%s\"", info->digest);
        return get_answered(g, info);
    }
    enum jg_obj_range_kind rk = JG_RANGE_NONE;
    if (g->range && !g->meta_only) {
        if (!g->if_range || jg_obj_etag_list_matches(g->if_range, info->digest, true))
            rk = jg_obj_range_parse(g->range, info->size, &start, &end);
    }
    if (rk == JG_RANGE_UNSATISFIABLE) {
        jg_resp_problem(resp, JG_ERR_RANGE_NOT_SATISFIABLE, 0,
                        "the range starts at or past the end of the object (%llu bytes)",
                        (unsigned long long)info->size);
        jg_resp_header(resp, "Content-Range", "bytes */%llu", (unsigned long long)info->size);
        return get_answered(g, info);
    }
    object_headers(req, info);
    uint64_t len = info->size;
    jg_resp_status(resp, 200);
    if (rk == JG_RANGE_OK) {
        len = end - start + 1;
        jg_resp_status(resp, 206);
        jg_resp_header(resp, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)start,
                       (unsigned long long)end, (unsigned long long)info->size);
    }
    send_body(g, info, binfo, start, len);
}

static char *dup_header(struct jg_req *req, const char *name)
{
    const char *v = jg_req_header(req, name);
    return v ? strdup(v) : NULL;
}

void jg_h_obj_get(struct jg_req *req)
{
    bool meta_only = false;
    if (!check_names(req))
        return;
    if (jg_req_query_bool(req, "metaOnly", &meta_only) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'metaOnly' must be true or false");
        return;
    }
    struct get_ctx *g = calloc(1, sizeof(*g));
    if (!g) {
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    g->req = req;
    g->head = req->method == JG_HEAD;
    g->meta_only = meta_only;
    g->range = dup_header(req, "Range");
    g->if_range = dup_header(req, "If-Range");
    g->inm = dup_header(req, "If-None-Match");
    jg_req_suspend(req);
    jg_h_calls->obj_info_get(req->app, req->bucket, req->key, on_get_info, g);
}

/* --- PUT (streaming upload) ---------------------------------------------------- *
 * The upload is paused (on_body takes less than offered) while the put
 * session's window of unacknowledged chunks is full.  Its events arrive on
 * the loop thread, as the body's pieces do; a wake that comes before the
 * server marked the upload paused (on_body has not returned yet) is
 * remembered by jg_req_resume_upload(). */

struct jg_h_obj_put {
    struct jg_req *req;
    struct jg_obj_put *put;
    bool ended;              /* on_end ran: the request is suspended */
    bool closed;             /* the client left */
};

static void put_free(struct jg_h_obj_put *c)
{
    struct jg_req *req = c->req;
    free(c);
    jg_req_unref(req);
}

static size_t put_on_body(struct jg_req *req, const char *data, size_t len)
{
    struct jg_h_obj_put *c = req->h.obj_put;
    /* c may be freed within the write (done delivered at once) */
    return jg_h_calls->obj_put_write(c->put, data, len);
}

static void put_on_end(struct jg_req *req)
{
    struct jg_h_obj_put *c = req->h.obj_put;
    c->ended = true;
    jg_req_suspend(req);
    jg_h_calls->obj_put_end(c->put);
}

static void put_on_close(struct jg_req *req)
{
    struct jg_h_obj_put *c = req->h.obj_put;
    req->on_close = NULL;
    c->closed = true;
    jg_h_calls->obj_put_abort(c->put);
}

static void put_wake(void *ctx)
{
    struct jg_h_obj_put *c = ctx;
    jg_req_resume_upload(c->req); /* remembered if the pause is not in place yet */
}

static void put_done(void *ctx, jg_status st, const char *detail, const struct jg_obj_info *info)
{
    struct jg_h_obj_put *c = ctx;
    struct jg_req *req = c->req;
    if (c->closed) {
        if (st != JG_OK)
            jg_debug("obj: upload of '%s' in '%s' abandoned: %s", req->key, req->bucket, detail);
        put_free(c);
        return;
    }
    req->on_close = NULL;
    req->h.obj_put = NULL;
    if (st == JG_OK) {
        jg_resp_json(&req->resp, 201, jg_obj_info_api_json(info));
        if (info->digest)
            jg_resp_header(&req->resp, "ETag", "\"%s\"", info->digest);
    } else {
        if (st == JG_ERR_DIGEST_MISMATCH || st == JG_ERR_INSUFFICIENT_STORAGE)
            jg_info("obj: upload of '%s' in '%s' refused: %s", req->key, req->bucket, detail);
        jg_resp_problem(&req->resp, st, 0, "%s", *detail ? detail : detail_for(st));
    }
    free(c);
    jg_req_done(req);
    jg_req_unref(req); /* the put's reference */
}

struct meta_hdrs {
    cJSON *headers;
    jg_status st;
};

static bool collect_meta(void *ctx, const char *name, const char *value)
{
    struct meta_hdrs *m = ctx;
    size_t pl = strlen(META_PREFIX);
    if (strncasecmp(name, META_PREFIX, pl) != 0 || !name[pl])
        return true;
    char *n = strdup(name + pl), *v = NULL;
    if (!n || jg_pct_decode(value, strlen(value), &v) != JG_OK) {
        free(n);
        m->st = JG_ERR_INVALID_PARAMETER;
        return false;
    }
    jg_obj_canonical_header(n);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(m->headers, n);
    if (!arr)
        arr = cJSON_AddArrayToObject(m->headers, n);
    cJSON_AddItemToArray(arr, cJSON_CreateString(v));
    free(n);
    free(v);
    return true;
}

/* The upload's options from the query and headers into o (*ret_desc: the
 * decoded description, the caller frees it).  Answers and returns false
 * when one is bad. */
static bool put_options(struct jg_req *req, struct jg_obj_put_opts *o, char **ret_desc)
{
    const char *v;
    uint64_t u;
    bool found = false;

    o->bucket = req->bucket;
    o->name = req->key;
    o->declared_size = -1;
    if (jg_req_query(req, "chunkSize", &v) != JG_OK ||
        (v && (jg_u64_parse(v, &u) != JG_OK || u == 0 || u > UINT32_MAX))) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'chunkSize' must be a positive integer");
        return false;
    }
    o->chunk_size = v ? u : 0;
    v = jg_req_header(req, "Content-Length");
    if (v && jg_u64_parse(v, &u) == JG_OK)
        o->declared_size = (int64_t)u;
    if (jg_obj_content_digest_parse(jg_req_header(req, "Content-Digest"), &found, o->digest) !=
        JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "Content-Digest must hold sha-256=:<base64 of 32 bytes>:");
        return false;
    }
    o->has_digest = found;
    v = jg_req_header(req, "If-None-Match");
    if (v) {
        while (*v == ' ')
            v++;
        if (strcmp(v, "*") != 0) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "only If-None-Match: * is supported on PUT");
            return false;
        }
        o->cond = JG_OBJ_COND_ABSENT;
    }
    v = jg_req_header(req, "If-Match");
    if (v) {
        if (o->cond != JG_OBJ_COND_NONE) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "If-Match and If-None-Match together");
            return false;
        }
        o->cond = JG_OBJ_COND_DIGEST;
        o->if_match = v;
    }
    v = jg_req_header(req, "X-Nats-Obj-Description");
    if (v && jg_pct_decode(v, strlen(v), ret_desc) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad percent-encoding in X-Nats-Obj-Description");
        return false;
    }
    o->description = *ret_desc;
    o->msg_id = jg_req_header(req, "Idempotency-Key");
    return true;
}

/* The stored headers: Content-Type and every X-Nats-Obj-Meta-* header.
 * NULL with the status in *ret_st when one is bad or memory is short. */
static cJSON *put_headers(struct jg_req *req, jg_status *ret_st)
{
    struct meta_hdrs m = {cJSON_CreateObject(), JG_OK};
    const char *v = jg_req_header(req, "Content-Type");
    if (m.headers && v) {
        cJSON *arr = cJSON_AddArrayToObject(m.headers, "Content-Type");
        cJSON_AddItemToArray(arr, cJSON_CreateString(v));
    }
    if (m.headers)
        jg_req_header_each(req, collect_meta, &m);
    if (!m.headers || m.st != JG_OK) {
        cJSON_Delete(m.headers);
        *ret_st = m.st ? m.st : JG_ERR_NOMEM;
        return NULL;
    }
    return m.headers;
}

void jg_h_obj_put(struct jg_req *req)
{
    static const struct jg_obj_put_events ev = {put_wake, put_done};
    struct jg_obj_put_opts o = {0};
    struct jg_h_obj_put *c = NULL;
    char *desc = NULL;
    jg_status st = JG_OK;

    if (!check_names(req) || !put_options(req, &o, &desc)) {
        free(desc);
        return;
    }
    o.headers = put_headers(req, &st);
    if (!o.headers) {
        free(desc);
        jg_req_fail(req, st, "bad X-Nats-Obj-Meta-* header");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c) {
        c->req = req;
        jg_h_calls->obj_put_begin(req->app, &o, &ev, c, &c->put);
    } else {
        cJSON_Delete(o.headers);
    }
    free(desc);
    if (!c || !c->put) {
        free(c);
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    jg_req_ref(req);
    req->h.obj_put = c;
    req->on_close = put_on_close;
    /* the body flows at once; the session holds it back until its checks
     * (bucket, current version, preconditions) are done */
    jg_req_read_body(req, put_on_body, put_on_end);
}

/* --- DELETE --------------------------------------------------------------------- */

/* The answer of DELETE and PATCH: 200 with the ObjectInfo written, or the
 * problem for st (detail NULL: the default one). */
static void respond_info(struct jg_req *req, jg_status st, const struct jg_obj_info *info,
                         const char *detail)
{
    if (st == JG_OK)
        jg_resp_json(&req->resp, 200, jg_obj_info_api_json(info));
    else
        jg_resp_problem(&req->resp, st, 0, "%s", detail ? detail : detail_for(st));
}

/* The end of DELETE and PATCH. */
static void on_edited(void *ctx, jg_status st, const struct jg_obj_info *info, const char *detail)
{
    struct jg_req *req = ctx;
    respond_info(req, st, info, detail);
    jg_req_done(req);
}

void jg_h_obj_delete(struct jg_req *req)
{
    if (!check_names(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->obj_delete(req->app, req->bucket, req->key, on_edited, req);
}

/* --- PATCH: JSON merge of name, description, headers, metadata ---------------------- */

void jg_h_obj_patch(struct jg_req *req)
{
    if (!check_names(req))
        return;
    cJSON *patch = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    if (!cJSON_IsObject(patch)) {
        cJSON_Delete(patch);
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "the body must be a JSON object with name, description, headers or metadata");
        return;
    }
    jg_req_suspend(req);
    jg_h_calls->obj_patch(req->app, req->bucket, req->key, patch, on_edited, req);
    cJSON_Delete(patch);
}
