/* request.h - what a route handler sees: a parsed request and a response
 * to fill.  Handlers never call libmicrohttpd; only the server's files
 * (server_int.h) and input.c do.
 *
 * Threads: libmicrohttpd runs on jetgate's event loop thread ("the loop
 * thread", loop.h), which also runs every NATS reply callback; every
 * callback type below says where it is called.
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
#include <sys/socket.h>

#include <cjson/cJSON.h>

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

/* JG_BODY_STREAM: the handler runs as soon as the headers are in and
 * takes the body piece by piece through req->on_body (see below). */
enum jg_body_kind { JG_BODY_NONE, JG_BODY_KV, JG_BODY_JSON, JG_BODY_STREAM };

struct jg_req;
/* A route's handler: called once on the loop thread, when the body is in
 * (JG_BODY_STREAM routes: when the headers are). */
typedef void (*jg_handler_fn)(struct jg_req *req);

/* Streaming request body: called on the loop thread with each piece of the
 * body; returns how many bytes it took.  Taking fewer than len pauses the
 * upload (the connection is suspended, nothing more is read) until the
 * handler calls jg_req_resume_upload(); the rest is then offered again. */
typedef size_t (*jg_body_fn)(struct jg_req *req, const char *data, size_t len);
/* The whole body has arrived (loop thread); the handler now answers as an
 * ordinary handler does, through jg_req_done(). */
typedef void (*jg_body_end_fn)(struct jg_req *req);
/* The connection closed before the response was complete (client gone,
 * shutdown).  Called once, on the loop thread, never while suspended. */
typedef void (*jg_close_fn)(struct jg_req *req);

/* Streaming response body, called on the loop thread: fills buf with up
 * to max bytes.  Returns the
 * count, 0 when no data is ready yet (the server waits for jg_req_wake()),
 * JG_STREAM_END at the end, JG_STREAM_ERROR to cut the connection short. */
typedef long (*jg_stream_read_fn)(void *ctx, char *buf, size_t max);
/* The response is finished or abandoned; release ctx (loop thread). */
typedef void (*jg_stream_free_fn)(void *ctx);
#define JG_STREAM_END (-1L)
#define JG_STREAM_ERROR (-2L)

/* The names a route carries, for authorization (src/http/authz.c): each
 * flag says where a name comes from and what the token needs for it. */
enum jg_route_names {
    JG_RN_PUBLIC = 1 << 0,      /* answered without a token */
    JG_RN_METRICS = 1 << 1,     /* public only with the option metrics_public */
    JG_RN_BUCKET = 1 << 2,      /* {bucket}: perm on the whole bucket, unless one of: */
    JG_RN_KEY = 1 << 3,         /* {key*}/{name*}: perm on that key */
    JG_RN_SELECTOR = 1 << 4,    /* a listing or watch (query filter/prefix): perm on some
                                 * of the bucket; only the keys under the token's
                                 * prefixes for perm are shown (req->scope) */
    JG_RN_LINK_TARGET = 1 << 5, /* body {"bucket","name"}: read on that object, or on
                                 * the whole bucket without a name */
    JG_RN_NEW_NAME = 1 << 6,    /* body "name": when it differs from {name*}, write
                                 * on the new name and delete on the old */
};

struct jg_route {
    int methods;             /* one method per row */
    const char *pattern;     /* "/v1/kv/{bucket}/{key*}" */
    jg_handler_fn handler;
    const char *operation_id; /* as in docs/openapi.yaml */
    enum jg_body_kind body;
    unsigned perm;           /* enum jg_perm (auth.h) the caller's token needs;
                              * JG_PERM_NONE: any valid token */
    unsigned names;          /* enum jg_route_names */
};

/* Header lines kept in the response itself; more (an object's metadata
 * headers, one line per value) go to a malloc'd array. */
#define JG_RESP_INLINE_HEADERS 32

struct jg_resp_hdr {
    const char *name;        /* static string, or one that outlives the response */
    char *value;             /* in arena, or malloc'd when owned */
    bool owned;
};

