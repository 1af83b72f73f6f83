/* headers.c - the first access call's checks of a request line and its
 * headers: sizes against max_header_size (414, 431), ambiguous framing,
 * NUL bytes. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <string.h>
#include <strings.h>


/* What the first access call finds in the request's headers, read with
 * their lengths (libmicrohttpd's single-value lookup sees only the first
 * of several headers of one name).
 *
 * A NUL byte inside a header line: libmicrohttpd 0.9.x hands on the value
 * up to the NUL, with that length, and drops the rest.  Its values point
 * into the read buffer, where each line's CR and LF were overwritten with
 * NULs: between the end of one value and the name of the next header
 * there is nothing but those NULs, unless the line held more after a NUL
 * (or was folded onto a next line, which RFC 9112 lets a server refuse
 * as well).  After the last value there is nothing but NULs up to the end
 * of the header block (the request line's start plus libmicrohttpd's
 * header size); where that size is not known, the byte after the value's
 * terminating NUL is a NUL too (the empty line). */
struct header_scan {
    int content_lengths;       /* Content-Length headers */
    bool lengths_differ;       /* ... with different values */
    const char *length;        /* the first one's value */
    size_t length_len;
    bool transfer_encoding;
    bool nul;                  /* a line holds a NUL byte */
    bool nul_authorization;    /* ... the Authorization header's line */
    const char *prev_end;      /* end of the previous value */
    bool prev_authorization;
    size_t max_line;           /* max_header_size: no gap is longer */
    size_t bytes;              /* the header lines, as sent */
    const char *block_start;   /* the header block (the request line on), */
    const char *block_end;     /* ... or NULL */
};

static void header_nul(struct header_scan *s, bool authorization)
{
    s->nul = true;
    s->nul_authorization |= authorization;
}

/* The bytes from the end of the previous value up to next (the next
 * header's name, or NULL after the last header). */
static void check_gap(struct header_scan *s, const char *next)
{
    const char *e = s->prev_end;
    if (!e)
        return;
    if (!next && s->block_end && e > s->block_start && e < s->block_end)
        next = s->block_end; /* the value is in that block: libmicrohttpd's buffer */
    if (next && next > e && (size_t)(next - e) <= s->max_line) {
        /* (white space too: a library that trims a value may leave it) */
        for (const char *p = e; p < next; p++)
            if (*p && !strchr(" \t\r\n", *p))
                return header_nul(s, s->prev_authorization);
    } else if (!next && e[1] != '\0') {
        header_nul(s, s->prev_authorization);
    }
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    struct header_scan *s = cls;
    bool authorization =
        key_size == 13 && strncasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION, 13) == 0;
    if (!value)
        value_size = 0;
    check_gap(s, key);
    s->bytes += key_size + value_size + 4; /* ": " and CRLF */
    /* a library that hands on a whole value: its length says it */
    if (strlen(key) != key_size || (value && strlen(value) != value_size))
        header_nul(s, authorization);
    s->prev_end = value ? value + value_size : NULL;
    s->prev_authorization = authorization;
    if (key_size == 17 && strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING, 17) == 0)
        s->transfer_encoding = true;
    if (key_size == 14 && strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, 14) == 0) {
        if (s->content_lengths++ == 0) {
            s->length = value;
            s->length_len = value_size;
        } else if (value_size != s->length_len || memcmp(value, s->length, value_size) != 0) {
            s->lengths_differ = true;
        }
    }
    return MHD_YES;
}

/* A request line or header block over max_header_size (414, 431), a
 * request whose framing two readers could take apart differently (RFC 9112
 * section 6.3), or whose headers hold NUL bytes, is answered at once and
 * its connection closed: nothing of a body is read, so nothing of it can be
 * taken for a next request.  Returns false when it answered.
 *
 * libmicrohttpd's memory per connection is set above max_header_size (see
 * mhd_memory()) so that these requests reach jetgate; only a request line
 * or header block larger than that memory still gets libmicrohttpd's own
 * (HTML) answer. */
bool jg_http_headers_sane(struct jg_req *req, const char *method, const char *version)
{
    size_t max = (size_t)req->app->cfg.max_header_size;
    struct header_scan s = {.max_line = max};
    const union MHD_ConnectionInfo *hi =
        MHD_get_connection_info(srv(req)->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (hi && hi->header_size) {
        s.block_start = method; /* where the request starts in the read buffer */
        s.block_end = method + hi->header_size;
    }
    MHD_get_connection_values_n(srv(req)->conn, MHD_HEADER_KIND, scan_header, &s);
    check_gap(&s, NULL);
    size_t line = strlen(method) + 1 + srv(req)->uri_len + 1 + strlen(version) + 2;
    if (line > max) {
        jg_resp_problem(&req->resp, JG_ERR_URI_TOO_LONG, 0,
                        "the request line is longer than max_header_size (%zu bytes)", max);
    } else if (line + s.bytes + 2 > max) {
        jg_resp_problem(&req->resp, JG_ERR_HEADERS_TOO_LARGE, 0,
                        "the request line and headers are larger than max_header_size (%zu bytes)",
                        max);
    } else if (s.nul_authorization) {
        jg_resp_problem(&req->resp, JG_ERR_UNAUTHORIZED, 0, "the bearer token is not valid");
        jg_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"jetgate\"");
    } else if (s.nul) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0, "a request header holds a NUL byte");
    } else if (s.lengths_differ) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0,
                        "the request has Content-Length headers with different values");
    } else if (s.content_lengths && s.transfer_encoding) {
        jg_resp_problem(&req->resp, JG_ERR_BAD_REQUEST, 0,
                        "the request has both Content-Length and Transfer-Encoding");
    } else {
        return true;
    }
    jg_resp_header(&req->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    atomic_store(&srv(req)->state, ST_READY);
    return false;
}

