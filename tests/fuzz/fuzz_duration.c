/* fuzz_duration.c - jg_duration_parse(): Go-style durations from the
 * config file, bucket configuration bodies ("ttl") and query parameters.
 *
 * Checks: an accepted duration is not negative; a bare integer is that
 * many nanoseconds. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    int64_t ns = -7;
    uint64_t u;
    jg_status st = jg_duration_parse(s, &ns);
    if (st == JG_OK) {
        FUZZ_ASSERT(ns >= 0);
        if (jg_u64_parse(s, &u) == JG_OK)
            FUZZ_ASSERT((uint64_t)ns == u);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
        FUZZ_ASSERT(ns == -7);
    }
    free(s);
    return 0;
}