struct jg_resp {
    char request_id[72];     /* X-Request-Id; also in problem bodies */
    int status;
    int nhdr;                /* lines in hdr, then in hdr_more */
    struct jg_resp_hdr hdr[JG_RESP_INLINE_HEADERS];
    struct jg_resp_hdr *hdr_more; /* malloc'd, lines nhdr - JG_RESP_INLINE_HEADERS */
    int hdr_more_cap;
    char arena[768];         /* header values, without a malloc each */
    size_t arena_used;
    char *body;              /* owned (malloc) unless body_owner is set */
    size_t body_len;
    void *body_owner;        /* owns body when set (zero copy, jg_resp_body_ref) */
    void (*body_release)(void *owner);
    /* streaming body instead of body (see jg_resp_stream) */
    jg_stream_read_fn stream_read;
    jg_stream_free_fn stream_free;
    void *stream_ctx;
    int64_t stream_size;     /* -1 = unknown (chunked) */
    size_t stream_block;
};

#define JG_REQ_MAX_SEGS 16

/* The state a handler keeps on its request across a suspension, one
 * member per handler (zeroed when the request is made); a handler uses
 * its own member and no other. */
struct jg_h_obj_put;
union jg_hstate {
    struct {                 /* h_kv.c, reads (GET, HEAD) */
        bool json;           /* the JSON form was asked for */
        const char *if_none_match; /* the header's value (lives as long as req), or NULL */
        /* a blocking read (?wait= with If-None-Match: "rev") */
        struct jg_watch *hold;   /* the engine's hold, or NULL */
        uint64_t rev;            /* the revision the client has */
        bool reading;            /* a read is in flight */
        bool again;              /* a change came during it: read again */
        bool timed_out;          /* the wait ended */
        bool gone;               /* the client hung up */
        int stale_reads;         /* reads that did not show a change told */
    } kv_read;
    struct {                 /* h_kv.c, writes (PUT, POST) */
        bool status_412;     /* a failed precondition answers 412 (If-Match, If-None-Match) */
        bool expect_new;     /* the key must not exist (a revision of 0 asked for) */
    } kv_write;
    struct jg_h_obj_put *obj_put; /* h_obj.c, an upload (owned; freed when it ends) */
    struct {                 /* h_kvm.c, entries held until a change (?wait=) */
        struct entries_held *held; /* owned until the hold ends */
    } kvm_entries;
    struct {                 /* h_watch.c */
        bool token_counted;  /* counted in the token's watcher limit */
    } watch;
};

/* What a handler sees of a request; the server's part of it is private
 * (server_int.h).  Handlers read these, fill resp and set on_close. */
struct jg_req {
    struct jg_app *app;
    const struct jg_route *route;
    enum jg_method method;
    char *bucket;            /* decoded {bucket} segment or NULL */
    char *key;               /* decoded rest-of-path ({key*}/{name*}) or NULL */
    struct jg_buf body;      /* a buffered body (not for JG_BODY_STREAM routes) */
    struct jg_resp resp;
    /* the caller's token (NULL with open access or a public route) */
    const struct jg_token *token;
    /* for JG_RN_SELECTOR routes: the key prefixes the token may see
     * (NULL-terminated, owned), NULL for every key */
    char **scope;
    /* set by a handler whose work may outlive the connection (streaming
     * uploads): called when the client leaves first */
    jg_close_fn on_close;
    union jg_hstate h;
};

/* --- request accessors (loop thread, before jg_req_suspend) ------- */
/* Header value or NULL (case-insensitive name); read with its length, so
 * a value holding a NUL byte is NULL, never a shorter value. */
const char *jg_req_header(struct jg_req *req, const char *name);
/* First decoded value of a query parameter into *ret (NULL when absent);
 * the string lives as long as req.  JG_ERR_INVALID_PARAMETER on bad
 * percent-encoding. */
jg_status jg_req_query(struct jg_req *req, const char *name, const char **ret);
/* Calls fn for every (decoded) value of a repeatable query parameter; stops
 * and returns the first non-OK status fn returns.  fn runs at once, on the
 * caller's thread. */
jg_status jg_req_query_each(struct jg_req *req, const char *name,
                            jg_status (*fn)(void *ctx, const char *value), void *ctx);
/* Every decoded value of a repeatable query parameter, as a NULL-terminated
 * list in *ret (free with jg_strv_free; NULL when absent).
 * JG_ERR_INVALID_PARAMETER beyond max values or on bad percent-encoding. */
