/* h_kvm.c - HTTP handlers for KV bucket management under /v1/kvm/buckets. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/calls.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http/authz.h"
#include "http/bucketm.h"
#include "kv/kv.h"
#include "util.h"
#include "watch/watch.h"

/* --- buckets ------------------------------------------------------------ */

static bool check_bucket(struct jg_req *req)
{
    return jg_bucketm_check(req, jg_kv_bucket_valid);
}

void jg_h_kvm_create(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->kv_bucket_write(req->app, req->bucket, req->body.data, req->body.len, false,
                       jg_bucketm_answer, req);
}

void jg_h_kvm_put(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->kv_bucket_write(req->app, req->bucket, req->body.data, req->body.len, true,
                       jg_bucketm_answer, req);
}

void jg_h_kvm_status(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->kv_bucket_status(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_kvm_delete(struct jg_req *req)
{
    if (!check_bucket(req))
        return;
    jg_req_suspend(req);
    jg_h_calls->kv_bucket_delete(req->app, req->bucket, jg_bucketm_answer, req);
}

void jg_h_kvm_list(struct jg_req *req)
{
    jg_req_suspend(req);
    jg_h_calls->kv_bucket_list(req->app, jg_bucketm_listable, jg_bucketm_answer, req);
}

/* --- keys and purge ---------------------------------------------------------- */

static void on_keys(void *ctx, jg_status st, char *json, size_t len)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        free(json);
        jg_req_fail(req, st, "%s", jg_status_title(st));
        return;
    }
    jg_resp_status(&req->resp, 200);
    jg_resp_header(&req->resp, "Content-Type", "application/json");
    jg_resp_body_take(&req->resp, json, len);
    jg_req_done(req);
}

void jg_h_kvm_keys(struct jg_req *req)
{
    char **filters = NULL, **prefixes = NULL;
    if (!check_bucket(req))
        return;
    if (jg_req_query_list(req, "filter", 64, &filters) != JG_OK ||
        jg_req_query_list(req, "prefix", 64, &prefixes) != JG_OK) {
        jg_strv_free(filters);
        jg_strv_free(prefixes);
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad 'filter' or 'prefix' (at most 64 each)");
        return;
    }
    for (size_t i = 0; filters && filters[i]; i++) {
        if (!jg_kv_filter_valid(filters[i])) {
            jg_strv_free(filters);
            jg_strv_free(prefixes);
            jg_req_fail(req, JG_ERR_INVALID_KEY,
                        "a filter is a key pattern: key tokens, '*' tokens and a final '>'");
            return;
        }
    }
    jg_req_suspend(req);
    jg_h_calls->kv_keys(req->app, req->bucket, filters, prefixes, req->scope, on_keys, req);
    jg_strv_free(filters);
    jg_strv_free(prefixes);
}

static void on_purged(void *ctx, jg_status st, const char *detail)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s", detail && *detail ? detail : jg_status_title(st));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", req->bucket);
    cJSON_AddBoolToObject(o, "purged", true);
    jg_resp_json(&req->resp, 200, o);
    jg_req_done(req);
}

void jg_h_kvm_purge(struct jg_req *req)
{
    const char *v;
    int64_t older = 30LL * 60 * 1000000000LL;
    if (!check_bucket(req))
        return;
    if (jg_req_query(req, "olderThan", &v) != JG_OK || (v && jg_duration_parse(v, &older) != JG_OK)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'olderThan' must be a duration such as 30m");
        return;
    }
    jg_req_suspend(req);
    jg_h_calls->kv_purge_deletes(req->app, req->bucket, older, on_purged, req);
}

/* --- entries: many values in one read ----------------------------------------- */

static atomic_int entries_reads; /* open at once (max_entries_reads) */

struct entries_ctx {
    struct jg_req *req;
    struct jg_kv_entries *e;
    bool ndjson;
};

static void entries_ctx_end(struct entries_ctx *c)
{
    jg_kv_entries_close(c->e);
    atomic_fetch_sub(&entries_reads, 1);
    free(c);
}

