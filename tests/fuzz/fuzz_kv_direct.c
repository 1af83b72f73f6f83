/* fuzz_kv_direct.c - jg_kv_entry_from_direct(): a direct-get reply as
 * libnats hands it over (headers Status, Nats-Subject, Nats-Sequence,
 * Nats-Time-Stamp, KV-Operation, Content-Type, and the value).
 *
 * Input: header lines "Name:value" up to an empty line, then the payload.
 * Checks: an entry has a revision equal to Nats-Sequence and owns the
 * message; a status reply gives no entry. */
#include "autoconfig.h"

#include <stdbool.h>

#include <nats/nats.h>

#include "fuzz_common.h"
#include "kv/kv.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libnats must be initialised before a message is created or destroyed. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (nats_Open(-1) != NATS_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    natsMsg *msg = NULL;
    struct jg_kv_entry *e = NULL;
    char *hdrs;

    /* the header part ends at the first empty line */
    const char *body = p;
    while (body < end) {
        const char *eol = memchr(body, '\n', (size_t)(end - body));
        if (!eol) {
            body = end;
            break;
        }
        if (eol == body) {
            body = eol + 1;
            break;
        }
        body = eol + 1;
    }
    hdrs = fuzz_str(data, (size_t)(body - p));
    if (natsMsg_Create(&msg, "$JS.API.DIRECT.GET.KV_fuzz", NULL, body, (int)(end - body)) !=
        NATS_OK) {
        free(hdrs);
        return 0;
    }
    for (char *line = hdrs, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            continue;
        *colon = '\0';
        natsMsgHeader_Add(msg, line, colon + 1);
    }
    const char *seq = NULL, *status = NULL;
    natsMsgHeader_Get(msg, "Nats-Sequence", &seq);
    natsMsgHeader_Get(msg, "Status", &status);

    jg_status st = jg_kv_entry_from_direct("fuzz", msg, &e); /* takes msg */
    if (st == JG_OK) {
        uint64_t rev;
        FUZZ_ASSERT(e && e->key && e->value);
        FUZZ_ASSERT(seq && jg_u64_parse(seq, &rev) == JG_OK && rev == e->revision);
        FUZZ_ASSERT(!status || atoi(status) == 0);
        FUZZ_ASSERT(e->value_len == (size_t)(end - body));
        cJSON *o = jg_kv_entry_json(e);
        cJSON_Delete(o);
        jg_kv_entry_free(e);
    }
    free(hdrs);
    return 0;
}
