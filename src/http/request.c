/* request.c - what the handler API builds on the accessors of input.c
 * (lists and booleans of query values, Accept) and the response builders:
 * nothing here reads the connection, so handler unit tests link it with a
 * fake request. */
#include "autoconfig.h"
#include "http/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "json.h"

struct qlist {
    char **v;
    size_t max;
};

static jg_status add_value(void *ctx, const char *value)
{
    struct qlist *l = ctx;
    if (jg_strv_len(l->v) >= l->max)
        return JG_ERR_INVALID_PARAMETER;
    return jg_strv_add(&l->v, value);
}

jg_status jg_req_query_list(struct jg_req *req, const char *name, size_t max, char ***ret)
{
    struct qlist l = {NULL, max};
    jg_status st = jg_req_query_each(req, name, add_value, &l);
    if (st != JG_OK) {
        jg_strv_free(l.v);
        return st;
    }
    *ret = l.v;
    return JG_OK;
}

jg_status jg_req_bool_parse(const char *v, bool *ret)
{
    if (!v || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *ret = false;
    else if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || *v == '\0')
        *ret = true;
    else
        return JG_ERR_INVALID_PARAMETER;
    return JG_OK;
}

jg_status jg_req_query_bool(struct jg_req *req, const char *name, bool *ret)
{
    const char *v;
    jg_status st = jg_req_query(req, name, &v);
    if (st != JG_OK)
        return st;
    return jg_req_bool_parse(v, ret);
}

bool jg_req_wants_json(struct jg_req *req)
{
    const char *a = jg_req_header(req, "Accept");
    return a && strstr(a, "application/json") != NULL;
}

void jg_resp_status(struct jg_resp *resp, int status)
{
    resp->status = status;
}

/* The two formats of most headers without vsnprintf: out gets the value
 * and its length is returned, or -1 (another format, or no room). */
static int fast_format(char *out, size_t room, const char *fmt, va_list ap)
{
    if (strcmp(fmt, "%s") == 0) {
        const char *s = va_arg(ap, const char *);
        size_t n = strlen(s);
        if (n >= room)
            return -1;
        memcpy(out, s, n + 1);
        return (int)n;
    }
    if (strcmp(fmt, "%llu") == 0) {
        unsigned long long v = va_arg(ap, unsigned long long);
        char tmp[24];
        int k = 0;
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if ((size_t)k >= room)
            return -1;
        for (int i = 0; i < k; i++)
            out[i] = tmp[k - 1 - i];
        out[k] = '\0';
        return k;
    }
    return -1;
}

jg_status jg_resp_header(struct jg_resp *resp, const char *name, const char *fmt, ...)
{
    va_list ap;
    char *v = NULL;
    size_t room = sizeof(resp->arena) - resp->arena_used;
    bool owned = false;
    struct jg_resp_hdr *slot;
    if (resp->nhdr < JG_RESP_INLINE_HEADERS) {
        slot = &resp->hdr[resp->nhdr];
    } else {
        int k = resp->nhdr - JG_RESP_INLINE_HEADERS;
        if (k == resp->hdr_more_cap) {
            int cap = resp->hdr_more_cap ? resp->hdr_more_cap * 2 : 16;
            struct jg_resp_hdr *more = realloc(resp->hdr_more, (size_t)cap * sizeof(*more));
            if (!more)
                return JG_ERR_NOMEM;
            resp->hdr_more = more;
            resp->hdr_more_cap = cap;
        }
        slot = &resp->hdr_more[k];
    }
    va_start(ap, fmt);
    int n = fast_format(resp->arena + resp->arena_used, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_start(ap, fmt);
        n = vsnprintf(resp->arena + resp->arena_used, room, fmt, ap);
        va_end(ap);
    }
    if (n < 0)
        return JG_ERR_NOMEM;
    if ((size_t)n < room) {
        v = resp->arena + resp->arena_used;
        resp->arena_used += (size_t)n + 1;
    } else {
        va_start(ap, fmt);
        n = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (n < 0)
            return JG_ERR_NOMEM;
        owned = true;
    }
    slot->name = name;
    slot->value = v;
    slot->owned = owned;
    resp->nhdr++;
    return JG_OK;
}

