/* fuzz_kv_entry.c - jg_kv_entry_from_stored(): a STREAM.MSG.GET reply's
 * "message" object (subject, seq, time, base64 hdrs and data), then the
 * entry's JSON form (jg_kv_entry_json).
 *
 * Input: JSON text (the "message" object). */
#include "autoconfig.h"

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "kv/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *m = cJSON_ParseWithLength((const char *)data, size);
    struct jg_kv_entry *e = NULL;
    if (!m)
        return 0;
    if (jg_kv_entry_from_stored("fuzz", m, &e) == JG_OK) {
        FUZZ_ASSERT(e && e->bucket && e->key && e->value);
        FUZZ_ASSERT(e->op == JG_KV_PUT || e->op == JG_KV_DEL || e->op == JG_KV_PURGE);
        cJSON *o = jg_kv_entry_json(e);
        char *text = cJSON_PrintUnformatted(o);
        FUZZ_ASSERT(text != NULL);
        free(text);
        cJSON_Delete(o);
        jg_kv_entry_free(e);
    }
    cJSON_Delete(m);
    return 0;
}
