/* h_kv.c - HTTP handlers for keys: /v1/kv/{bucket}/{key} and its alias
 * /v1/kvm/buckets/{bucket}/keys/{key}. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "kv/kv.h"
#include "util.h"
#include "watch/watch.h"

/* Releases the entry a response body points into. */
static void entry_release(void *e)
{
    jg_kv_entry_free(e);
}

/* Validates {bucket} and {key}; answers and returns false when bad. */
static bool check_names(struct jg_req *req)
{
    if (!jg_kv_bucket_valid(req->bucket)) {
        jg_req_fail(req, JG_ERR_INVALID_BUCKET, "bucket names are [A-Za-z0-9_-]+");
        return false;
    }
    if (!jg_kv_key_valid(req->key)) {
        jg_req_fail(req, JG_ERR_INVALID_KEY,
                    "keys are [-/_=.A-Za-z0-9]+, not starting or ending with '.', "
                    "without '..', not starting with '_kv'");
        return false;
    }
    return true;
}

static jg_status query_u64(struct jg_req *req, const char *name, bool *present, uint64_t *ret)
{
    const char *v;
    jg_status st = jg_req_query(req, name, &v);
    *present = false;
    if (st != JG_OK || !v)
        return st;
    *present = true;
    return jg_u64_parse(v, ret) == JG_OK ? JG_OK : JG_ERR_INVALID_PARAMETER;
}

static void entry_headers(struct jg_resp *resp, const struct jg_kv_entry *e)
{
    char when[40], http[32];
    jg_time_rfc3339(e->created_ns, when);
    jg_time_http(e->created_ns, http);
    char *key = jg_pct_encode_header(e->key, strlen(e->key));
    jg_resp_header(resp, "X-Nats-Kv-Bucket", "%s", e->bucket);
    jg_resp_header(resp, "X-Nats-Kv-Key", "%s", key ? key : "");
    free(key);
    jg_resp_header(resp, "X-Nats-Kv-Created", "%s", when);
    jg_resp_header(resp, "X-Nats-Kv-Revision", "%llu", (unsigned long long)e->revision);
    jg_resp_header(resp, "X-Nats-Kv-Delta", "%llu", (unsigned long long)e->delta);
    jg_resp_header(resp, "X-Nats-Kv-Operation", "%s", jg_kv_op_name(e->op));
    jg_resp_header(resp, "ETag", "\"%llu\"", (unsigned long long)e->revision);
    jg_resp_header(resp, "Last-Modified", "%s", http);
}

static void fail_with(struct jg_req *req, jg_status st)
{
    jg_req_fail(req, st, "%s", jg_h_detail(st, JG_H_KV));
}

/* --- GET / HEAD ---------------------------------------------------------- */

static void on_get(void *ctx, jg_status st, struct jg_kv_entry *e)
{
    struct jg_req *req = ctx;
    struct jg_resp *resp = &req->resp;

    if (st == JG_ERR_KEY_NOT_FOUND && e) {
        jg_resp_problem(resp, st, 0, "key was %s at revision %llu",
                        e->op == JG_KV_PURGE ? "purged" : "deleted",
                        (unsigned long long)e->revision);
        jg_resp_header(resp, "X-Nats-Kv-Operation", "%s", jg_kv_op_name(e->op));
        jg_resp_header(resp, "X-Nats-Kv-Revision", "%llu", (unsigned long long)e->revision);
        jg_kv_entry_free(e);
        jg_req_done(req);
        return;
    }
    if (st != JG_OK) {
        jg_kv_entry_free(e);
        fail_with(req, st);
        return;
    }
    if (req->h.kv_read.if_none_match &&
        jg_kv_etag_list_match(req->h.kv_read.if_none_match, e->revision)) {
        jg_resp_status(resp, 304);
        jg_resp_header(resp, "ETag", "\"%llu\"", (unsigned long long)e->revision);
        jg_kv_entry_free(e);
        jg_req_done(req);
        return;
    }
    entry_headers(resp, e);
    if (req->h.kv_read.json) {
        jg_resp_json(resp, 200, jg_kv_entry_json(e));
        jg_kv_entry_free(e);
    } else {
        jg_resp_status(resp, 200);
        jg_resp_header(resp, "Content-Type", "%s",
                       e->content_type ? e->content_type : "application/octet-stream");
        jg_resp_body_ref(resp, e->value, e->value_len, entry_release, e); /* zero copy */
    }
    jg_req_done(req);
}

