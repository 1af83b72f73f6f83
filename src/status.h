/* status.h - the one status type of jetgate.
 *
 * Every fallible jetgate function returns a jg_status.  One table maps each
 * status to its HTTP status code, its stable problem `code` (RFC 9457, see
 * docs/openapi.yaml) and a short title.  Lower modules return a status and
 * leave logging to the boundary (HTTP handler, main). */
#ifndef JG_STATUS_H
#define JG_STATUS_H

typedef enum {
    JG_OK = 0,
    JG_ERR_INVALID_BUCKET,
    JG_ERR_INVALID_KEY,
    JG_ERR_INVALID_NAME,
    JG_ERR_INVALID_CONFIG,
    JG_ERR_INVALID_PARAMETER,
    JG_ERR_NOT_FOUND,            /* no such route */
    JG_ERR_METHOD_NOT_ALLOWED,
    JG_ERR_BUCKET_NOT_FOUND,
    JG_ERR_KEY_NOT_FOUND,
    JG_ERR_OBJECT_NOT_FOUND,
    JG_ERR_BUCKET_EXISTS,
    JG_ERR_KEY_EXISTS,
    JG_ERR_OBJECT_EXISTS,
    JG_ERR_REVISION_MISMATCH,
    JG_ERR_PRECONDITION_FAILED,
    JG_ERR_DIGEST_MISMATCH,
    JG_ERR_PAYLOAD_TOO_LARGE,
    JG_ERR_RANGE_NOT_SATISFIABLE,
    JG_ERR_BUCKET_SEALED,
    JG_ERR_BUCKET_LINK,
    JG_ERR_BAD_REQUEST,
    JG_ERR_URI_TOO_LONG,
    JG_ERR_HEADERS_TOO_LARGE,
    JG_ERR_UNAUTHORIZED,
    JG_ERR_FORBIDDEN,
    JG_ERR_TOO_MANY_REQUESTS,
    JG_ERR_INSUFFICIENT_STORAGE,
    JG_ERR_NATS_UNAVAILABLE,
    JG_ERR_NATS_TIMEOUT,
    JG_ERR_INTERNAL,
    JG_ERR_NOMEM,
    JG_STATUS_COUNT
} jg_status;

/* HTTP status code for st (200 for JG_OK). */
int jg_status_http(jg_status st);

/* Stable problem code ("key_not_found"); never NULL. */
const char *jg_status_code(jg_status st);

/* Human-readable title ("Key not found"); never NULL. */
const char *jg_status_title(jg_status st);

#endif