jg_status jg_req_query_list(struct jg_req *req, const char *name, size_t max, char ***ret);
/* Boolean query parameter: absent = false, else as jg_req_bool_parse. */
jg_status jg_req_query_bool(struct jg_req *req, const char *name, bool *ret);
/* A boolean query value (decoded): NULL (absent), "false" or "0" is false;
 * "true", "1" or "" (a bare "?name") is true; anything else is
 * JG_ERR_INVALID_PARAMETER and leaves *ret alone.  Pure. */
jg_status jg_req_bool_parse(const char *v, bool *ret);
/* Calls fn for every request header (name as sent); stops when fn returns
 * false.  fn runs at once, on the caller's thread. */
void jg_req_header_each(struct jg_req *req, bool (*fn)(void *ctx, const char *name,
                                                        const char *value),
                        void *ctx);
/* Accept header asks for JSON. */
bool jg_req_wants_json(struct jg_req *req);
/* p (malloc'd) is freed with the request: for text that must live as long
 * as the response, such as a header name.  On JG_ERR_NOMEM p is freed. */
jg_status jg_req_keep(struct jg_req *req, char *p);
/* The client's address, or NULL (a Unix-domain client). */
const struct sockaddr *jg_req_peer(struct jg_req *req);

/* --- async ------------------------------------------------------------- */
/* The handler answers later (loop thread, from the handler). */
void jg_req_suspend(struct jg_req *req);
/* Keeps req alive past its connection (for work still under way when the
 * client may leave); every ref needs one unref.  Any thread. */
void jg_req_ref(struct jg_req *req);
void jg_req_unref(struct jg_req *req);
/* true once the connection is gone: do not call jg_req_done() then. */
bool jg_req_closed(struct jg_req *req);
/* A handler of a JG_BODY_STREAM route accepts the body: on_body gets its
 * pieces, on_end runs at its end (both on the loop thread).  May be called while the
 * handler is suspended (e.g. from a NATS callback); it resumes the upload. */
void jg_req_read_body(struct jg_req *req, jg_body_fn on_body, jg_body_end_fn on_end);
/* Upload paused by on_body taking less than offered: read on (any thread;
 * safe to call whether or not the upload is paused yet: a wake that comes
 * first is remembered). */
void jg_req_resume_upload(struct jg_req *req);
/* A suspended request that waits long for something (a blocking read):
 * while held, gone(req) is called once on the loop thread when the client
 * hangs up (seen within about a second), and the handler then ends its
 * work and answers as usual (nobody reads it).  At shutdown gone(req)
 * comes at once (and soon after jg_req_hold() for a request held later).
 * jg_req_unhold() before jg_req_done().  Loop thread. */
void jg_req_hold(struct jg_req *req, jg_close_fn gone);
void jg_req_unhold(struct jg_req *req);
/* A streaming response has data (or its end) ready (any thread). */
void jg_req_wake(struct jg_req *req);
/* Response is complete; hands req back to the server (any thread). */
void jg_req_done(struct jg_req *req);

/* --- response builders --------------------------------------------------- */
void jg_resp_status(struct jg_resp *resp, int status);
/* Adds a header; value formatted.  Returns JG_ERR_NOMEM or JG_OK. */
jg_status jg_resp_header(struct jg_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Header line i (0 <= i < resp->nhdr), in the order added. */
static inline const struct jg_resp_hdr *jg_resp_hdr_at(const struct jg_resp *resp, int i)
{
    return i < JG_RESP_INLINE_HEADERS ? &resp->hdr[i] : &resp->hdr_more[i - JG_RESP_INLINE_HEADERS];
}
/* Body from a malloc'd buffer; takes ownership. */
void jg_resp_body_take(struct jg_resp *resp, char *data, size_t len);
/* Body copied from data. */
jg_status jg_resp_body_copy(struct jg_resp *resp, const void *data, size_t len);
/* Body of len bytes at data, inside memory that owner owns (zero copy);
 * takes ownership of owner: release(owner) runs on the loop thread once
 * the response no longer needs the bytes. */
void jg_resp_body_ref(struct jg_resp *resp, const void *data, size_t len,
                      void (*release)(void *owner), void *owner);
/* Streaming body: read is called on the loop thread whenever the client
 * can take data; size -1 for chunked transfer.  block is the most read is
 * asked for at once.  free_fn runs when the response ends either way. */
void jg_resp_stream(struct jg_resp *resp, int64_t size, size_t block, jg_stream_read_fn read,
                    jg_stream_free_fn free_fn, void *ctx);
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
