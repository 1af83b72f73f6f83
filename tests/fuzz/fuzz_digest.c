/* fuzz_digest.c - digests from clients and from stored metadata:
 * jg_obj_content_digest_parse() (the RFC 9530 Content-Digest request
 * header) and jg_obj_digest_parse() (an ObjectInfo "digest" field, also
 * the entity tags of If-Match / If-None-Match).
 *
 * Checks: a found sha-256 member re-encodes to the digest form that
 * jg_obj_digest_parse reads back to the same 32 bytes. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "obj/obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = fuzz_str(data, size);
    uint8_t sha[32], back[32];
    char text[54];
    bool found = true;

    jg_status st = jg_obj_content_digest_parse(h, &found, sha);
    FUZZ_ASSERT(st == JG_OK || st == JG_ERR_INVALID_PARAMETER);
    if (st == JG_OK && found) {
        jg_obj_digest_format(sha, text);
        FUZZ_ASSERT(strlen(text) == 52);
        FUZZ_ASSERT(jg_obj_digest_parse(text, back) == JG_OK);
        FUZZ_ASSERT(memcmp(sha, back, 32) == 0);
    }
    if (jg_obj_digest_parse(h, sha) == JG_OK) {
        jg_obj_digest_format(sha, text);
        FUZZ_ASSERT(jg_obj_digest_parse(text, back) == JG_OK);
        FUZZ_ASSERT(memcmp(sha, back, 32) == 0);
    }
    free(h);
    return 0;
}
