/* fuzz_obj_etag.c - jg_obj_etag_list_matches(): If-Match, If-None-Match
 * and If-Range of the object routes, against an object's digest.
 *
 * Input: one flag byte (bit 0: weak comparison), then "digest\0list".
 * Checks: the result is that of a straightforward reading of RFC 9110's
 * list (reference below); a weak comparison matches whatever a strong one
 * does; a digest's own tag (quoted, bare, weak, in a list) matches it. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "obj/obj.h"

/* The reference: split at ',', drop blanks around each member and skip
 * empty ones; a member starting with '*' matches anything; "W/" is dropped
 * when weak_ok; one pair of quotes around the rest is dropped. */
static bool ref_match(const char *list, const char *digest, bool weak_ok)
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
        while (len && (m[len - 1] == ' ' || m[len - 1] == '\t'))
            len--;
        if (len) {
            if (*m == '*')
                return true;
            if (weak_ok && m[0] == 'W' && m[1] == '/') {
                m += 2;
                len -= 2;
            }
            if (len >= 2 && m[0] == '"' && m[len - 1] == '"') {
                m++;
                len -= 2;
            }
            /* (an empty tag names an empty digest; jetgate has none) */
            if (strlen(digest) == len && strncmp(m, digest, len) == 0)
                return true;
        }
        if (!end)
            return false;
        p = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool weak_ok = data[0] & 1;
    char *digest, *list;
    fuzz_split2(data + 1, size - 1, &digest, &list);

    bool m = jg_obj_etag_list_matches(list, digest, weak_ok);
    FUZZ_ASSERT(m == ref_match(list, digest, weak_ok));
    FUZZ_ASSERT(!jg_obj_etag_list_matches(list, NULL, weak_ok) || strchr(list, '*'));
    FUZZ_ASSERT(!jg_obj_etag_list_matches(NULL, digest, weak_ok));
    size_t dl = strlen(digest);
    bool plain = dl && !strpbrk(digest, ",\"") && digest[0] != ' ' && digest[0] != '\t' &&
                 digest[0] != '*' && strncmp(digest, "W/", 2) != 0 &&
                 digest[dl - 1] != ' ' && digest[dl - 1] != '\t';
    if (plain) {
        /* weak comparison is the looser one */
        if (jg_obj_etag_list_matches(list, digest, false))
            FUZZ_ASSERT(jg_obj_etag_list_matches(list, digest, true));
        char *t = malloc(dl + 16);
        FUZZ_ASSERT(t != NULL);
        snprintf(t, dl + 16, "\"%s\"", digest);
        FUZZ_ASSERT(jg_obj_etag_list_matches(t, digest, weak_ok));
        FUZZ_ASSERT(jg_obj_etag_list_matches(digest, digest, weak_ok));
        snprintf(t, dl + 16, "W/\"%s\"", digest);
        FUZZ_ASSERT(jg_obj_etag_list_matches(t, digest, true));
        FUZZ_ASSERT(!jg_obj_etag_list_matches(t, digest, false));
        snprintf(t, dl + 16, "\"x\" ,\t\"%s\" ", digest);
        FUZZ_ASSERT(jg_obj_etag_list_matches(t, digest, weak_ok));
        free(t);
    }
    free(digest);
    free(list);
    return 0;
}