static long entries_read(void *ctx, char *buf, size_t max)
{
    struct entries_ctx *c = ctx;
    long n = jg_kv_entries_read(c->e, buf, max);
    return n == -1 ? JG_STREAM_END : n == -2 ? JG_STREAM_ERROR : n;
}

static void entries_free(void *ctx)
{
    struct entries_ctx *c = ctx;
    struct jg_req *req = c->req;
    entries_ctx_end(c);
    jg_req_unref(req);
}

static void entries_wake(void *ctx)
{
    struct entries_ctx *c = ctx;
    jg_req_wake(c->req);
}

static void on_entries(void *ctx, jg_status st, uint64_t revision)
{
    struct entries_ctx *c = ctx;
    struct jg_req *req = c->req;
    if (st != JG_OK) {
        entries_ctx_end(c);
        jg_req_unref(req);
        jg_req_fail(req, st, "%s", jg_h_detail(st, JG_H_KV));
        return;
    }
    jg_resp_status(&req->resp, 200);
    jg_resp_header(&req->resp, "Content-Type", "%s",
                   c->ndjson ? "application/x-ndjson" : "application/json");
    jg_resp_header(&req->resp, "X-Nats-Kv-Bucket-Revision", "%llu", (unsigned long long)revision);
    jg_resp_header(&req->resp, "ETag", "\"%llu\"", (unsigned long long)revision);
    jg_resp_header(&req->resp, "Cache-Control", "no-store");
    jg_resp_stream(&req->resp, -1, 64 * 1024, entries_read, entries_free, c);
    jg_req_done(req);
}

/* The selector of /entries: filter and prefix, or key; each checked. */
struct selector {
    char **filters, **prefixes, **keys;
};

static void selector_free(struct selector *s)
{
    jg_strv_free(s->filters);
    jg_strv_free(s->prefixes);
    jg_strv_free(s->keys);
}

/* Parses and checks the selector; answers the request and returns false
 * when it is refused.  with_keys: key= is allowed.  A prefix or key the
 * token's rules leave wholly out is refused before anything is read. */
static bool selector_parse(struct jg_req *req, struct selector *s, bool with_keys)
{
    size_t max_keys = (size_t)__atomic_load_n(&req->app->cfg.max_entries_keys, __ATOMIC_RELAXED);
    if (jg_req_query_list(req, "filter", 64, &s->filters) != JG_OK ||
        jg_req_query_list(req, "prefix", 64, &s->prefixes) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad 'filter' or 'prefix' (at most 64 each)");
        return false;
    }
    if (with_keys && jg_req_query_list(req, "key", max_keys, &s->keys) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "bad 'key' (at most %zu, max_entries_keys)",
                    max_keys);
        return false;
    }
    if (s->keys && (s->filters || s->prefixes)) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'key' goes with neither 'filter' nor 'prefix'");
        return false;
    }
    for (size_t i = 0; s->filters && s->filters[i]; i++) {
        if (!jg_kv_filter_valid(s->filters[i])) {
            jg_req_fail(req, JG_ERR_INVALID_KEY,
                        "a filter is a key pattern: key tokens, '*' tokens and a final '>'");
            return false;
        }
    }
    for (size_t i = 0; s->keys && s->keys[i]; i++) {
        if (!jg_kv_key_valid(s->keys[i])) {
            jg_req_fail(req, JG_ERR_INVALID_KEY, "'%s' is not a valid key", s->keys[i]);
            return false;
        }
        if (!jg_auth_scope_allows(req->scope, s->keys[i])) {
            jg_req_fail(req, JG_ERR_FORBIDDEN, "the token may not do this on the key '%s'",
                        s->keys[i]);
            return false;
        }
    }
    for (size_t i = 0; s->prefixes && s->prefixes[i]; i++) {
        if (!jg_authz_prefix_reachable(req->scope, s->prefixes[i])) {
            jg_req_fail(req, JG_ERR_FORBIDDEN, "the token may not do this under the prefix '%s'",
                        s->prefixes[i]);
            return false;
        }
    }
    return true;
}

