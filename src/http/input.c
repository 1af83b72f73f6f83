/* input.c - a request's headers and query values, read from
 * libmicrohttpd (loop thread, before jg_req_suspend()), its peer address,
 * and what is freed with it. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <stdlib.h>
#include <string.h>

#include "http/pct.h"
#include "util.h"

const char *jg_req_header(struct jg_req *req, const char *name)
{
    const char *v = NULL;
    size_t n = 0;
    struct MHD_Connection *conn = srv(req)->conn;
    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, name, strlen(name), &v, &n) !=
            MHD_YES ||
        !v)
        return NULL;
    /* a value cut short by a NUL byte is never taken for the whole value
     * (the server refuses such requests before any handler runs) */
    return strlen(v) == n ? v : NULL;
}

/* Decoded query values are kept on the request so they live as long as it. */
struct qctx {
    const char *name;
    jg_status (*fn)(void *, const char *);
    void *ctx;
    jg_status st;
};

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct qctx *q = cls;
    char *dec = NULL;
    if (strcmp(key, q->name) != 0)
        return MHD_YES;
    q->st = jg_pct_decode(value ? value : "", value ? strlen(value) : 0, &dec);
    if (q->st == JG_OK)
        q->st = q->fn(q->ctx, dec);
    free(dec);
    return q->st == JG_OK ? MHD_YES : MHD_NO;
}

jg_status jg_req_query_each(struct jg_req *req, const char *name,
                            jg_status (*fn)(void *ctx, const char *value), void *ctx)
{
    struct qctx q = {name, fn, ctx, JG_OK};
    MHD_get_connection_values(srv(req)->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
    return q.st;
}

static jg_status keep_first(void *ctx, const char *value)
{
    char **out = ctx;
    if (!*out)
        *out = strdup(value);
    return JG_OK;
}

jg_status jg_req_query(struct jg_req *req, const char *name, const char **ret)
{
    char *v = NULL;
    jg_status st = jg_req_query_each(req, name, keep_first, &v);
    *ret = NULL;
    if (st != JG_OK) {
        free(v);
        return st;
    }
    if (!v)
        return JG_OK;
    if (jg_buf_append(&srv(req)->scratch, &v, sizeof(v)) != JG_OK) {
        free(v);
        return JG_ERR_NOMEM;
    }
    *ret = v;
    return JG_OK;
}

struct hctx {
    bool (*fn)(void *, const char *, const char *);
    void *ctx;
};

static enum MHD_Result header_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct hctx *h = cls;
    return h->fn(h->ctx, key, value ? value : "") ? MHD_YES : MHD_NO;
}

void jg_req_header_each(struct jg_req *req, bool (*fn)(void *ctx, const char *name,
                                                        const char *value),
                        void *ctx)
{
    struct hctx h = {fn, ctx};
    MHD_get_connection_values(srv(req)->conn, MHD_HEADER_KIND, header_iter, &h);
}

jg_status jg_req_keep(struct jg_req *req, char *p)
{
    if (jg_buf_append(&srv(req)->scratch, &p, sizeof(p)) != JG_OK) {
        free(p);
        return JG_ERR_NOMEM;
    }
    return JG_OK;
}

const struct sockaddr *jg_req_peer(struct jg_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}
