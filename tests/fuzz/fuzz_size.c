/* fuzz_size.c - jg_size_parse(): sizes with binary suffixes from the
 * config file and environment ("64KiB", "1M").
 *
 * Checks: an accepted size is not negative and a multiple of its suffix. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    int64_t n = -7;
    jg_status st = jg_size_parse(s, &n);
    if (st == JG_OK) {
        FUZZ_ASSERT(n >= 0);
        if (strchr(s, 'G'))
            FUZZ_ASSERT(n % (1LL << 30) == 0);
        else if (strchr(s, 'M'))
            FUZZ_ASSERT(n % (1LL << 20) == 0);
        else if (strchr(s, 'K'))
            FUZZ_ASSERT(n % 1024 == 0);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
        FUZZ_ASSERT(n == -7);
    }
    free(s);
    return 0;
}
