/* fuzz_u64.c - jg_u64_parse(): revisions, If-Match tags, resumeRevision,
 * Last-Event-ID and other decimal numbers from clients.
 *
 * Checks against strtoull: accepted exactly when the text is 1 to 20
 * digits whose value fits in 64 bits, and then with the same value. */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    uint64_t v = 12345;
    jg_status st = jg_u64_parse(s, &v);

    bool digits = *s != '\0';
    for (const char *p = s; *p; p++)
        digits = digits && isdigit((unsigned char)*p);
    errno = 0;
    unsigned long long ref = digits ? strtoull(s, NULL, 10) : 0;
    bool fits = digits && errno == 0;
    if (st == JG_OK) {
        FUZZ_ASSERT(fits);
        FUZZ_ASSERT(v == ref);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
        FUZZ_ASSERT(v == 12345);
        FUZZ_ASSERT(!fits || strlen(s) > 20);
    }
    free(s);
    return 0;
}
