/* status.c - the status table: HTTP code, problem code and title per status. */
#include "autoconfig.h"
#include "status.h"

static const struct {
    int http;
    const char *code;
    const char *title;
} status_table[JG_STATUS_COUNT] = {
    [JG_OK] = {200, "ok", "OK"},
    [JG_ERR_INVALID_BUCKET] = {400, "invalid_bucket", "Invalid bucket name"},
    [JG_ERR_INVALID_KEY] = {400, "invalid_key", "Invalid key"},
    [JG_ERR_INVALID_NAME] = {400, "invalid_name", "Invalid object name"},
    [JG_ERR_INVALID_CONFIG] = {400, "invalid_config", "Invalid bucket configuration"},
    [JG_ERR_INVALID_PARAMETER] = {400, "invalid_parameter", "Invalid parameter"},
    [JG_ERR_NOT_FOUND] = {404, "not_found", "No such route"},
    [JG_ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "Method not allowed"},
    [JG_ERR_BUCKET_NOT_FOUND] = {404, "bucket_not_found", "Bucket not found"},
    [JG_ERR_KEY_NOT_FOUND] = {404, "key_not_found", "Key not found"},
    [JG_ERR_OBJECT_NOT_FOUND] = {404, "object_not_found", "Object not found"},
    [JG_ERR_BUCKET_EXISTS] = {409, "bucket_exists", "Bucket exists with another configuration"},
    [JG_ERR_KEY_EXISTS] = {409, "key_exists", "Key exists"},
    [JG_ERR_OBJECT_EXISTS] = {409, "object_exists", "Object exists"},
    [JG_ERR_REVISION_MISMATCH] = {409, "revision_mismatch", "Revision mismatch"},
    [JG_ERR_PRECONDITION_FAILED] = {412, "precondition_failed", "Precondition failed"},
    [JG_ERR_DIGEST_MISMATCH] = {400, "digest_mismatch", "Digest mismatch"},
    [JG_ERR_PAYLOAD_TOO_LARGE] = {413, "payload_too_large", "Payload too large"},
    [JG_ERR_RANGE_NOT_SATISFIABLE] = {416, "range_not_satisfiable", "Range not satisfiable"},
    [JG_ERR_BUCKET_SEALED] = {409, "bucket_sealed", "Bucket is sealed"},
    [JG_ERR_BUCKET_LINK] = {409, "bucket_link", "Object is a link to a bucket"},
    [JG_ERR_BAD_REQUEST] = {400, "bad_request", "Bad request"},
    [JG_ERR_URI_TOO_LONG] = {414, "uri_too_long", "URI too long"},
    [JG_ERR_HEADERS_TOO_LARGE] = {431, "headers_too_large", "Request headers too large"},
    [JG_ERR_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized"},
    [JG_ERR_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [JG_ERR_TOO_MANY_REQUESTS] = {429, "too_many_requests", "Too many requests"},
    [JG_ERR_INSUFFICIENT_STORAGE] = {507, "insufficient_storage", "Insufficient storage"},
    [JG_ERR_NATS_UNAVAILABLE] = {503, "nats_unavailable", "NATS unavailable"},
    [JG_ERR_NATS_TIMEOUT] = {504, "nats_timeout", "NATS did not answer in time"},
    [JG_ERR_INTERNAL] = {500, "internal", "Internal error"},
    [JG_ERR_NOMEM] = {500, "internal", "Out of memory"},
};

static int valid(jg_status st)
{
    return (unsigned)st < JG_STATUS_COUNT && status_table[st].code != 0;
}

int jg_status_http(jg_status st)
{
    return valid(st) ? status_table[st].http : 500;
}

const char *jg_status_code(jg_status st)
{
    return valid(st) ? status_table[st].code : "internal";
}

const char *jg_status_title(jg_status st)
{
    return valid(st) ? status_table[st].title : "Internal error";
}
