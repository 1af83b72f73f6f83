/* h_watch.c - HTTP handlers for watches (Server-Sent Events):
 * GET /v1/kvm/buckets/{b}/watch and GET /v1/objm/buckets/{b}/watch.
 * Parses and checks the query (watch_query.c), takes a watcher place from
 * the engine (which owns every limit), opens the watcher (src/watch/) and
 * streams what it queues.  The events themselves are built by the watch
 * engine.  Everything here runs on the loop thread but sink_wake and
 * sink_release (see struct jg_watch_sink). */
#include "autoconfig.h"
#include "http/handlers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "kv/kv.h"
#include "http/watch_query.h"
#include "watch/watch.h"

#define MAX_FILTERS 64
/* the response buffer of one event stream: events are small, and a larger
 * block costs every held watcher the same memory (a longer event is sent
 * in several blocks) */
#define SSE_BLOCK 4096

/* The client's address as text. */
static void client_addr(struct jg_req *req, char *out, size_t outlen)
{
    const struct sockaddr *sa = jg_req_peer(req);
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

/* --- streaming ------------------------------------------------------------- */

struct hw {
    struct jg_req *req;
    struct jg_watch *w;
};

static void sink_wake(void *ctx)
{
    jg_req_wake(ctx);
}

static void sink_release(void *ctx)
{
    jg_req_unref(ctx);
}

static long stream_read(void *ctx, char *buf, size_t max)
{
    long n = jg_watch_read(ctx, buf, max);
    return n < 0 ? JG_STREAM_END : n;
}

static void stream_free(void *ctx)
{
    jg_watch_close(ctx);
}

static void on_ready(void *ctx, jg_status st)
{
    struct hw *hw = ctx;
    struct jg_req *req = hw->req;
    struct jg_watch *w = hw->w;
    free(hw);
    if (st != JG_OK) {
        jg_watch_close(w);
        switch (st) {
        case JG_ERR_BUCKET_NOT_FOUND:
            jg_req_fail(req, st, "no such bucket");
            break;
        case JG_ERR_NATS_UNAVAILABLE:
            jg_req_fail(req, st, "not connected to NATS; retry later");
            break;
        default:
            jg_req_fail(req, st, "%s", jg_status_title(st));
            break;
        }
        return;
    }
    struct jg_resp *resp = &req->resp;
    jg_resp_status(resp, 200);
    jg_resp_header(resp, "Content-Type", "text/event-stream");
    jg_resp_header(resp, "Cache-Control", "no-cache");
    jg_resp_header(resp, "X-Accel-Buffering", "no");
    jg_resp_stream(resp, -1, SSE_BLOCK, stream_read, stream_free, w);
    jg_req_done(req);
}

/* --- parameters ------------------------------------------------------------- */

static bool bad(struct jg_req *req, jg_status st, const char *detail)
{
    jg_req_fail(req, st, "%s", detail);
    return false;
}

/* Reads the query (only its decoding can fail here) and checks it with
 * jg_watch_query_parse.  Answers and returns false when it is bad. */
static bool parse_params(struct jg_req *req, enum jg_watch_kind kind, struct jg_watch_params *p,
                         char ***filters, char ***prefixes)
{
    struct jg_watch_query q = {0};
    const char *detail;
    jg_status st;

    if (jg_req_query_list(req, "filter", MAX_FILTERS, filters) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "bad 'filter' (at most 64)");
    q.filters = *filters;
    if (kind == JG_WATCH_KV) {
        if (jg_req_query_list(req, "prefix", MAX_FILTERS, prefixes) != JG_OK)
            return bad(req, JG_ERR_INVALID_PARAMETER, "bad 'prefix' (at most 64)");
        q.prefixes = *prefixes;
    }
    if (jg_req_query(req, "include", &q.include) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "bad 'include'");
    if (jg_req_query(req, "ignoreDeletes", &q.ignore_deletes) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "'ignoreDeletes' is true or false");
    if (kind == JG_WATCH_KV && jg_req_query(req, "metaOnly", &q.meta_only) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "'metaOnly' is true or false");
    if (jg_req_query(req, "resumeRevision", &q.resume_revision) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "bad 'resumeRevision'");
    if (jg_req_query(req, "startTime", &q.start_time) != JG_OK)
        return bad(req, JG_ERR_INVALID_PARAMETER, "bad 'startTime'");
    q.last_event_id = jg_req_header(req, "Last-Event-ID");
    st = jg_watch_query_parse(kind, &q, p, &detail);
    if (st != JG_OK)
        return bad(req, st, detail);
    return true;
}

static void watch_handler(struct jg_req *req, enum jg_watch_kind kind)
{
    struct jg_watch_params p = {0};
    char **filters = NULL, **prefixes = NULL;
    char addr[64];
    struct jg_watch_place place;
    const char *detail = NULL;
    struct hw *hw = NULL;
    jg_status st;

    if (!jg_kv_bucket_valid(req->bucket)) {
        jg_req_fail(req, JG_ERR_INVALID_BUCKET, "bucket names are [A-Za-z0-9_-]+");
        return;
    }
    p.kind = kind;
    p.bucket = req->bucket;
    if (!parse_params(req, kind, &p, &filters, &prefixes))
        goto out;
    p.scope = req->scope; /* a token limited to parts of the bucket sees only those */
    client_addr(req, addr, sizeof(addr));
    st = jg_watch_reserve(req->app->watch, addr, req->token, &place, &detail);
    if (st != JG_OK) {
        jg_req_fail(req, st, "%s", detail);
        goto out;
    }
    hw = calloc(1, sizeof(*hw));
    if (!hw) {
        jg_watch_unreserve(req->app->watch, &place);
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        goto out;
    }
    hw->req = req;
    struct jg_watch_sink sink = {sink_wake, sink_release, req};
    jg_req_ref(req); /* the watcher's, dropped through sink_release */
    jg_req_suspend(req);
    st = jg_watch_open(req->app->watch, &place, &p, &sink, on_ready, hw, &hw->w);
    if (st != JG_OK) {
        free(hw);
        jg_req_unref(req);
        jg_req_fail(req, st, "cannot open the watch");
    }
out:
    jg_strv_free(filters);
    jg_strv_free(prefixes);
}

void jg_h_kv_watch(struct jg_req *req)
{
    watch_handler(req, JG_WATCH_KV);
}

void jg_h_obj_watch(struct jg_req *req)
{
    watch_handler(req, JG_WATCH_OBJ);
}
