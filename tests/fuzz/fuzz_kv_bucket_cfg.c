/* fuzz_kv_bucket_cfg.c - jg_kv_bucket_cfg_parse(): the JSON body of
 * POST/PUT /v1/kvm/buckets/{bucket}.
 *
 * Checks: accepted values are within the documented bounds, a refusal
 * says why, and a configuration written back as JSON (cJSON; the ttl as
 * a string of nanoseconds) parses to the same configuration. */
#include "autoconfig.h"

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "kv/kv.h"

static void check_bounds(const struct jg_kv_bucket_cfg *c)
{
    if (c->has_description)
        FUZZ_ASSERT(c->description != NULL);
    if (c->has_history)
        FUZZ_ASSERT(c->history >= 1 && c->history <= 64);
    if (c->has_ttl)
        FUZZ_ASSERT(c->ttl >= 0);
    if (c->has_mvs)
        FUZZ_ASSERT(c->max_value_size == -1 || c->max_value_size > 0);
    if (c->has_mb)
        FUZZ_ASSERT(c->max_bytes == -1 || c->max_bytes > 0);
    if (c->has_storage)
        FUZZ_ASSERT(strcmp(c->storage, "file") == 0 || strcmp(c->storage, "memory") == 0);
    if (c->has_replicas)
        FUZZ_ASSERT(c->replicas >= 1 && c->replicas <= 5);
}

/* c as a JSON body (the fields it has). */
static char *to_json(const struct jg_kv_bucket_cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    FUZZ_ASSERT(o != NULL);
    if (c->has_description)
        cJSON_AddStringToObject(o, "description", c->description);
    if (c->has_history)
        cJSON_AddNumberToObject(o, "history", (double)c->history);
    if (c->has_ttl) {
        /* as a string of digits: a double would round a large ttl */
        char ns[32];
        snprintf(ns, sizeof(ns), "%lld", (long long)c->ttl);
        cJSON_AddStringToObject(o, "ttl", ns);
    }
    if (c->has_mvs)
        cJSON_AddNumberToObject(o, "max_value_size", (double)c->max_value_size);
    if (c->has_mb)
        cJSON_AddNumberToObject(o, "max_bytes", (double)c->max_bytes);
    if (c->has_storage)
        cJSON_AddStringToObject(o, "storage", c->storage);
    if (c->has_replicas)
        cJSON_AddNumberToObject(o, "replicas", (double)c->replicas);
    char *text = cJSON_PrintUnformatted(o);
    FUZZ_ASSERT(text != NULL);
    cJSON_Delete(o);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jg_kv_bucket_cfg c, c2;
    char why[256] = "";
    /* as the server hands it over: NUL-terminated after len bytes */
    char *body = fuzz_str(data, size);

    memset(&c, 0, sizeof(c));
    jg_status st = jg_kv_bucket_cfg_parse(body, size, &c, why, sizeof(why));
    if (st == JG_OK) {
        check_bounds(&c);
        if (size == 0)
            FUZZ_ASSERT(!c.has_description && !c.has_history && !c.has_ttl && !c.has_mvs &&
                        !c.has_mb && !c.has_storage && !c.has_replicas);
        char *text = to_json(&c);
        memset(&c2, 0, sizeof(c2));
        char why2[256] = "";
        FUZZ_ASSERT(jg_kv_bucket_cfg_parse(text, strlen(text), &c2, why2, sizeof(why2)) == JG_OK);
        FUZZ_ASSERT(c2.has_description == c.has_description && c2.has_history == c.has_history &&
                    c2.has_ttl == c.has_ttl && c2.has_mvs == c.has_mvs && c2.has_mb == c.has_mb &&
                    c2.has_storage == c.has_storage && c2.has_replicas == c.has_replicas);
        if (c.has_description)
            FUZZ_ASSERT(strcmp(c2.description, c.description) == 0);
        FUZZ_ASSERT(!c.has_history || c2.history == c.history);
        FUZZ_ASSERT(!c.has_ttl || c2.ttl == c.ttl);
        FUZZ_ASSERT(!c.has_mvs || c2.max_value_size == c.max_value_size);
        FUZZ_ASSERT(!c.has_mb || c2.max_bytes == c.max_bytes);
        FUZZ_ASSERT(!c.has_storage || strcmp(c2.storage, c.storage) == 0);
        FUZZ_ASSERT(!c.has_replicas || c2.replicas == c.replicas);
        jg_kv_bucket_cfg_done(&c2);
        free(text);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_CONFIG || st == JG_ERR_NOMEM);
        FUZZ_ASSERT(why[0] != '\0');
    }
    jg_kv_bucket_cfg_done(&c);
    jg_kv_bucket_cfg_done(NULL);
    free(body);
    return 0;
}