static void on_history(void *ctx, jg_status st, struct jg_kv_entry **entries, size_t count)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        fail_with(req, st);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < count; i++) {
        if (arr)
            cJSON_AddItemToArray(arr, jg_kv_entry_json(entries[i]));
        jg_kv_entry_free(entries[i]);
    }
    free(entries);
    jg_resp_json(&req->resp, 200, arr);
    jg_req_done(req);
}

/* --- blocking reads (?wait= with If-None-Match) --------------------------
 *
 * The hold is set up first (every change after that point is told), then
 * the key is read: a revision other than the client's answers at once,
 * else the request stays suspended until the engine tells of a change of
 * the key (read again), the end of the wait (304) or the end of the bucket
 * (404).  A change told while a read is in flight reads once more. */

static void held_read(struct jg_req *req);

jg_status jg_h_wait_param(struct jg_req *req, int64_t *ret_ms)
{
    const char *v;
    uint64_t bare;
    int64_t ns;
    *ret_ms = 0;
    jg_status st = jg_req_query(req, "wait", &v);
    if (st == JG_OK && !v)
        return JG_OK;
    /* digits and units only (strtod would take "1e3" too) */
    if (st != JG_OK || v[strspn(v, "0123456789.nsuhm\xc2\xb5")] != '\0' ||
        jg_u64_parse(v, &bare) == JG_OK || jg_duration_parse(v, &ns) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "'wait' is a duration with a unit (500ms, 30s, 5m)");
        return JG_ERR_INVALID_PARAMETER;
    }
    int64_t max = __atomic_load_n(&req->app->cfg.max_wait_ms, __ATOMIC_RELAXED);
    if (ns / 1000000 > max) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'wait' is at most %lld ms (max_wait)",
                    (long long)max);
        return JG_ERR_INVALID_PARAMETER;
    }
    *ret_ms = ns / 1000000 + (ns % 1000000 ? 1 : 0);
    return JG_OK;
}

/* Ends the hold: nothing more is told (loop thread). */
static void held_end(struct jg_req *req)
{
    jg_watch_close(req->h.kv_read.hold);
    req->h.kv_read.hold = NULL;
    jg_req_unhold(req);
}

static void held_not_modified(struct jg_req *req)
{
    held_end(req);
    jg_resp_status(&req->resp, 304);
    jg_resp_header(&req->resp, "ETag", "\"%llu\"", (unsigned long long)req->h.kv_read.rev);
    jg_req_done(req);
}

static void on_held_get(void *ctx, jg_status st, struct jg_kv_entry *e)
{
    struct jg_req *req = ctx;
    req->h.kv_read.reading = false;
    if (req->h.kv_read.gone) {
        jg_kv_entry_free(e);
        held_not_modified(req); /* nobody reads it */
        return;
    }
    bool now = st != JG_OK && st != JG_ERR_KEY_NOT_FOUND; /* an error answers */
    uint64_t rev = e && (st == JG_OK || st == JG_ERR_KEY_NOT_FOUND) ? e->revision : 0;
    if (now || rev != req->h.kv_read.rev) {
        held_end(req);
        req->h.kv_read.if_none_match = NULL;
        on_get(req, st, e);
        return;
    }
    jg_kv_entry_free(e);
    if (jg_watch_hold_seq(req->h.kv_read.hold) > req->h.kv_read.rev &&
        req->h.kv_read.stale_reads < 3) {
        /* the feed told of a newer change than the read shows: read again */
        req->h.kv_read.stale_reads++;
        req->h.kv_read.again = false;
        held_read(req);
    } else if (req->h.kv_read.timed_out) {
        held_not_modified(req);
    } else if (req->h.kv_read.again) {
        req->h.kv_read.again = false;
        held_read(req);
    }
}

static void held_read(struct jg_req *req)
{
    req->h.kv_read.reading = true;
    jg_h_calls->kv_get(req->app, req->bucket, req->key, 0, on_held_get, req);
}

/* What the engine tells (loop thread). */
static void on_hold(void *ctx, unsigned why)
{
    struct jg_req *req = ctx;
    if (why & JG_HOLD_GONE) {
        if (!req->h.kv_read.reading) {
            held_end(req);
            fail_with(req, JG_ERR_BUCKET_NOT_FOUND);
        } else {
            req->h.kv_read.again = true; /* the read in flight answers 404 */
        }
        return;
    }
    if (why & JG_HOLD_CHANGED) {
        if (req->h.kv_read.reading)
            req->h.kv_read.again = true;
        else
            held_read(req);
    }
    if (why & JG_HOLD_TIMEOUT) {
        req->h.kv_read.timed_out = true;
        if (!req->h.kv_read.reading)
            held_not_modified(req);
    }
}

