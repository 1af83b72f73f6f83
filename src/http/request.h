/* request.h - what a route handler sees: a parsed request and a response
 * to fill.  Handlers never call libmicrohttpd; only src/http/server.c and
 * request.c do.
 *
 * Life cycle: the server calls the route's handler once the body is in.
 * The handler either fills req->resp and calls jg_req_done() before it
 * returns, or calls jg_req_suspend(), starts asynchronous work, and calls
 * jg_req_done() from any thread when the response is ready.  jg_req_done()
 * must be the last thing done with req: the request may be freed as soon
 * as it returns. */
#ifndef JG_HTTP_REQUEST_H
#define JG_HTTP_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <nats/nats.h>

#include "app.h"
#include "status.h"
#include "util.h"

enum jg_method {
    JG_GET = 1 << 0,
    JG_HEAD = 1 << 1,
    JG_PUT = 1 << 2,
    JG_POST = 1 << 3,
    JG_DELETE = 1 << 4,
    JG_PATCH = 1 << 5,
    JG_OPTIONS = 1 << 6,
};

enum jg_body_kind { JG_BODY_NONE, JG_BODY_KV, JG_BODY_JSON };

struct jg_req;
typedef void (*jg_handler_fn)(struct jg_req *req);

struct jg_route {
    int methods;             /* one method per row */
    const char *pattern;     /* "/v1/kv/{bucket}/{key*}" */
    jg_handler_fn handler;
    const char *operation_id; /* as in docs/openapi.yaml */
    enum jg_body_kind body;
};

#define JG_RESP_MAX_HEADERS 32

struct jg_resp {
    int status;
    int nhdr;
    struct {
        const char *name;    /* static string */
        char *value;         /* owned */
    } hdr[JG_RESP_MAX_HEADERS];
    char *body;              /* owned (malloc) unless body_msg is set */
    size_t body_len;
    natsMsg *body_msg;       /* owns body when set (zero copy) */
};

#define JG_REQ_MAX_SEGS 16

struct jg_req {
    struct jg_app *app;
    void *conn;              /* struct MHD_Connection */
    const struct jg_route *route;
    enum jg_method method;
    char *bucket;            /* decoded {bucket} segment or NULL */
    char *key;               /* decoded rest-of-path ({key*}/{name*}) or NULL */
    struct jg_buf body;
    struct jg_buf scratch;   /* char* of decoded query values, freed with req */
    int64_t body_limit;
    bool body_too_large;
    int64_t start_ms;
    atomic_int state;        /* see server.c */
    bool suspended;
    struct jg_resp resp;
    /* scratch for handlers, captured before suspending */
    int hflags;
    uint64_t hval;
    const char *hstr;        /* a request header value (lives as long as req) */
};

/* --- request accessors (MHD thread only: before jg_req_suspend) -------- */
/* Header value or NULL (case-insensitive name). */
const char *jg_req_header(struct jg_req *req, const char *name);
/* First decoded value of a query parameter into *ret (NULL when absent);
 * the string lives as long as req.  JG_ERR_INVALID_PARAMETER on bad
 * percent-encoding. */
jg_status jg_req_query(struct jg_req *req, const char *name, const char **ret);
/* Calls fn for every (decoded) value of a repeatable query parameter; stops
 * and returns the first non-OK status fn returns. */
jg_status jg_req_query_each(struct jg_req *req, const char *name,
                            jg_status (*fn)(void *ctx, const char *value), void *ctx);
/* Boolean query parameter: absent = false; "true"/"1" or "false"/"0",
 * anything else is JG_ERR_INVALID_PARAMETER. */
jg_status jg_req_query_bool(struct jg_req *req, const char *name, bool *ret);
/* Accept header asks for JSON. */
bool jg_req_wants_json(struct jg_req *req);

/* --- async ------------------------------------------------------------- */
void jg_req_suspend(struct jg_req *req);
/* Response is complete; hands req back to the server (any thread). */
void jg_req_done(struct jg_req *req);

/* --- response builders --------------------------------------------------- */
void jg_resp_status(struct jg_resp *resp, int status);
/* Adds a header; value formatted.  Returns JG_ERR_NOMEM or JG_OK. */
jg_status jg_resp_header(struct jg_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Body from a malloc'd buffer; takes ownership. */
void jg_resp_body_take(struct jg_resp *resp, char *data, size_t len);
/* Body copied from data. */
jg_status jg_resp_body_copy(struct jg_resp *resp, const void *data, size_t len);
/* Body is the payload of msg (zero copy); takes ownership of msg. */
void jg_resp_body_msg(struct jg_resp *resp, natsMsg *msg);
/* JSON body with Content-Type application/json; takes ownership of json. */
void jg_resp_json(struct jg_resp *resp, int status, cJSON *json);
/* RFC 9457 problem; http 0 = the status table's code.  Resets any body and
 * headers set so far, except Retry-After semantics which it adds itself for
 * 503 and 429. */
void jg_resp_problem(struct jg_resp *resp, jg_status st, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Releases everything the response owns. */
void jg_resp_clear(struct jg_resp *resp);

/* Shorthand: problem then jg_req_done. */
void jg_req_fail(struct jg_req *req, jg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
