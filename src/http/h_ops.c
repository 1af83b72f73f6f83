/* h_ops.c - operational routes: /healthz, /readyz, /metrics, /v1/info. */
#include "autoconfig.h"
#include "http/handlers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/server.h"
#include "nats/js.h"
#include "watch/watch.h"
#include "nats/conn.h"

void jg_h_healthz(struct jg_req *req)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    jg_resp_json(&req->resp, 200, o);
    jg_req_done(req);
}

/* Both /readyz and /v1/info ask JetStream for the account info. */
struct js_info_op {
    struct jg_req *req;
    struct jg_nats_req nreq;
    bool info;
};

static cJSON *info_json(struct jg_req *req, cJSON *account)
{
    char url[256], id[128], version[32];
    struct jg_app *app = req->app;
    cJSON *o = cJSON_CreateObject(), *n = cJSON_AddObjectToObject(o, "nats");
    cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
    cJSON_AddStringToObject(o, "build", JG_BUILD_OPTIONS);
    jg_nats_server_info(app->nats, url, sizeof(url), id, sizeof(id), version, sizeof(version));
    cJSON_AddBoolToObject(n, "connected", jg_nats_connected(app->nats));
    cJSON_AddStringToObject(n, "url", url);
    cJSON_AddStringToObject(n, "server_id", id);
    if (*version)
        cJSON_AddStringToObject(n, "server_version", version);
    else
        cJSON_AddNullToObject(n, "server_version");
    if (account) {
        cJSON *js = cJSON_AddObjectToObject(o, "jetstream");
        static const char *fields[] = {"memory", "storage", "streams", "consumers", "limits"};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(account, fields[i]);
            if (v)
                cJSON_AddItemToObject(js, fields[i], v);
        }
    }
    return o;
}

static void on_account(void *ctx, jg_status st, natsMsg *msg)
{
    struct js_info_op *op = ctx;
    struct jg_req *req = op->req;
    cJSON *json = NULL;
    char desc[256] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (op->info) {
        jg_resp_json(&req->resp, 200, info_json(req, json));
    } else if (st == JG_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ready");
        jg_resp_json(&req->resp, 200, o);
    } else {
        jg_resp_problem(&req->resp, JG_ERR_NATS_UNAVAILABLE, 503, "JetStream not reachable: %s",
                        *desc ? desc : jg_status_title(st));
    }
    cJSON_Delete(json);
    free(op);
    jg_req_done(req);
}

static void account_info(struct jg_req *req, bool info)
{
    struct js_info_op *op = calloc(1, sizeof(*op));
    if (!op) {
        jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
        return;
    }
    op->req = req;
    op->info = info;
    jg_req_suspend(req);
    jg_status st = jg_js_api(req->app->nats, &op->nreq, "INFO", NULL, 0, on_account, op);
    if (st != JG_OK)
        on_account(op, st, NULL);
}

void jg_h_readyz(struct jg_req *req)
{
    if (!jg_nats_connected(req->app->nats)) {
        jg_req_fail(req, JG_ERR_NATS_UNAVAILABLE, "not connected to NATS");
        return;
    }
    account_info(req, false);
}

void jg_h_info(struct jg_req *req)
{
    if (!jg_nats_connected(req->app->nats)) {
        jg_resp_json(&req->resp, 200, info_json(req, NULL));
        jg_req_done(req);
        return;
    }
    account_info(req, true);
}

static long process_rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static long open_fds(void)
{
    long n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n > 2 ? n - 3 : 0; /* ., .. and the directory's own fd */
}

