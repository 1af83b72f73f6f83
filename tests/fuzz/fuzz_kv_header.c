/* fuzz_kv_header.c - jg_kv_parse_header_block(): a raw NATS header block
 * ("NATS/1.0\r\nKV-Operation: DEL\r\n...") as stored with a KV entry.
 *
 * Checks: the operation is one of the three, and a Content-Type found is
 * a NUL-free string no longer than the block. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "kv/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a heap copy of exactly size bytes, so reads past the end are caught */
    char *h = malloc(size ? size : 1);
    enum jg_kv_op op = (enum jg_kv_op)42;
    char *ctype = (char *)h;
    if (!h)
        abort();
    memcpy(h, data, size);
    jg_kv_parse_header_block(h, size, &op, &ctype);
    FUZZ_ASSERT(op == JG_KV_PUT || op == JG_KV_DEL || op == JG_KV_PURGE);
    if (ctype) {
        FUZZ_ASSERT(strlen(ctype) <= size);
        free(ctype);
    }
    free(h);
    return 0;
}
