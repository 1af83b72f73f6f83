/* fuzz_common.h - helpers shared by the libFuzzer harnesses in tests/fuzz/.
 *
 * Every harness defines LLVMFuzzerTestOneInput() and is compiled by clang
 * with -fsanitize=fuzzer,address,undefined together with the project's own
 * sources (see tests/fuzz/run.sh).  A failed invariant calls FUZZ_ASSERT,
 * which aborts, so libFuzzer records the input as a crash. */
#ifndef JG_FUZZ_COMMON_H
#define JG_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* NUL-terminated malloc'd copy of the input (C strings stop at the first
 * NUL byte, as a header or query value from libmicrohttpd would). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits the input at the first NUL byte into two strings (the second is
 * empty when there is no NUL).  Caller frees *a and *b. */
static inline void fuzz_split2(const uint8_t *data, size_t size, char **a, char **b)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t al = nul ? (size_t)(nul - data) : size;
    *a = fuzz_str(data, al);
    *b = nul ? fuzz_str(nul + 1, size - al - 1) : fuzz_str(data, 0);
}

#endif