/* Starts the bulk read of a suspended request; answers on failure. */
static void entries_begin(struct jg_req *req, const struct selector *s, bool deleted)
{
    const char *accept = jg_req_header(req, "Accept");
    int64_t max = __atomic_load_n(&req->app->cfg.max_entries_reads, __ATOMIC_RELAXED);
    if (atomic_fetch_add(&entries_reads, 1) >= max) {
        atomic_fetch_sub(&entries_reads, 1);
        jg_req_fail(req, JG_ERR_TOO_MANY_REQUESTS,
                    "too many bulk reads at once (max_entries_reads)");
        return;
    }
    struct entries_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        atomic_fetch_sub(&entries_reads, 1);
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    c->req = req;
    c->ndjson = accept && strstr(accept, "application/x-ndjson");
    struct jg_kv_entries_query q = {
        .filters = s->filters,
        .prefixes = s->prefixes,
        .keys = s->keys ? s->keys : NULL,
        .scope = req->scope,
        .deleted = deleted,
        .ndjson = c->ndjson,
        .max_ms = __atomic_load_n(&req->app->cfg.entries_timeout_ms, __ATOMIC_RELAXED),
    };
    jg_req_ref(req);
    jg_status st = jg_kv_entries_open(req->app, req->bucket, &q, on_entries, entries_wake, c, &c->e);
    if (st != JG_OK) {
        atomic_fetch_sub(&entries_reads, 1);
        free(c);
        jg_req_unref(req);
        jg_req_fail(req, st, "%s", jg_status_title(st));
    }
}

/* --- entries held until a change after a revision (?wait=) -------------------
 *
 * The hold resumes after the client's revision R: a change of a selected key
 * after R (also one made before the hold was set up, from the shared feed's
 * ring or a short catch-up) wakes it, and the entries are read then.  An R
 * the bucket no longer holds (or never had) counts as a change. */

struct entries_held {
    struct selector s;
    bool deleted;
    uint64_t rev;
    struct jg_watch *hold;
};

static void entries_held_end(struct jg_req *req)
{
    struct entries_held *eh = req->h.kvm_entries.held;
    jg_watch_close(eh->hold);
    jg_req_unhold(req);
    selector_free(&eh->s);
    free(eh);
    req->h.kvm_entries.held = NULL;
}

static void entries_not_modified(struct jg_req *req)
{
    uint64_t rev = req->h.kvm_entries.held->rev;
    entries_held_end(req);
    jg_resp_status(&req->resp, 304);
    jg_resp_header(&req->resp, "ETag", "\"%llu\"", (unsigned long long)rev);
    jg_resp_header(&req->resp, "X-Nats-Kv-Bucket-Revision", "%llu", (unsigned long long)rev);
    jg_req_done(req);
}

static void on_entries_hold(void *ctx, unsigned why)
{
    struct jg_req *req = ctx;
    struct entries_held *eh = req->h.kvm_entries.held;
    if (why & JG_HOLD_GONE) {
        entries_held_end(req);
        jg_req_fail(req, JG_ERR_BUCKET_NOT_FOUND, "%s", jg_h_detail(JG_ERR_BUCKET_NOT_FOUND, JG_H_KV));
    } else if (why & JG_HOLD_CHANGED) {
        struct selector s = eh->s;
        bool deleted = eh->deleted;
        eh->s = (struct selector){0};
        entries_held_end(req);
        entries_begin(req, &s, deleted);
        selector_free(&s);
    } else if (why & JG_HOLD_TIMEOUT) {
        entries_not_modified(req);
    }
}

static void on_entries_hold_ready(void *ctx, jg_status st)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        entries_held_end(req);
        jg_req_fail(req, st, "%s", jg_h_detail(st, JG_H_KV));
    }
}

