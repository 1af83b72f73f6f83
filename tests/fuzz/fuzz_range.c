/* fuzz_range.c - jg_obj_range_parse(): the Range request header against
 * an object size.
 *
 * Input: 8 bytes of object size (little-endian; sizes are reduced to
 * keep small objects common), then the header value.  Checks: a
 * satisfiable range lies within the object, start <= end; an
 * unsatisfiable one only happens for a start at or past the end, an empty
 * suffix or an empty object. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "obj/obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t objsize = 0, start = 7, end = 7;
    if (size < 8)
        return 0;
    for (int i = 7; i >= 0; i--)
        objsize = objsize << 8 | data[i];
    switch (data[0] & 3) {
    case 0: objsize %= 17; break;
    case 1: objsize %= 1u << 20; break;
    default: break;
    }
    char *h = fuzz_str(data + 8, size - 8);
    enum jg_obj_range_kind k = jg_obj_range_parse(h, objsize, &start, &end);
    switch (k) {
    case JG_RANGE_OK:
        FUZZ_ASSERT(objsize > 0);
        FUZZ_ASSERT(start <= end);
        FUZZ_ASSERT(end < objsize);
        break;
    case JG_RANGE_NONE:
    case JG_RANGE_UNSATISFIABLE:
        FUZZ_ASSERT(start == 7 && end == 7);
        break;
    default:
        FUZZ_ASSERT(!"unknown range kind");
    }
    FUZZ_ASSERT(jg_obj_range_parse(NULL, objsize, &start, &end) == JG_RANGE_NONE);
    free(h);
    return 0;
}
