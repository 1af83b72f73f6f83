/* fuzz_rfc3339.c - jg_time_parse_rfc3339(): startTime query values and
 * timestamps in JetStream replies.
 *
 * Checks: an accepted time formats (jg_time_rfc3339, jg_time_http) and
 * parses back to the same instant. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    int64_t ns = 0, back = 0;
    char text[40], http[32];
    if (jg_time_parse_rfc3339(s, &ns) == JG_OK) {
        jg_time_rfc3339(ns, text);
        jg_time_http(ns, http);
        FUZZ_ASSERT(jg_time_parse_rfc3339(text, &back) == JG_OK);
        FUZZ_ASSERT(back == ns);
    }
    free(s);
    return 0;
}