static void body_clear(struct jg_resp *resp)
{
    if (resp->body_owner)
        resp->body_release(resp->body_owner);
    else
        free(resp->body);
    resp->body_owner = NULL;
    resp->body_release = NULL;
    resp->body = NULL;
    resp->body_len = 0;
}

void jg_resp_body_take(struct jg_resp *resp, char *data, size_t len)
{
    body_clear(resp);
    resp->body = data;
    resp->body_len = len;
}

jg_status jg_resp_body_copy(struct jg_resp *resp, const void *data, size_t len)
{
    char *c = malloc(len + 1);
    if (!c)
        return JG_ERR_NOMEM;
    if (len)
        memcpy(c, data, len);
    jg_resp_body_take(resp, c, len);
    return JG_OK;
}

void jg_resp_body_ref(struct jg_resp *resp, const void *data, size_t len,
                      void (*release)(void *owner), void *owner)
{
    body_clear(resp);
    resp->body_owner = owner;
    resp->body_release = release;
    resp->body = (char *)(data ? data : "");
    resp->body_len = len;
}

void jg_resp_stream(struct jg_resp *resp, int64_t size, size_t block, jg_stream_read_fn read,
                    jg_stream_free_fn free_fn, void *ctx)
{
    body_clear(resp);
    resp->stream_read = read;
    resp->stream_free = free_fn;
    resp->stream_ctx = ctx;
    resp->stream_size = size;
    resp->stream_block = block ? block : 64 * 1024;
}

void jg_resp_json(struct jg_resp *resp, int status, cJSON *json)
{
    /* integers as integer literals, also from 1e15 up (a long ttl) */
    char *text = json && jg_json_ints_raw(json) ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    resp->status = status;
    if (!text) {
        jg_resp_problem(resp, JG_ERR_NOMEM, 0, "cannot build the JSON response");
        return;
    }
    jg_resp_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    jg_resp_body_take(resp, text, strlen(text));
}

void jg_resp_clear(struct jg_resp *resp)
{
    for (int i = 0; i < resp->nhdr; i++)
        if (jg_resp_hdr_at(resp, i)->owned)
            free(jg_resp_hdr_at(resp, i)->value);
    free(resp->hdr_more);
    resp->hdr_more = NULL;
    resp->hdr_more_cap = 0;
    resp->nhdr = 0;
    resp->arena_used = 0;
    body_clear(resp);
    if (resp->stream_free)
        resp->stream_free(resp->stream_ctx);
    resp->stream_read = NULL;
    resp->stream_free = NULL;
    resp->stream_ctx = NULL;
    resp->status = 0;
}

void jg_resp_problem(struct jg_resp *resp, jg_status st, int http, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    jg_resp_clear(resp);
    resp->status = http ? http : jg_status_http(st);
    cJSON *o = cJSON_CreateObject();
    /* clients tell problems apart by the stable "code" member */
    cJSON_AddStringToObject(o, "type", "about:blank");
    cJSON_AddStringToObject(o, "title", jg_status_title(st));
    cJSON_AddNumberToObject(o, "status", resp->status);
    cJSON_AddStringToObject(o, "detail", detail);
    cJSON_AddStringToObject(o, "code", jg_status_code(st));
    if (resp->request_id[0])
        cJSON_AddStringToObject(o, "request_id", resp->request_id);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text)
        jg_resp_body_take(resp, text, strlen(text));
    jg_resp_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
    if (resp->status == 503 || resp->status == 429)
        jg_resp_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

void jg_req_fail(struct jg_req *req, jg_status st, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    jg_resp_problem(&req->resp, st, 0, "%s", detail);
    jg_req_done(req);
}
