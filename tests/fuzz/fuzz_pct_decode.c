/* fuzz_pct_decode.c - jg_pct_decode() (path segments and query values) and
 * jg_pct_encode_header() (header values built from stored data).
 *
 * Checks: the decoded text is never longer than the input and holds no NUL;
 * input without '%' decodes to itself; encoding for a header gives
 * printable ASCII only, which decodes back to the original bytes. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "http/router.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out = NULL;

    jg_status st = jg_pct_decode(s, size, &out);
    if (st == JG_OK) {
        FUZZ_ASSERT(out != NULL);
        size_t ol = strlen(out);
        FUZZ_ASSERT(ol <= size);
        if (!memchr(s, '%', size) && !memchr(s, '\0', size))
            FUZZ_ASSERT(ol == size && memcmp(out, s, size) == 0);
        free(out);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
        FUZZ_ASSERT(memchr(s, '%', size) != NULL);
    }

    char *enc = jg_pct_encode_header(s, size);
    FUZZ_ASSERT(enc != NULL);
    size_t el = strlen(enc);
    for (size_t i = 0; i < el; i++)
        FUZZ_ASSERT(enc[i] >= 0x20 && enc[i] < 0x7f);
    if (!memchr(s, '\0', size)) {
        char *back = NULL;
        FUZZ_ASSERT(jg_pct_decode(enc, el, &back) == JG_OK);
        FUZZ_ASSERT(strlen(back) == size && memcmp(back, s, size) == 0);
        free(back);
    }
    free(enc);
    return 0;
}