static void on_hold_ready(void *ctx, jg_status st)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        held_end(req);
        fail_with(req, st);
        return;
    }
    held_read(req);
}

/* The client hung up while held (loop thread). */
static void on_held_gone(struct jg_req *req)
{
    req->h.kv_read.gone = true;
    if (!req->h.kv_read.reading)
        held_not_modified(req);
}

bool jg_h_one_etag(const char *v, uint64_t *ret)
{
    size_t n = v ? strlen(v) : 0;
    char digits[24];
    if (n < 3 || n - 2 >= sizeof(digits) || v[0] != '"' || v[n - 1] != '"')
        return false;
    memcpy(digits, v + 1, n - 2);
    digits[n - 2] = '\0';
    if (strcmp(digits, "0") == 0) {
        *ret = 0;
        return true;
    }
    return jg_u64_parse(digits, ret) == JG_OK;
}

/* Starts a blocking read of wait_ms; answers on failure. */
static void held_start(struct jg_req *req, int64_t wait_ms)
{
    char *filters[] = {req->key, NULL};
    struct jg_watch_params p = {.kind = JG_WATCH_KV, .bucket = req->bucket, .filters = filters};
    jg_req_suspend(req);
    jg_req_hold(req, on_held_gone);
    jg_status st = jg_watch_hold(req->app->watch, &p, jg_now_ms() + wait_ms, on_hold,
                                 on_hold_ready, req, &req->h.kv_read.hold);
    if (st != JG_OK) {
        req->h.kv_read.hold = NULL;
        jg_req_unhold(req);
        jg_req_fail(req, st, "%s",
                    st == JG_ERR_TOO_MANY_REQUESTS ? "too many blocking reads held (max_held_reads)"
                                                    : jg_status_title(st));
    }
}

void jg_h_kv_get(struct jg_req *req)
{
    uint64_t rev = 0;
    bool has_rev, history;
    int64_t wait_ms = 0;

    if (!check_names(req))
        return;
    if (query_u64(req, "revision", &has_rev, &rev) != JG_OK || (has_rev && rev == 0)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'revision' must be a positive integer");
        return;
    }
    if (jg_req_query_bool(req, "history", &history) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'history' must be true or false");
        return;
    }
    jg_status wst = jg_h_wait_param(req, &wait_ms);
    if (wst != JG_OK)
        return;
    req->h.kv_read.json = jg_req_wants_json(req);
    req->h.kv_read.if_none_match = jg_req_header(req, "If-None-Match");
    if (wait_ms > 0 && req->h.kv_read.if_none_match) {
        if (history || has_rev) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                        "'wait' is for the current value: not with 'history' or 'revision'");
            return;
        }
        if (!jg_h_one_etag(req->h.kv_read.if_none_match, &req->h.kv_read.rev)) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                        "a blocking read needs If-None-Match with one revision: \"R\"");
            return;
        }
        held_start(req, wait_ms);
        return;
    }
    jg_req_suspend(req);
    if (history)
        jg_h_calls->kv_history(req->app, req->bucket, req->key, on_history, req);
    else
        jg_h_calls->kv_get(req->app, req->bucket, req->key, rev, on_get, req);
}

/* --- writes ---------------------------------------------------------------- */

static void on_written(void *ctx, jg_status st, uint64_t rev)
{
    struct jg_req *req = ctx;
    struct jg_resp *resp = &req->resp;

    if (st == JG_ERR_KEY_EXISTS && req->h.kv_write.expect_new)
        st = JG_ERR_REVISION_MISMATCH;
    if (st == JG_ERR_REVISION_MISMATCH || st == JG_ERR_KEY_EXISTS) {
        jg_resp_problem(resp, st, req->h.kv_write.status_412 ? 412 : 409, "%s",
                        st == JG_ERR_KEY_EXISTS ? "key exists"
                                                : "the key's last revision is not the one given");
        jg_req_done(req);
        return;
    }
    if (st != JG_OK) {
        fail_with(req, st);
        return;
    }
    if (req->method == JG_DELETE) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "revision", (double)rev);
        jg_resp_json(resp, 200, o);
    } else {
        char body[32];
        int n = snprintf(body, sizeof(body), "%llu", (unsigned long long)rev);
        jg_resp_status(resp, 201);
        jg_resp_header(resp, "Content-Type", "application/json");
        jg_resp_body_copy(resp, body, (size_t)n);
        jg_resp_header(resp, "X-Nats-Kv-Sequence", "%llu", (unsigned long long)rev);
        jg_resp_header(resp, "X-Nats-Kv-Revision", "%llu", (unsigned long long)rev);
        jg_resp_header(resp, "ETag", "\"%llu\"", (unsigned long long)rev);
    }
    jg_req_done(req);
}