static void on_entries_gone(struct jg_req *req)
{
    entries_not_modified(req); /* nobody reads it */
}

/* Holds the request (taking the selector); answers on failure. */
static void entries_hold(struct jg_req *req, struct selector *s, bool deleted, uint64_t rev,
                         int64_t wait_ms)
{
    struct entries_held *eh = calloc(1, sizeof(*eh));
    if (!eh) {
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    eh->s = *s;
    *s = (struct selector){0};
    eh->deleted = deleted;
    eh->rev = rev;
    req->h.kvm_entries.held = eh;
    struct jg_watch_params p = {
        .kind = JG_WATCH_KV,
        .bucket = req->bucket,
        .filters = eh->s.keys ? eh->s.keys : eh->s.filters,
        .prefixes = eh->s.keys ? NULL : eh->s.prefixes,
        .scope = req->scope,
        .has_resume = true,
        .resume = rev,
    };
    jg_req_suspend(req);
    jg_req_hold(req, on_entries_gone);
    jg_status st = jg_watch_hold(req->app->watch, &p, jg_now_ms() + wait_ms, on_entries_hold,
                                 on_entries_hold_ready, req, &eh->hold);
    if (st != JG_OK) {
        eh->hold = NULL;
        entries_held_end(req);
        jg_req_fail(req, st, "%s",
                    st == JG_ERR_TOO_MANY_REQUESTS ? "too many blocking reads held (max_held_reads)"
                                                    : jg_status_title(st));
    }
}

void jg_h_kvm_entries(struct jg_req *req)
{
    struct selector s = {0};
    bool deleted = false;
    int64_t wait_ms = 0;
    if (!check_bucket(req))
        return;
    if (!selector_parse(req, &s, true))
        goto out;
    if (jg_req_query_bool(req, "deleted", &deleted) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'deleted' must be true or false");
        goto out;
    }
    if (jg_h_wait_param(req, &wait_ms) != JG_OK)
        goto out;
    const char *inm = jg_req_header(req, "If-None-Match");
    if (wait_ms > 0 && inm) {
        uint64_t rev;
        if (!jg_h_one_etag(inm, &rev)) {
            jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                        "a blocking read needs If-None-Match with one bucket revision: \"R\"");
            goto out;
        }
        entries_hold(req, &s, deleted, rev, wait_ms);
        goto out;
    }
    jg_req_suspend(req);
    entries_begin(req, &s, deleted);
out:
    selector_free(&s);
}

static void on_marked(void *ctx, jg_status st, size_t done, uint64_t revision, const char *detail)
{
    struct jg_req *req = ctx;
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s", detail && *detail ? detail : jg_h_detail(st, JG_H_KV));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "deleted", (double)done);
    cJSON_AddNumberToObject(o, "revision", (double)revision);
    jg_resp_json(&req->resp, 200, o);
    jg_req_done(req);
}

void jg_h_kvm_entries_delete(struct jg_req *req)
{
    struct selector s = {0};
    bool purge = false, all = false;
    const char *key;
    if (!check_bucket(req))
        return;
    if (jg_req_query(req, "key", &key) != JG_OK || key) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "select the keys with 'filter' or 'prefix' (delete one key at its own path)");
        return;
    }
    if (!selector_parse(req, &s, false))
        goto out;
    if (jg_req_query_bool(req, "purge", &purge) != JG_OK ||
        jg_req_query_bool(req, "all", &all) != JG_OK) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER, "'purge' and 'all' must be true or false");
        goto out;
    }
    if (!s.filters && !s.prefixes && !all) {
        jg_req_fail(req, JG_ERR_INVALID_PARAMETER,
                    "give 'filter' or 'prefix', or 'all=true' for every key");
        goto out;
    }
    jg_req_suspend(req);
    jg_kv_mark_selected(req->app, req->bucket, s.filters, s.prefixes, req->scope, purge, on_marked,
                        req);
out:
    selector_free(&s);
}
