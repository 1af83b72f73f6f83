/* auth.c - bearer tokens and per-bucket authorization (see auth.h). */
#include "autoconfig.h"
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/sha2.h>

#include "util.h"

#define SALT_MAX 64

struct rule {
    unsigned ops;
    char *bucket_glob;
    char *prefix;       /* "" = whole bucket */
};

struct jg_token {
    char *name;
    unsigned char salt[SALT_MAX];
    size_t salt_len;
    unsigned char hash[SHA256_DIGEST_SIZE];
    struct rule *rules;
    size_t nrules;
};

struct jg_auth {
    struct jg_token *tokens;
    size_t n;
    atomic_int refs;
};

static const struct {
    const char *name;
    unsigned ops;
} op_names[] = {
    {"read", JG_PERM_READ},   {"write", JG_PERM_WRITE}, {"delete", JG_PERM_DELETE},
    {"watch", JG_PERM_WATCH}, {"admin", JG_PERM_ADMIN},
    {"all", JG_PERM_READ | JG_PERM_WRITE | JG_PERM_DELETE | JG_PERM_WATCH | JG_PERM_ADMIN},
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool unhex(const char *s, size_t len, unsigned char *out, size_t max, size_t *ret_len)
{
    if (len % 2 || len / 2 > max)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    *ret_len = len / 2;
    return true;
}

static void digest(const unsigned char *salt, size_t salt_len, const char *token,
                   unsigned char out[SHA256_DIGEST_SIZE])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, salt_len, salt);
    sha256_update(&c, strlen(token), (const uint8_t *)token);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
    explicit_bzero(&c, sizeof(c));
}

bool jg_auth_glob(const char *p, const char *s)
{
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static void token_done(struct jg_token *t)
{
    for (size_t i = 0; i < t->nrules; i++) {
        free(t->rules[i].bucket_glob);
        free(t->rules[i].prefix);
    }
    free(t->rules);
    free(t->name);
    explicit_bzero(t, sizeof(*t));
}

void jg_auth_ref(struct jg_auth *a)
{
    if (a)
        atomic_fetch_add(&a->refs, 1);
}

void jg_auth_unref(struct jg_auth *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1)
        jg_auth_free(a);
}

void jg_auth_free(struct jg_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        token_done(&a->tokens[i]);
    free(a->tokens);
    free(a);
}

size_t jg_auth_count(const struct jg_auth *a)
{
    return a ? a->n : 0;
}