/* Reads If-Match / If-None-Match / ?previousRevision into w.  Answers and
 * returns false when they are malformed or contradict each other. */
static bool preconditions(struct jg_req *req, struct jg_kv_write *w, bool allow_inm)
{
    const char *im = jg_req_header(req, "If-Match");
    const char *inm = allow_inm ? jg_req_header(req, "If-None-Match") : NULL;
    uint64_t im_rev = 0, prev = 0;
    bool has_prev;

    if (query_u64(req, "previousRevision", &has_prev, &prev) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "'previousRevision' must be a non-negative integer");
        return false;
    }
    if (im && jg_kv_etag_parse(im, &im_rev) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "If-Match must be a quoted revision: \"42\"");
        return false;
    }
    if (im && has_prev && im_rev != prev) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "If-Match and previousRevision name different revisions");
        return false;
    }
    if (inm && strcmp(inm, "*") != 0) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "on writes If-None-Match must be '*'");
        return false;
    }
    if (inm && (im || has_prev)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "If-None-Match: * cannot be combined with a revision precondition");
        return false;
    }
    if (inm) {
        w->expect = JG_KV_EXPECT_CREATE;
        req->h.kv_write.status_412 = true;
    } else if (im) {
        if (im_rev == 0) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "If-Match revision must be positive");
            return false;
        }
        w->expect = JG_KV_EXPECT_REVISION;
        w->revision = im_rev;
        req->h.kv_write.status_412 = true;
    } else if (has_prev && prev == 0) {
        w->expect = JG_KV_EXPECT_CREATE;
        req->h.kv_write.expect_new = true;
    } else if (has_prev) {
        w->expect = JG_KV_EXPECT_REVISION;
        w->revision = prev;
    }
    return true;
}

static void start_write(struct jg_req *req, struct jg_kv_write *w)
{
    w->msg_id = jg_req_header(req, "Idempotency-Key");
    if (w->msg_id && (!*w->msg_id || strlen(w->msg_id) > 256)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "Idempotency-Key must be 1 to 256 characters");
        return;
    }
    jg_req_suspend(req);
    jg_h_calls->kv_write(req->app, req->bucket, req->key, req->body.data ? req->body.data : "",
                req->body.len, w, on_written, req);
}

/* The Content-Type to store with a value: none for the default
 * (application/octet-stream is what a GET reports when none is stored), so
 * such values carry no header at all, as other clients write them. */
static const char *stored_content_type(struct jg_req *req)
{
    const char *ct = jg_req_header(req, "Content-Type");
    if (!ct || !*ct || strcasecmp(ct, "application/octet-stream") == 0)
        return NULL;
    return ct;
}

void jg_h_kv_put(struct jg_req *req)
{
    struct jg_kv_write w = {.op = JG_KV_PUT};
    if (!check_names(req) || !preconditions(req, &w, true))
        return;
    w.content_type = stored_content_type(req);
    start_write(req, &w);
}

void jg_h_kv_create(struct jg_req *req)
{
    struct jg_kv_write w = {.op = JG_KV_PUT, .expect = JG_KV_EXPECT_CREATE};
    if (!check_names(req))
        return;
    w.content_type = stored_content_type(req);
    start_write(req, &w);
}

void jg_h_kv_delete(struct jg_req *req)
{
    struct jg_kv_write w = {.op = JG_KV_DEL};
    bool purge;
    if (!check_names(req) || !preconditions(req, &w, false))
        return;
    if (jg_req_query_bool(req, "purge", &purge) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'purge' must be true or false");
        return;
    }
    if (purge)
        w.op = JG_KV_PURGE;
    req->body.len = 0;
    start_write(req, &w);
}
