/* fuzz_kv_etag.c - jg_kv_etag_parse() and jg_kv_etag_list_match(): the
 * If-Match and If-None-Match headers of the KV key routes.
 *
 * Input: "rev\0header" (rev read by jg_u64_parse, 0 when it is not a
 * number).  Checks: an accepted tag is a revision that formats back to a
 * tag matching it (strong, weak, in a list) and not the next revision; a
 * list matches exactly as a straightforward reading of RFC 9110's list
 * says (reference below); a match without '*' names the revision's
 * digits. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "kv/kv.h"
#include "util.h"

/* The reference: split at ',', drop blanks around each member; a member
 * starting with '*' matches anything; "W/" is dropped; members of 40 bytes
 * or more (no revision is that long) are skipped. */
static bool ref_match(const char *list, uint64_t rev)
{
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *m = p;
        while (len && (*m == ' ' || *m == '\t')) {
            m++;
            len--;
        }
        if (len && *m == '*')
            return true;
        if (len >= 2 && m[0] == 'W' && m[1] == '/') {
            m += 2;
            len -= 2;
        }
        if (len && len < 40) {
            char tag[40];
            memcpy(tag, m, len);
            while (len && (tag[len - 1] == ' ' || tag[len - 1] == '\t'))
                len--;
            tag[len] = '\0';
            uint64_t r;
            if (jg_kv_etag_parse(tag, &r) == JG_OK && r == rev)
                return true;
        }
        if (!end)
            return false;
        p = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *revs, *s;
    fuzz_split2(data, size, &revs, &s);
    uint64_t rev = 0;
    if (jg_u64_parse(revs, &rev) != JG_OK)
        rev = 0;

    /* If-Match: one strong tag */
    uint64_t r = 777;
    jg_status st = jg_kv_etag_parse(s, &r);
    if (st == JG_OK) {
        char tag[48], weak[64], list[128];
        snprintf(tag, sizeof(tag), "\"%llu\"", (unsigned long long)r);
        snprintf(weak, sizeof(weak), "W/%s", tag);
        snprintf(list, sizeof(list), "\"x\", %s ,\t\"y\"", weak);
        uint64_t back = 0;
        FUZZ_ASSERT(jg_kv_etag_parse(tag, &back) == JG_OK && back == r);
        FUZZ_ASSERT(jg_kv_etag_list_match(tag, r));
        FUZZ_ASSERT(jg_kv_etag_list_match(weak, r));
        FUZZ_ASSERT(jg_kv_etag_list_match(list, r));
        if (r != UINT64_MAX)
            FUZZ_ASSERT(!jg_kv_etag_list_match(tag, r + 1));
        /* the text itself: digits, quoted or not */
        size_t n = strlen(s);
        FUZZ_ASSERT(n >= 1 && n <= 22);
    } else {
        FUZZ_ASSERT(st == JG_ERR_INVALID_PARAMETER);
        FUZZ_ASSERT(r == 777);
    }

    /* If-None-Match: a list */
    bool m = jg_kv_etag_list_match(s, rev);
    FUZZ_ASSERT(m == ref_match(s, rev));
    if (m && !strchr(s, '*')) {
        char digits[24];
        snprintf(digits, sizeof(digits), "%llu", (unsigned long long)rev);
        FUZZ_ASSERT(strstr(s, digits) != NULL);
    }
    free(revs);
    free(s);
    return 0;
}
