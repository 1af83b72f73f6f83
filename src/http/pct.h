/* pct.h - percent-decoding of path segments, query values and header
 * values. */
#ifndef JG_HTTP_PCT_H
#define JG_HTTP_PCT_H

#include <stddef.h>

#include "status.h"

/* Percent-decodes s (len bytes) into a malloc'd string with
 * libmicrohttpd's MHD_http_unescape ('+' stays '+').
 * JG_ERR_INVALID_PARAMETER on a malformed escape or an encoded NUL
 * ("%00"), which that decoder would let through. */
jg_status jg_pct_decode(const char *s, size_t len, char **ret);

#endif