void jg_h_metrics(struct jg_req *req)
{
    struct jg_http_stats hs;
    struct jg_nats_stats ns;
    struct jg_buf b;

    jg_http_get_stats(req->app->http, &hs);
    jg_nats_get_stats(req->app->nats, &ns);
    jg_buf_init(&b);
    jg_http_metrics(req->app->http, &b);
    jg_buf_printf(&b,
                  "# HELP jetgate_http_requests_active Requests being handled (this one included).\n"
                  "# TYPE jetgate_http_requests_active gauge\n"
                  "jetgate_http_requests_active %lld\n"
                  "# HELP jetgate_http_received_bytes_total Request body bytes received.\n"
                  "# TYPE jetgate_http_received_bytes_total counter\n"
                  "jetgate_http_received_bytes_total %llu\n"
                  "# HELP jetgate_http_sent_bytes_total Response body bytes sent.\n"
                  "# TYPE jetgate_http_sent_bytes_total counter\n"
                  "jetgate_http_sent_bytes_total %llu\n"
                  "# HELP jetgate_http_deadline_closed_total Connections cut because a request "
                  "did not arrive within request_deadline.\n"
                  "# TYPE jetgate_http_deadline_closed_total counter\n"
                  "jetgate_http_deadline_closed_total %llu\n"
                  "# HELP jetgate_http_connections_refused_total Connections closed at once "
                  "because max_connections were open.\n"
                  "# TYPE jetgate_http_connections_refused_total counter\n"
                  "jetgate_http_connections_refused_total %llu\n"
                  "# HELP jetgate_http_connections_open HTTP connections open.\n"
                  "# TYPE jetgate_http_connections_open gauge\n"
                  "jetgate_http_connections_open %lld\n"

                  "# HELP jetgate_nats_connected 1 when connected to NATS.\n"
                  "# TYPE jetgate_nats_connected gauge\n"
                  "jetgate_nats_connected %d\n"
                  "# HELP jetgate_nats_reconnects_total Reconnections to NATS.\n"
                  "# TYPE jetgate_nats_reconnects_total counter\n"
                  "jetgate_nats_reconnects_total %llu\n"
                  "# HELP jetgate_nats_request_timeouts_total NATS requests that got no reply in time.\n"
                  "# TYPE jetgate_nats_request_timeouts_total counter\n"
                  "jetgate_nats_request_timeouts_total %llu\n"
                  "# HELP jetgate_nats_requests_inflight NATS requests waiting for a reply.\n"
                  "# TYPE jetgate_nats_requests_inflight gauge\n"
                  "jetgate_nats_requests_inflight %llu\n"
                  "# HELP jetgate_nats_side_servers Servers jetgate reaches besides the one its "
                  "main NATS connection is on.\n"
                  "# TYPE jetgate_nats_side_servers gauge\n"
                  "jetgate_nats_side_servers %d\n"
                  "# HELP jetgate_nats_side_requests_total Reads sent through another server "
                  "to ask its stream replica.\n"
                  "# TYPE jetgate_nats_side_requests_total counter\n"
                  "jetgate_nats_side_requests_total %llu\n"
                  "# HELP jetgate_nats_leader_elections_total Stream leader elections seen "
                  "(LEADER_ELECTED advisories).\n"
                  "# TYPE jetgate_nats_leader_elections_total counter\n"
                  "jetgate_nats_leader_elections_total %llu\n"
                  "# HELP jetgate_nats_leader_resends_total Requests sent again to a stream's "
                  "new leader, or after a refusal or a reconnect, within their deadline.\n"
                  "# TYPE jetgate_nats_leader_resends_total counter\n"
                  "jetgate_nats_leader_resends_total %llu\n"
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\n"
                  "process_resident_memory_bytes %ld\n"
                  "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\n"
                  "process_open_fds %ld\n",
                  (long long)jg_http_active(req->app->http), (unsigned long long)hs.bytes_in,
                  (unsigned long long)hs.bytes_out, (unsigned long long)hs.deadline_cuts,
                  (unsigned long long)hs.refused_conns, (long long)hs.open_conns,
                  jg_nats_connected(req->app->nats) ? 1 : 0, (unsigned long long)ns.reconnects,
                  (unsigned long long)ns.timeouts, (unsigned long long)ns.inflight, ns.side_servers,
                  (unsigned long long)ns.side_requests, (unsigned long long)ns.elections,
                  (unsigned long long)ns.resends, process_rss_bytes(), open_fds());
    jg_watch_metrics(req->app->watch, &b);
    size_t len;
    char *text = jg_buf_take(&b, &len);
    jg_resp_status(&req->resp, 200);
    jg_resp_header(&req->resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    jg_resp_body_take(&req->resp, text, len);
    jg_req_done(req);
}
