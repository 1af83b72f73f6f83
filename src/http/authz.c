/* authz.c - authorization of a routed request from its route's row (see
 * authz.h). */
#include "autoconfig.h"
#include "http/authz.h"

#include <string.h>

#include <cjson/cJSON.h>


bool jg_authz_public(const struct jg_route *route, bool metrics_public)
{
    return (route->names & JG_RN_PUBLIC) || (metrics_public && (route->names & JG_RN_METRICS));
}

bool jg_authz_body_names(const struct jg_route *route)
{
    return route->names & (JG_RN_LINK_TARGET | JG_RN_NEW_NAME);
}

static const char *json_string(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What a body names: the JSON object, or NULL when the body is not in yet
 * or is not an object (the handler refuses that). */
struct body_names {
    bool in;                 /* the body has been read */
    const char *bucket;      /* "bucket" */
    const char *name;        /* "name" */
};

/* The names in the path.  A rename (JG_RN_NEW_NAME) does not write the
 * old name, it deletes it: before the body is in, write or delete on it
 * will do; after, delete when the body renames, else write. */
static jg_status check_path(const struct jg_token *t, const struct jg_route *route,
                            const struct jg_authz_names *n, const struct body_names *bn,
                            char ***ret_scope, const char **why)
{
    enum jg_perm perm = (enum jg_perm)route->perm;
    if (!(route->names & JG_RN_BUCKET))
        return JG_OK; /* any valid token; bucket listings show only the token's buckets */
    if ((route->names & JG_RN_KEY) && n->key) {
        *why = "the token may not do this on this key";
        bool ok = jg_auth_allows(t, perm, n->bucket, n->key);
        if (route->names & JG_RN_NEW_NAME) {
            bool renames = bn->name && strcmp(bn->name, n->key) != 0;
            bool may_delete = jg_auth_allows(t, JG_PERM_DELETE, n->bucket, n->key);
            if (!bn->in)
                ok = ok || may_delete;
            else if (renames) {
                ok = may_delete;
                *why = "a rename needs write on the new name and delete on the old";
            }
        }
        return ok ? JG_OK : JG_ERR_FORBIDDEN;
    }
    if (route->names & JG_RN_SELECTOR) {
        *why = "the token may not do this on this bucket";
        return jg_auth_scope(t, perm, n->bucket, ret_scope);
    }
    *why = "the token may not do this on the whole bucket";
    return jg_auth_allows(t, perm, n->bucket, "") ? JG_OK : JG_ERR_FORBIDDEN;
}

/* The names in the body. */
static jg_status check_body(const struct jg_token *t, const struct jg_route *route,
                            const struct jg_authz_names *n, const struct body_names *bn,
                            const char **why)
{
    if ((route->names & JG_RN_LINK_TARGET) && bn->bucket &&
        !jg_auth_allows(t, JG_PERM_READ, bn->bucket, bn->name ? bn->name : "")) {
        *why = bn->name && *bn->name ? "the token may not read the link's target"
                                     : "the token may not read the whole target bucket";
        return JG_ERR_FORBIDDEN;
    }
    if ((route->names & JG_RN_NEW_NAME) && bn->name && n->key && strcmp(bn->name, n->key) != 0 &&
        !jg_auth_allows(t, JG_PERM_WRITE, n->bucket, bn->name)) {
        *why = "a rename needs write on the new name and delete on the old";
        return JG_ERR_FORBIDDEN;
    }
    return JG_OK;
}

jg_status jg_authz_check(const struct jg_token *t, const struct jg_route *route,
                         const struct jg_authz_names *n, char ***ret_scope,
                         const char **ret_why)
{
    char **scope = NULL;
    const char *why = "the token may not do this";
    struct body_names bn = {0};
    cJSON *body = NULL;
    if (n->body && jg_authz_body_names(route)) {
        bn.in = true;
        body = cJSON_ParseWithLength(n->body, n->body_len);
        if (cJSON_IsObject(body)) {
            bn.bucket = json_string(body, "bucket");
            bn.name = json_string(body, "name");
        }
    }
    jg_status st = check_path(t, route, n, &bn, &scope, &why);
    if (st == JG_OK && bn.in)
        st = check_body(t, route, n, &bn, &why);
    cJSON_Delete(body);
    if (st != JG_OK) {
        jg_strv_free(scope);
        *ret_why = why;
        return st;
    }
    if (scope)
        *ret_scope = scope;
    return JG_OK;
}

bool jg_authz_link_hop(const struct jg_token *t, const char *bucket, const char *name)
{
    return !t || jg_auth_allows(t, JG_PERM_READ, bucket, name ? name : "");
}

bool jg_authz_prefix_reachable(char *const *scope, const char *prefix)
{
    if (!scope)
        return true;
    size_t pl = strlen(prefix);
    for (size_t i = 0; scope[i]; i++) {
        size_t sl = strlen(scope[i]);
        if (strncmp(scope[i], prefix, sl < pl ? sl : pl) == 0)
            return true;
    }
    return false;
}
