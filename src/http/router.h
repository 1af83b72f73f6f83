/* router.h - the route table and path matching.
 *
 * Paths are matched raw (libmicrohttpd is told not to decode them) and
 * every segment is percent-decoded on its own, so "%2F" inside a bucket
 * segment is not a separator. */
#ifndef JG_HTTP_ROUTER_H
#define JG_HTTP_ROUTER_H

#include <stdio.h>

#include "http/pct.h" /* jg_pct_decode() */
#include "http/request.h"

/* The table, terminated by a row with pattern == NULL. */
extern const struct jg_route jg_routes[];

struct jg_route_match {
    const struct jg_route *route;
    char *bucket;    /* malloc'd or NULL */
    char *key;       /* malloc'd or NULL */
    int allow;       /* methods allowed on this path, for 405 */
};

/* Matches path (raw, without query) and method.  JG_OK: route found.
 * JG_ERR_NOT_FOUND, JG_ERR_METHOD_NOT_ALLOWED (m->allow set),
 * JG_ERR_INVALID_BUCKET / _KEY / _NAME (bad percent-encoding in that
 * segment).  The caller frees
 * m->bucket and m->key in every case. */
jg_status jg_router_match(const char *path, int method, struct jg_route_match *m);

/* Writes the route table, one line per row: method, pattern,
 * operationId, permission and names, tab-separated (jetgate
 * --dump-routes; the authorization test is generated from it). */
void jg_routes_dump(FILE *out);

/* Method name to flag (0 if unknown) and flags to "GET, HEAD" text. */
int jg_method_from_name(const char *name);
void jg_methods_text(int methods, char *out, size_t outlen);

#endif
