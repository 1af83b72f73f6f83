/* fuzz_watch_ack.c - jg_nats_ack_parse(): the reply subject of a
 * JetStream delivery, which the watch engine, the object reader, key
 * listings and the reply multiplexer trust for consumer names, sequence
 * numbers, timestamps and pending counts.
 *
 * Checks: only "$JS.ACK." subjects are accepted, and never with a zero
 * stream or consumer sequence. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "nats/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct jg_nats_ack a;
    memset(&a, 0, sizeof(a));
    if (jg_nats_ack_parse(s, &a)) {
        FUZZ_ASSERT(strncmp(s, "$JS.ACK.", 8) == 0);
        FUZZ_ASSERT(a.stream > s && a.stream + a.stream_len <= s + strlen(s));
        FUZZ_ASSERT(a.consumer > a.stream && a.consumer + a.consumer_len <= s + strlen(s));
        FUZZ_ASSERT(a.sseq > 0 && a.cseq > 0);
    }
    free(s);
    return 0;
}
