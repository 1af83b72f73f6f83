/* fuzz_watch_query.c - jg_watch_query_parse() and jg_req_bool_parse():
 * the query of GET /v1/kvm/buckets/{b}/watch and /v1/objm/buckets/{b}/watch
 * (include, ignoreDeletes, metaOnly, resumeRevision, startTime, filter and
 * prefix lists) and the Last-Event-ID header, as decoded strings.
 *
 * Input: one flag byte, then pieces separated by NUL bytes.  Flag bit 0:
 * object watch (else KV); bits 1 to 6: include, ignoreDeletes, metaOnly,
 * resumeRevision, startTime and Last-Event-ID are present (the first six
 * pieces, in that order; absent is not the same as empty).  Every further
 * piece is a filter, or a prefix when it starts with 'p' (without it); at
 * most 64 of each, as the handler takes.
 *
 * Checks: on success every field follows the documented rules (checked
 * against references: strtoull, the boolean words, the include names),
 * resumeRevision and startTime never both, Last-Event-ID wins, fields the
 * parser does not own are untouched; on failure the parameters are
 * untouched, a detail is given, and the status fits the kind. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "http/request.h"
#include "kv/kv.h"
#include "util.h"
#include "http/watch_query.h"
#include "watch/watch.h"

#define MAX_LIST 64

/* The documented booleans: -1 = refused. */
static int ref_bool(const char *v)
{
    if (!v || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return 0;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return 1;
    return -1;
}

static bool ref_u64(const char *v, uint64_t *ret)
{
    if (!*v || strlen(v) > 20 || strspn(v, "0123456789") != strlen(v))
        return false;
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno)
        return false;
    *ret = x;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    enum jg_watch_kind kind = (flags & 1) ? JG_WATCH_OBJ : JG_WATCH_KV;
    char *buf = fuzz_str(data + 1, size - 1);
    size_t len = size - 1;

    /* pieces */
    const char *piece[6] = {NULL};
    char *filters[MAX_LIST + 1], *prefixes[MAX_LIST + 1];
    size_t nf = 0, np = 0, i = 0;
    for (size_t off = 0; off <= len;) {
        char *s = buf + off;
        size_t l = strlen(s);
        if (i < 6)
            piece[i] = (flags & (2u << i)) ? s : NULL;
        else if (*s == 'p' && np < MAX_LIST)
            prefixes[np++] = s + 1;
        else if (*s != 'p' && nf < MAX_LIST)
            filters[nf++] = s;
        i++;
        off += l + 1;
    }
    filters[nf] = prefixes[np] = NULL;

    struct jg_watch_query q = {
        .filters = nf ? filters : NULL,
        .prefixes = np ? prefixes : NULL,
        .include = piece[0],
        .ignore_deletes = piece[1],
        .meta_only = piece[2],
        .resume_revision = piece[3],
        .start_time = piece[4],
        .last_event_id = piece[5],
    };

    /* the boolean parser on its own */
    for (int k = 1; k <= 2; k++) {
        bool b = true;
        jg_status bst = jg_req_bool_parse(piece[k], &b);
        int ref = ref_bool(piece[k]);
        if (ref < 0)
            FUZZ_ASSERT(bst == JG_ERR_INVALID_PARAMETER && b == true);
        else
            FUZZ_ASSERT(bst == JG_OK && b == (ref == 1));
    }

    struct jg_watch_params p, before;
    memset(&p, 0, sizeof(p));
    p.kind = kind;
    p.bucket = "fuzz";
    static char *const scope[] = {"limit/", NULL};
    p.scope = scope;
    before = p;
    const char *detail = NULL;
    jg_status st = jg_watch_query_parse(kind, &q, &p, &detail);
    if (st == JG_OK) {
        FUZZ_ASSERT(p.kind == kind && p.bucket == before.bucket &&
                    p.scope == before.scope);
        FUZZ_ASSERT(p.filters == q.filters);
        for (size_t k = 0; k < nf; k++) {
            if (kind == JG_WATCH_KV)
                FUZZ_ASSERT(jg_kv_filter_valid(filters[k]));
            else
                FUZZ_ASSERT(*filters[k] && strlen(filters[k]) <= 1024);
        }
        if (kind == JG_WATCH_KV) {
            FUZZ_ASSERT(p.prefixes == q.prefixes);
            for (size_t k = 0; k < np; k++)
                FUZZ_ASSERT(*prefixes[k]);
            FUZZ_ASSERT(p.meta_only == (ref_bool(q.meta_only) == 1));
        } else {
            FUZZ_ASSERT(p.prefixes == NULL && !p.meta_only);
        }
        if (!q.include || strcmp(q.include, "lastValue") == 0)
            FUZZ_ASSERT(p.include == JG_WATCH_LAST_VALUE);
        else if (strcmp(q.include, "allHistory") == 0)
            FUZZ_ASSERT(p.include == JG_WATCH_ALL_HISTORY);
        else
            FUZZ_ASSERT(strcmp(q.include, "updatesOnly") == 0 &&
                        p.include == JG_WATCH_UPDATES_ONLY);
        FUZZ_ASSERT(p.ignore_deletes == (ref_bool(q.ignore_deletes) == 1));
        FUZZ_ASSERT(!(p.has_resume && p.has_start_time));
        uint64_t want;
        if (q.last_event_id && *q.last_event_id) {
            FUZZ_ASSERT(ref_u64(q.last_event_id, &want));
            FUZZ_ASSERT(p.has_resume && p.resume == want);
        } else if (q.resume_revision) {
            FUZZ_ASSERT(ref_u64(q.resume_revision, &want));
            FUZZ_ASSERT(p.has_resume && p.resume == want && !q.start_time);
        } else {
            FUZZ_ASSERT(!p.has_resume);
            FUZZ_ASSERT(p.has_start_time == (q.start_time != NULL));
            if (q.start_time) {
                int64_t ns;
                FUZZ_ASSERT(jg_time_parse_rfc3339(q.start_time, &ns) == JG_OK &&
                            ns == p.start_ns);
            }
        }
    } else {
        FUZZ_ASSERT(memcmp(&p, &before, sizeof(p)) == 0);
        FUZZ_ASSERT(detail != NULL && *detail);
        if (st == JG_ERR_INVALID_KEY)
            FUZZ_ASSERT(kind == JG_WATCH_KV);
        else if (st == JG_ERR_INVALID_NAME)
            FUZZ_ASSERT(kind == JG_WATCH_OBJ);
        else
            FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
    }
    free(buf);
    return 0;
}
