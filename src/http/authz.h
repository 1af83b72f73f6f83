/* authz.h - authorization of a routed request, in one place and driven by
 * the route table: a route's row (struct jg_route: perm and names) says
 * which names the request carries and what a token needs for each.
 * Authentication (finding the token) is server.c's; what a rule grants is
 * auth.c's.  Nothing here blocks or allocates beyond a listing's scope. */
#ifndef JG_HTTP_AUTHZ_H
#define JG_HTTP_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "http/request.h"

/* The names of one request. */
struct jg_authz_names {
    const char *bucket;      /* decoded {bucket} or NULL */
    const char *key;         /* decoded {key*}/{name*} or NULL */
    const char *body;        /* the JSON body once it is in (maybe empty, ""), else NULL */
    size_t body_len;
};

/* Is route answered without a token?  metrics_public: the option. */
bool jg_authz_public(const struct jg_route *route, bool metrics_public);

/* Does the route carry names in its body (so jg_authz_check must run
 * again once the body is in)? */
bool jg_authz_body_names(const struct jg_route *route);

/* May token t (a valid token) make this request?  Checks every name the
 * route carries: with n->body NULL the path's only, else the body's too
 * (a body that is not the JSON expected is left to the handler, which
 * refuses it).  A rename is a write of the new name and a delete of the
 * old: until the body is in, the old name needs write or delete.  JG_OK, and for JG_RN_SELECTOR routes the token's scope in
 * *ret_scope (caller owns; left alone on other routes), or
 * JG_ERR_FORBIDDEN with a static reason in *ret_why, or JG_ERR_NOMEM.
 * Pure; thread-safe. */
jg_status jg_authz_check(const struct jg_token *t, const struct jg_route *route,
                         const struct jg_authz_names *n, char ***ret_scope,
                         const char **ret_why);

/* A read that follows an object link to bucket/name (name NULL: a link to
 * a whole bucket): may t (NULL with open access) read it?  Asked before
 * the target is looked up, so the answer does not tell whether it exists. */
bool jg_authz_link_hop(const struct jg_token *t, const char *bucket, const char *name);

/* May a key under prefix be in scope (jg_auth_scope; NULL: every key)?
 * false when the token's rules leave the whole prefix out: no scope
 * prefix starts with it and it starts with none.  Pure. */
bool jg_authz_prefix_reachable(char *const *scope, const char *prefix);

#endif
