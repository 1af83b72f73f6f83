/* detail.c - the default detail of a problem answer, per status and store
 * of bucket (see handlers.h): one table instead of a switch per handler. */
#include "autoconfig.h"
#include "http/handlers.h"

#include <stddef.h>

static const struct {
    jg_status st;
    const char *kv, *obj;
} details[] = {
    {JG_ERR_BUCKET_NOT_FOUND, "no such key-value bucket", "no such object bucket"},
    {JG_ERR_KEY_NOT_FOUND, "no such key", NULL},
    {JG_ERR_OBJECT_NOT_FOUND, NULL, "no such object"},
    {JG_ERR_NATS_UNAVAILABLE, "not connected to NATS; retry later",
     "not connected to NATS; retry later"},
    {JG_ERR_NATS_TIMEOUT,
     "NATS did not answer within the request timeout; the outcome of a write is "
     "unknown: retry it with the same Idempotency-Key",
     "NATS did not answer within the request timeout"},
    {JG_ERR_PAYLOAD_TOO_LARGE,
     "value is larger than the bucket's max_value_size or the server's max payload", NULL},
    {JG_ERR_BUCKET_SEALED, "bucket is sealed", "the bucket is sealed"},
    {JG_ERR_INSUFFICIENT_STORAGE, "the bucket or account has no room left", NULL},
};

const char *jg_h_detail(jg_status st, enum jg_h_store store)
{
    for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++) {
        if (details[i].st != st)
            continue;
        const char *d = store == JG_H_KV ? details[i].kv : details[i].obj;
        if (d)
            return d;
        break;
    }
    return jg_status_title(st);
}
