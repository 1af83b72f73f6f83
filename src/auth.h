/* auth.h - bearer tokens and per-bucket authorization.
 *
 * Tokens live in a token file (option tokens_file), one per line:
 *
 *   # name   secret hash                        rules
 *   ci       sha256:<salt hex>:<sha256 hex>     read,write@app-*  read@shared/config/
 *
 * The hash is SHA-256 over salt bytes followed by the token; `jetgate
 * --hash-token` prints one for a token read from standard input.  A rule is
 * OPS@BUCKET-GLOB[/KEY-PREFIX] with OPS a comma list of read, write,
 * delete, watch, admin (bucket management) or all.  A request is allowed
 * when any rule of its token names the operation, matches the bucket and,
 * for key and object operations, the key starts with the rule's prefix.
 * An operation on a whole bucket is asked as the key "" and so needs a
 * rule without a prefix.  Listings and watches see the union of the
 * prefixes of every rule that grants them (jg_auth_scope).
 * Clear tokens are never stored: a presented token is hashed with each
 * salt and compared in constant time.  Thread-safe once loaded; reloading
 * builds a new set. */
#ifndef JG_AUTH_H
#define JG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

enum jg_perm {
    JG_PERM_NONE = 0,   /* public route (health, metrics) */
    JG_PERM_READ = 1 << 0,
    JG_PERM_WRITE = 1 << 1,
    JG_PERM_DELETE = 1 << 2,
    JG_PERM_WATCH = 1 << 3,
    JG_PERM_ADMIN = 1 << 4,
    JG_PERM_LIST = 1 << 5, /* bucket listing: any permission on a bucket shows it */
};

struct jg_auth;        /* a loaded token set */
struct jg_token;       /* one token of it */

/* Loads path (NULL or "" = no tokens: open access).  On error prints file
 * and line and returns JG_ERR_INVALID_CONFIG. */
jg_status jg_auth_load(const char *path, struct jg_auth **ret_auth);
void jg_auth_free(struct jg_auth *a);
/* Reference counting for sets replaced by a reload while requests still
 * use them: jg_auth_load gives one reference; the last unref frees. */
void jg_auth_ref(struct jg_auth *a);
void jg_auth_unref(struct jg_auth *a);
/* Number of tokens (0 = open access). */
size_t jg_auth_count(const struct jg_auth *a);

/* Finds the token presented (as in "Authorization: Bearer <t>"), or NULL. */
const struct jg_token *jg_auth_find(const struct jg_auth *a, const char *presented);
const char *jg_auth_token_name(const struct jg_token *t);

/* May t do perm on bucket (and key, when key is not NULL)?  With
 * JG_PERM_LIST: does t have any permission on bucket. */
bool jg_auth_allows(const struct jg_token *t, enum jg_perm perm, const char *bucket,
                    const char *key);

/* The key prefixes of every rule of t that grants perm on bucket, as a
 * NULL-terminated list in *ret_scope (caller frees with jg_strv_free):
 * just {""} when one rule covers the whole bucket.  JG_ERR_FORBIDDEN when
 * no rule grants perm there (*ret_scope untouched), JG_ERR_NOMEM.  For
 * listings and watches, with jg_auth_scope_allows. */
jg_status jg_auth_scope(const struct jg_token *t, enum jg_perm perm, const char *bucket,
                        char ***ret_scope);
/* Does key start with one of scope's prefixes?  A NULL scope (open access,
 * no token) allows every key.  Pure. */
bool jg_auth_scope_allows(char *const *scope, const char *key);

/* Glob match with '*' and '?' (bucket patterns). */
bool jg_auth_glob(const char *pattern, const char *s);

/* "sha256:<salt>:<hash>" for token, with a fresh random salt (malloc'd). */
char *jg_auth_hash_token(const char *token);

#endif
