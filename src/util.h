/* util.h - small shared helpers: growable buffers, clocks, time formats,
 * Go-style durations, sizes, base64 (nettle) and percent-encoding.
 * All functions are thread-safe and allocate nothing unless stated. */
#ifndef JG_UTIL_H
#define JG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Growable byte buffer.  jg_buf_init() on caller storage, jg_buf_done()
 * frees the data.  The data is always NUL-terminated past len. */
struct jg_buf {
    char *data;
    size_t len;
    size_t cap;
};

void jg_buf_init(struct jg_buf *b);
void jg_buf_done(struct jg_buf *b);
jg_status jg_buf_append(struct jg_buf *b, const void *data, size_t len);
jg_status jg_buf_puts(struct jg_buf *b, const char *s);
jg_status jg_buf_printf(struct jg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (free() it); the buffer is empty afterwards. */
char *jg_buf_take(struct jg_buf *b, size_t *ret_len);

/* Monotonic clock in milliseconds and realtime clock in nanoseconds. */
int64_t jg_now_ms(void);
int64_t jg_realtime_ns(void);

/* RFC 3339 UTC with up to 9 fractional digits, trailing zeros trimmed
 * ("2024-01-02T03:04:05.5Z").  out must hold 40 bytes. */
void jg_time_rfc3339(int64_t unix_ns, char out[40]);
/* Parses RFC 3339 (any offset, optional fraction). */
jg_status jg_time_parse_rfc3339(const char *s, int64_t *ret_unix_ns);
/* HTTP-date (RFC 9110 IMF-fixdate).  out must hold 32 bytes. */
void jg_time_http(int64_t unix_ns, char out[32]);

/* Go-style duration ("500ms", "1h30m", "0"); a bare integer is nanoseconds. */
jg_status jg_duration_parse(const char *s, int64_t *ret_ns);
/* Size with optional binary suffix ("64KiB", "1M", "1024"). */
jg_status jg_size_parse(const char *s, int64_t *ret_bytes);
/* Strict non-negative decimal integer, no sign, no spaces. */
jg_status jg_u64_parse(const char *s, uint64_t *ret);

/* Base64: std (RFC 4648 section 4, padded) or URL-safe (section 5, padded).
 * Encode returns a malloc'd NUL-terminated string.  Decode returns a malloc'd
 * buffer; invalid input gives JG_ERR_INVALID_PARAMETER. */
char *jg_base64_encode(const void *data, size_t len, bool url);
jg_status jg_base64_decode(const char *s, size_t slen, bool url, char **ret_data, size_t *ret_len);

/* NULL-terminated string lists: a deep copy (NULL on no memory; a NULL
 * list copies as an empty one) and its release (NULL-safe). */
char **jg_strv_dup(char *const *v);
void jg_strv_free(char **v);
/* Appends a copy of s to *v (which may be NULL); JG_ERR_NOMEM. */
jg_status jg_strv_add(char ***v, const char *s);
size_t jg_strv_len(char *const *v);

/* Percent-encodes bytes outside printable ASCII, and '%', for header values.
 * Returns malloc'd string. */
char *jg_pct_encode_header(const char *s, size_t len);

#endif
