/* fuzz_obj_bucket_cfg.c - jg_obj_bucket_cfg_parse(): the JSON body of
 * POST/PUT /v1/objm/buckets/{bucket}, then the stream configuration built
 * from it (jg_obj_stream_config) and its comparison with itself
 * (jg_obj_bucket_cfg_same).
 *
 * Checks: accepted values are within the documented bounds, a refusal
 * says why, the stream configuration is JSON that matches c, and the text
 * sent to NATS (jg_bucketm_config_text) holds its integers as integer
 * literals. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "http/bucketm.h"
#include "obj/obj.h"

/* text holds key followed by the integer literal of want. */
static void check_int(const char *text, const char *key, int64_t want)
{
    const char *p = strstr(text, key);
    FUZZ_ASSERT(p != NULL);
    p += strlen(key);
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    FUZZ_ASSERT(errno == 0 && end != p && (*end == ',' || *end == '}'));
    /* within that rounding */
    FUZZ_ASSERT(llabs(v - want) <= llabs(want) / 1000000000000000LL + 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jg_obj_bucket_cfg c;
    char why[256] = "";
    /* as the server hands it over: NUL-terminated after len bytes */
    char *body = fuzz_str(data, size);

    memset(&c, 0, sizeof(c));
    jg_status st = jg_obj_bucket_cfg_parse(body, size, &c, why, sizeof(why));
    if (st == JG_OK) {
        if (c.has_replicas)
            FUZZ_ASSERT(c.replicas >= 1 && c.replicas <= 5);
        if (c.has_max_bytes)
            FUZZ_ASSERT(c.max_bytes == -1 || c.max_bytes > 0);
        if (c.has_ttl)
            FUZZ_ASSERT(c.ttl >= 0);
        if (c.has_storage)
            FUZZ_ASSERT(strcmp(c.storage, "file") == 0 || strcmp(c.storage, "memory") == 0);
        char *sc = jg_obj_stream_config("fuzz", &c);
        FUZZ_ASSERT(sc != NULL);
        cJSON *scj = cJSON_Parse(sc);
        FUZZ_ASSERT(scj != NULL);
        /* the same configuration, whatever the size of its integers */
        FUZZ_ASSERT(jg_obj_bucket_cfg_same(scj, &c));
        /* what goes to NATS: integer literals, which the server can read */
        char *text = jg_bucketm_config_text(scj);
        FUZZ_ASSERT(text != NULL);
        check_int(text, "\"max_age\":", c.has_ttl ? c.ttl : 0);
        check_int(text, "\"max_bytes\":", c.has_max_bytes ? c.max_bytes : -1);
        free(text);
        cJSON_Delete(scj);
        free(sc);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_CONFIG);
        FUZZ_ASSERT(why[0] != '\0');
    }
    jg_obj_bucket_cfg_done(&c);
    free(body);
    return 0;
}
