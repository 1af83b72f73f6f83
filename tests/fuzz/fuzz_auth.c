/* fuzz_auth.c - the token file (jg_auth_load, through a memfd) and what a
 * client presents against it: the bearer token (jg_auth_find), the bucket
 * and key of the request (jg_auth_allows, jg_auth_key_prefix) and bucket
 * globs (jg_auth_glob).
 *
 * Input: "token file\0presented token\0bucket\0key".  Checks: a glob of
 * '*' and any tail of a name matches the name, a glob without '*' or '?'
 * matches only itself, and jg_auth_allows agrees with jg_auth_key_prefix
 * (no prefix: refused; "" or a prefix of the key: allowed). */
#define _GNU_SOURCE
#include "autoconfig.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth.h"
#include "fuzz_common.h"

/* The next NUL-terminated part of the input (malloc'd; "" past the end). */
static char *part(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
    char *s = fuzz_str(*p, n);
    *p = nul ? nul + 1 : end;
    return s;
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
                const char *prefix = jg_auth_key_prefix(t, perms[i], bucket);
                if (!prefix)
                    FUZZ_ASSERT(!ok);
                else if (!*prefix)
                    FUZZ_ASSERT(ok);
                else if (*key && strncmp(key, prefix, strlen(prefix)) == 0)
                    FUZZ_ASSERT(ok);
            }
        }
        jg_auth_free(a);
    }
    close(fd);
    free(file);
    free(presented);
    free(bucket);
    free(key);
    return 0;
}
