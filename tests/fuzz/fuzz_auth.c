/* fuzz_auth.c - the token file (jg_auth_load, through a memfd) and what a
 * client presents against it: the bearer token (jg_auth_find), the bucket
 * and key of the request (jg_auth_allows, jg_auth_scope and its union
 * matcher jg_auth_scope_allows) and bucket globs (jg_auth_glob).
 *
 * Input: "token file\0presented token\0bucket\0key".  Checks: a glob of
 * '*' and any tail of a name matches the name, a glob without '*' or '?'
 * matches only itself, and jg_auth_allows agrees with the union of
 * jg_auth_scope's prefixes for every permission (no scope: refused; a
 * scope of just "" for a whole-bucket rule; the whole bucket, key "", only
 * then).  A second token file is built from the input with several prefix
 * rules on the same bucket (pieces of the key, and strings that are no
 * prefix of it), so that rule sets of many prefixes per bucket are always
 * tried; its answer is known from how it was built. */
#define _GNU_SOURCE
#include "autoconfig.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth.h"
#include "fuzz_common.h"
#include "util.h"

/* The next NUL-terminated part of the input (malloc'd; "" past the end). */
static char *part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
    char *s = fuzz_str(*p, n);
    *p = nul ? nul + 1 : end;
    return s;
}

/* Rules "read@BUCKET/P" for several P: pieces of key where a byte of
 * sel says so, and the same pieces with their last byte changed (no
 * prefix of key).  The key is allowed exactly when one piece was taken. */
static void many_prefixes(const char *sel, const char *bucket, const char *key)
{
    char path[64];
    struct jg_auth *a = NULL;
    size_t kl = strlen(key), sl = strlen(sel);
    if (!*bucket || strpbrk(bucket, "/ \t\r\n#@,") || strpbrk(key, " \t\r\n") || kl > 160 || strlen(bucket) > 64)
        return;
    char *h = jg_auth_hash_token("fuzz-many");
    FUZZ_ASSERT(h != NULL);
    struct jg_buf b;
    jg_buf_init(&b);
    jg_buf_printf(&b, "many %s", h);
    bool expect = false;
    for (size_t i = 0; i < sl && i < 12; i++) {
        size_t n = 1 + (unsigned char)sel[i] % (kl ? kl : 1);
        if (n > kl)
            continue;
        char piece[161];
        memcpy(piece, key, n);
        piece[n] = '\0';
        if (sel[i] & 1) {
            expect = true;
        } else {
            piece[n - 1] = piece[n - 1] == 'x' ? 'y' : 'x';
        }
        jg_buf_printf(&b, " read@%s/%s", bucket, piece);
    }
    jg_buf_puts(&b, " write@");
    jg_buf_puts(&b, bucket);
    jg_buf_puts(&b, "\n");
    int fd = memfd_create("many", 0);
    FUZZ_ASSERT(fd >= 0);
    FUZZ_ASSERT(write(fd, b.data, b.len) == (ssize_t)b.len);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (jg_auth_load(path, &a) == JG_OK) {
        const struct jg_token *t = jg_auth_find(a, "fuzz-many");
        FUZZ_ASSERT(t != NULL);
        char **scope = NULL;
        jg_status st = jg_auth_scope(t, JG_PERM_READ, bucket, &scope);
        if (st == JG_OK) {
            FUZZ_ASSERT(jg_auth_scope_allows(scope, key) == expect);
            FUZZ_ASSERT(jg_auth_allows(t, JG_PERM_READ, bucket, key) == expect);
            FUZZ_ASSERT(!jg_auth_allows(t, JG_PERM_READ, bucket, ""));
            jg_strv_free(scope);
        } else {
            FUZZ_ASSERT(!expect);
        }
        FUZZ_ASSERT(jg_auth_allows(t, JG_PERM_WRITE, bucket, ""));
        jg_auth_free(a);
    }
    close(fd);
    jg_buf_done(&b);
    free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *file = part(&p, end), *presented = part(&p, end), *bucket = part(&p, end),
         *key = part(&p, end);
    struct jg_auth *a = NULL;
    char path[64];

    FUZZ_ASSERT(jg_auth_glob("*", bucket));
    if (!strpbrk(presented, "*?"))
        FUZZ_ASSERT(jg_auth_glob(presented, bucket) == (strcmp(presented, bucket) == 0));
    (void)jg_auth_glob(key, bucket);
    /* '*' followed by any tail of the bucket name matches it */
    size_t bl = strlen(bucket), k = strlen(presented) % (bl + 1);
    char *tail = malloc(bl - k + 2);
    FUZZ_ASSERT(tail != NULL);
    tail[0] = '*';
    memcpy(tail + 1, bucket + k, bl - k + 1);
    FUZZ_ASSERT(jg_auth_glob(tail, bucket));
    free(tail);

    int fd = memfd_create("tokens", 0);
    FUZZ_ASSERT(fd >= 0);
    size_t fl = strlen(file);
    FUZZ_ASSERT(write(fd, file, fl) == (ssize_t)fl);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (jg_auth_load(path, &a) == JG_OK) {
        (void)jg_auth_count(a);
        const struct jg_token *t = jg_auth_find(a, presented);
        if (t) {
            (void)jg_auth_token_name(t);
            static const enum jg_perm perms[] = {JG_PERM_READ, JG_PERM_WRITE, JG_PERM_DELETE,
                                                 JG_PERM_WATCH, JG_PERM_ADMIN, JG_PERM_LIST};
            for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
                bool ok = jg_auth_allows(t, perms[i], bucket, *key ? key : NULL);
                if (perms[i] == JG_PERM_LIST)
                    continue;
                char **scope = NULL;
                jg_status st = jg_auth_scope(t, perms[i], bucket, &scope);
                FUZZ_ASSERT(st == JG_OK || st == JG_ERR_FORBIDDEN);
                if (st != JG_OK) {
                    FUZZ_ASSERT(!ok);
                    FUZZ_ASSERT(!jg_auth_allows(t, perms[i], bucket, ""));
                    continue;
                }
                FUZZ_ASSERT(scope && scope[0]);
                bool whole = !*scope[0];
                FUZZ_ASSERT(!whole || !scope[1]);
                FUZZ_ASSERT(jg_auth_allows(t, perms[i], bucket, "") == whole);
                if (*key)
                    FUZZ_ASSERT(ok == jg_auth_scope_allows(scope, key));
                else
                    FUZZ_ASSERT(ok); /* no key: any rule for the bucket */
                jg_strv_free(scope);
            }
        }
        jg_auth_free(a);
    }
    close(fd);
    many_prefixes(presented, bucket, key);
    free(file);
    free(presented);
    free(bucket);
    free(key);
    return 0;
}
