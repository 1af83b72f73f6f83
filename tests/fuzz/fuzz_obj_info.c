/* fuzz_obj_info.c - jg_obj_info_parse(): ObjectInfo JSON from meta
 * messages (written by any NATS client), then the stored and the API JSON
 * forms and the header lookup used for Content-Type.
 *
 * Checks: the stored form parses back and prints identically (what
 * jetgate writes, it reads the same way). */
#include "autoconfig.h"

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "obj/obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jg_obj_info *info = NULL, *again = NULL;
    if (jg_obj_info_parse((const char *)data, size, &info) != JG_OK)
        return 0;
    FUZZ_ASSERT(info && info->name);
    (void)jg_obj_info_header(info, "Content-Type");
    cJSON *api = jg_obj_info_api_json(info);
    char *api_text = cJSON_PrintUnformatted(api);
    FUZZ_ASSERT(api_text != NULL);

    char *meta = jg_obj_info_meta_json(info);
    FUZZ_ASSERT(meta != NULL);
    FUZZ_ASSERT(jg_obj_info_parse(meta, strlen(meta), &again) == JG_OK);
    char *meta2 = jg_obj_info_meta_json(again);
    FUZZ_ASSERT(meta2 != NULL);
    if (strcmp(meta, meta2) != 0) {
        fprintf(stderr, "first:  %s\nsecond: %s\n", meta, meta2);
        FUZZ_ASSERT(!"ObjectInfo does not survive a round trip");
    }
    free(meta2);
    free(meta);
    free(api_text);
    cJSON_Delete(api);
    jg_obj_info_free(again);
    jg_obj_info_free(info);
    return 0;
}
