/* fuzz_filter_match.c - NATS subject matching of KV keys against key
 * patterns (jg_kv_filter_match), and the watch engine's key selection
 * (jg_watch_key_wanted).
 *
 * Input: "pattern\0key".  Checks: a pattern without wildcards matches only
 * the identical key; for a valid key, the patterns made by turning one of
 * its tokens into '*' or its tail into '>' match it; the watch selection
 * agrees with the match for filters and with a byte prefix for prefixes. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "kv/kv.h"
#include "watch/watch.h"

/* key with token number tok replaced by '*' (or, with tail, the tokens
 * from tok on replaced by '>'); malloc'd. */
static char *wildcard(const char *key, size_t tok, bool tail)
{
    size_t len = strlen(key);
    char *out = malloc(len + 2), *o = out;
    const char *p = key;
    size_t i = 0;
    if (!out)
        abort();
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t tl = dot ? (size_t)(dot - p) : strlen(p);
        if (i == tok) {
            *o++ = tail ? '>' : '*';
            if (tail)
                break;
        } else {
            memcpy(o, p, tl);
            o += tl;
        }
        if (!dot)
            break;
        *o++ = '.';
        p = dot + 1;
        i++;
    }
    *o = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *pat, *key;
    fuzz_split2(data, size, &pat, &key);

    bool m = jg_kv_filter_match(pat, key);
    if (!strpbrk(pat, "*>"))
        FUZZ_ASSERT(m == (strcmp(pat, key) == 0));

    if (jg_kv_key_valid(key)) {
        size_t ntok = 1;
        for (const char *p = key; *p; p++)
            ntok += *p == '.';
        size_t tok = strlen(pat) % ntok;
        char *star = wildcard(key, tok, false), *gt = wildcard(key, tok, true);
        FUZZ_ASSERT(jg_kv_filter_valid(star) && jg_kv_filter_valid(gt));
        FUZZ_ASSERT(jg_kv_filter_match(star, key));
        FUZZ_ASSERT(jg_kv_filter_match(gt, key));
        free(star);
        free(gt);
        if (jg_kv_filter_valid(pat)) {
            char *filters[] = {pat, NULL};
            FUZZ_ASSERT(jg_watch_key_wanted(filters, NULL, false, key) == m);
        }
    }
    char *prefixes[] = {pat, NULL};
    FUZZ_ASSERT(jg_watch_key_wanted(NULL, prefixes, false, key) ==
                (strncmp(key, pat, strlen(pat)) == 0));
    FUZZ_ASSERT(jg_watch_key_wanted(NULL, NULL, false, key));
    free(pat);
    free(key);
    return 0;
}
