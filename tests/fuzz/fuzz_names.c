/* fuzz_names.c - name validation: KV buckets, keys and key patterns,
 * object store buckets and object names (jg_kv_bucket_valid,
 * jg_kv_key_valid, jg_kv_filter_valid, jg_obj_bucket_valid,
 * jg_obj_name_valid, jg_obj_name_encode).
 *
 * Checks the relations the API relies on: a valid key is a valid pattern
 * that matches itself, a valid bucket name holds no subject separator or
 * wildcard, a valid object name encodes to a subject token. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "kv/kv.h"
#include "obj/obj.h"

static bool subject_token_safe(const char *s)
{
    return !strpbrk(s, ". *>\t\r\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);

    bool kb = jg_kv_bucket_valid(s);
    bool key = jg_kv_key_valid(s);
    bool filt = jg_kv_filter_valid(s);
    bool ob = jg_obj_bucket_valid(s);
    bool on = jg_obj_name_valid(s);

    if (kb)
        FUZZ_ASSERT(*s && subject_token_safe(s));
    if (ob)
        FUZZ_ASSERT(*s && subject_token_safe(s));
    if (key) {
        FUZZ_ASSERT(filt);
        FUZZ_ASSERT(jg_kv_filter_match(s, s));
        FUZZ_ASSERT(!strpbrk(s, " *>\t\r\n"));
    }
    if (on) {
        char *enc = jg_obj_name_encode(s);
        FUZZ_ASSERT(enc != NULL);
        FUZZ_ASSERT(subject_token_safe(enc));
        FUZZ_ASSERT(!strpbrk(enc, "+/"));
        free(enc);
    }
    free(s);
    return 0;
}
