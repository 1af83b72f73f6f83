/* fuzz_base64.c - jg_base64_decode() (std and URL-safe alphabets): KV
 * values and headers in JetStream replies, object digests.
 *
 * Checks: the decoded length stays within the bound for the input length,
 * and decoded bytes encode and decode back to themselves. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int url = 0; url < 2; url++) {
        char *out = NULL, *again = NULL;
        size_t ol = 0, al = 0;
        if (jg_base64_decode((const char *)data, size, url, &out, &ol) != JG_OK)
            continue;
        FUZZ_ASSERT(ol <= (size * 3) / 4 + 3);
        FUZZ_ASSERT(out[ol] == '\0');
        char *enc = jg_base64_encode(out, ol, url);
        FUZZ_ASSERT(enc != NULL);
        FUZZ_ASSERT(strlen(enc) % 4 == 0);
        FUZZ_ASSERT(jg_base64_decode(enc, strlen(enc), url, &again, &al) == JG_OK);
        FUZZ_ASSERT(al == ol && memcmp(again, out, ol) == 0);
        free(again);
        free(enc);
        free(out);
    }
    return 0;
}
