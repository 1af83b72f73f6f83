/* pct.c - percent-decoding of path segments, query values and header
 * values (see pct.h): libmicrohttpd decodes, jetgate checks first. */
#include "autoconfig.h"
#include "http/pct.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

/* Whether every '%' in s starts an escape of two hex digits other than
 * "%00": libmicrohttpd's decoder is lenient (it keeps a malformed escape as
 * it is, and decodes "%00" into a NUL that would cut the name short), while
 * jetgate refuses both. */
static bool escapes_ok(const char *s, size_t len)
{
    const char *end = s + len;
    for (const char *p = memchr(s, '%', len); p; p = memchr(p + 1, '%', (size_t)(end - p - 1))) {
        size_t left = len - (size_t)(p - s);
        if (left < 3 || !isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]) ||
            (p[1] == '0' && p[2] == '0'))
            return false;
        if (left == 3)
            break;
    }
    return true;
}

jg_status jg_pct_decode(const char *s, size_t len, char **ret)
{
    if (!escapes_ok(s, len))
        return JG_ERR_INVALID_PARAMETER;
    char *out = malloc(len + 1);
    if (!out)
        return JG_ERR_NOMEM;
    memcpy(out, s, len);
    out[len] = '\0';
    MHD_http_unescape(out);
    *ret = out;
    return JG_OK;
}