static bool parse_rule(char *text, struct rule *r)
{
    char *at = strchr(text, '@');
    if (!at || at == text || !at[1])
        return false;
    *at = '\0';
    r->ops = 0;
    for (char *save = NULL, *op = strtok_r(text, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
        unsigned found = 0;
        for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
            if (strcmp(op, op_names[i].name) == 0)
                found = op_names[i].ops;
        if (!found)
            return false;
        r->ops |= found;
    }
    char *target = at + 1, *slash = strchr(target, '/');
    r->prefix = strdup(slash ? slash + 1 : "");
    if (slash)
        *slash = '\0';
    r->bucket_glob = strdup(target);
    return r->prefix && r->bucket_glob && *r->bucket_glob;
}

static bool parse_line(char *line, struct jg_token *t)
{
    char *save = NULL;
    char *name = strtok_r(line, " \t", &save), *secret = strtok_r(NULL, " \t", &save);
    if (!name || !secret || strncmp(secret, "sha256:", 7) != 0)
        return false;
    char *salt = secret + 7, *colon = strchr(salt, ':');
    size_t hl;
    if (!colon || !unhex(salt, (size_t)(colon - salt), t->salt, SALT_MAX, &t->salt_len) ||
        t->salt_len < 8 || !unhex(colon + 1, strlen(colon + 1), t->hash, sizeof(t->hash), &hl) ||
        hl != SHA256_DIGEST_SIZE)
        return false;
    t->name = strdup(name);
    for (char *r = strtok_r(NULL, " \t", &save); r; r = strtok_r(NULL, " \t", &save)) {
        struct rule *n = realloc(t->rules, (t->nrules + 1) * sizeof(*n));
        if (!n)
            return false;
        t->rules = n;
        memset(&t->rules[t->nrules], 0, sizeof(struct rule));
        if (!parse_rule(r, &t->rules[t->nrules++]))
            return false;
    }
    return t->name && t->nrules > 0;
}

jg_status jg_auth_load(const char *path, struct jg_auth **ret_auth)
{
    struct jg_auth *a = calloc(1, sizeof(*a));
    char line[4096];
    int lineno = 0;
    FILE *f;

    if (!a)
        return JG_ERR_NOMEM;
    atomic_init(&a->refs, 1);
    if (!path || !*path) {
        *ret_auth = a;
        return JG_OK;
    }
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "jetgate: cannot open tokens file '%s': %s\n", path, strerror(errno));
        jg_auth_free(a);
        return JG_ERR_INVALID_CONFIG;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        s[strcspn(s, "\r\n")] = '\0';
        if (!*s || *s == '#')
            continue;
        struct jg_token *n = realloc(a->tokens, (a->n + 1) * sizeof(*n));
        if (!n)
            break;
        a->tokens = n;
        memset(&a->tokens[a->n], 0, sizeof(struct jg_token));
        bool ok = parse_line(s, &a->tokens[a->n]);
        a->n++;
        if (!ok) {
            fprintf(stderr,
                    "jetgate: %s:%d: expected 'NAME sha256:SALT:HASH OPS@BUCKET[/PREFIX]...' "
                    "(OPS: read,write,delete,watch,admin,all)\n",
                    path, lineno);
            explicit_bzero(line, sizeof(line));
            fclose(f);
            jg_auth_free(a);
            return JG_ERR_INVALID_CONFIG;
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    *ret_auth = a;
    return JG_OK;
}

const struct jg_token *jg_auth_find(const struct jg_auth *a, const char *presented)
{
    const struct jg_token *found = NULL;
    unsigned char h[SHA256_DIGEST_SIZE];
    if (!a || !presented || !*presented)
        return NULL;
    for (size_t i = 0; i < a->n; i++) {
        const struct jg_token *t = &a->tokens[i];
        unsigned char diff = 0;
        digest(t->salt, t->salt_len, presented, h);
        for (size_t k = 0; k < sizeof(h); k++)
            diff |= (unsigned char)(h[k] ^ t->hash[k]);
        if (diff == 0 && !found)
            found = t; /* keep going: the time does not depend on which */
    }
    explicit_bzero(h, sizeof(h));
    return found;
}

const char *jg_auth_token_name(const struct jg_token *t)
{
    return t ? t->name : "";
}

bool jg_auth_allows(const struct jg_token *t, enum jg_perm perm, const char *bucket,
                    const char *key)
{
    if (!t)
        return false;
    for (size_t i = 0; i < t->nrules; i++) {
        const struct rule *r = &t->rules[i];
        if (!bucket || !jg_auth_glob(r->bucket_glob, bucket))
            continue;
        if (perm == JG_PERM_LIST)
            return true;
        if (!(r->ops & perm))
            continue;
        if (key && strncmp(key, r->prefix, strlen(r->prefix)) != 0)
            continue;
        return true;
    }
    return false;
}

jg_status jg_auth_scope(const struct jg_token *t, enum jg_perm perm, const char *bucket,
                        char ***ret_scope)
{
    char **scope = NULL;
    bool whole = false, any = false;
    for (size_t i = 0; t && bucket && i < t->nrules; i++) {
        const struct rule *r = &t->rules[i];
        if ((r->ops & perm) && jg_auth_glob(r->bucket_glob, bucket)) {
            any = true;
            whole |= !*r->prefix;
        }
    }
    if (!any)
        return JG_ERR_FORBIDDEN;
    for (size_t i = 0; i < t->nrules && !(whole && scope); i++) {
        const struct rule *r = &t->rules[i];
        if (!(r->ops & perm) || !jg_auth_glob(r->bucket_glob, bucket) || (whole && *r->prefix))
            continue;
        if (jg_strv_add(&scope, r->prefix) != JG_OK) {
            jg_strv_free(scope);
            return JG_ERR_NOMEM;
        }
    }
    *ret_scope = scope;
    return JG_OK;
}

bool jg_auth_scope_allows(char *const *scope, const char *key)
{
    if (!scope)
        return true;
    for (size_t i = 0; scope[i]; i++)
        if (strncmp(key, scope[i], strlen(scope[i])) == 0)
            return true;
    return false;
}

char *jg_auth_hash_token(const char *token)
{
    unsigned char salt[16], h[SHA256_DIGEST_SIZE];
    char *out = malloc(7 + 32 + 1 + 64 + 1), *o;
    if (!out || getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
        free(out);
        return NULL;
    }
    digest(salt, sizeof(salt), token, h);
    o = out + sprintf(out, "sha256:");
    for (size_t i = 0; i < sizeof(salt); i++)
        o += sprintf(o, "%02x", salt[i]);
    *o++ = ':';
    for (size_t i = 0; i < sizeof(h); i++)
        o += sprintf(o, "%02x", h[i]);
    return out;
}
