/* router.c - path matching against the route table (see router.h). */
#include "autoconfig.h"
#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
    const char *name;
    int flag;
} methods[] = {
    {"GET", JG_GET}, {"HEAD", JG_HEAD}, {"PUT", JG_PUT}, {"POST", JG_POST},
    {"DELETE", JG_DELETE}, {"PATCH", JG_PATCH}, {"OPTIONS", JG_OPTIONS},
};

int jg_method_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(name, methods[i].name) == 0)
            return methods[i].flag;
    return 0;
}

void jg_methods_text(int m, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (!(m & methods[i].flag))
            continue;
        n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%s", n ? ", " : "",
                              methods[i].name);
    }
}

/* Splits path into raw segments (pointers into a copy). */
static int split(char *copy, char **segs, size_t *lens, int max)
{
    int n = 0;
    char *p = copy;
    if (*p == '/')
        p++;
    for (;;) {
        char *e = strchr(p, '/');
        if (n == max)
            return -1;
        segs[n] = p;
        lens[n] = e ? (size_t)(e - p) : strlen(p);
        n++;
        if (!e)
            break;
        p = e + 1;
    }
    return n;
}

/* Where a pattern's parameters sit in the path: the segment of the
 * {bucket}-like parameter and the first segment of the {key*}-like rest. */
struct seg_refs {
    int bucket;          /* -1: none */
    int rest;            /* -1: none */
    bool rest_is_key;
};

/* Matches one pattern against the raw segments, without decoding them. */
static bool match_one(const char *pattern, char **segs, size_t *lens, int nseg,
                      struct seg_refs *refs)
{
    const char *p = pattern + 1;
    int i = 0;
    refs->bucket = refs->rest = -1;
    refs->rest_is_key = false;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t pl = e ? (size_t)(e - p) : strlen(p);
        if (i >= nseg)
            return false;
        if (p[0] == '{' && p[pl - 2] == '*') {
            /* rest of the path, at least one segment */
            refs->rest = i;
            refs->rest_is_key = strncmp(p, "{key", 4) == 0;
            return true;
        }
        if (p[0] == '{')
            refs->bucket = i;
        else if (pl != lens[i] || strncmp(p, segs[i], pl) != 0)
            return false;
        i++;
        p += pl;
        if (*p == '/')
            p++;
    }
    return i == nseg;
}

/* Decodes the parameters of the matched route into m. */
static jg_status take_params(char **segs, size_t *lens, int nseg, const struct seg_refs *refs,
                             struct jg_route_match *m)
{
    if (refs->bucket >= 0 &&
        jg_pct_decode(segs[refs->bucket], lens[refs->bucket], &m->bucket) != JG_OK)
        return JG_ERR_INVALID_BUCKET;
    if (refs->rest < 0)
        return JG_OK;
    struct jg_buf b;
    jg_buf_init(&b);
    for (int k = refs->rest; k < nseg; k++) {
        char *d;
        if (jg_pct_decode(segs[k], lens[k], &d) != JG_OK) {
            jg_buf_done(&b);
            return refs->rest_is_key ? JG_ERR_INVALID_KEY : JG_ERR_INVALID_NAME;
        }
        if (k > refs->rest)
            jg_buf_append(&b, "/", 1);
        jg_buf_puts(&b, d);
        free(d);
    }
    m->key = jg_buf_take(&b, NULL);
    return m->key ? JG_OK : JG_ERR_NOMEM;
}

jg_status jg_router_match(const char *path, int method, struct jg_route_match *m)
{
    char *segs[JG_REQ_MAX_SEGS * 8];
    size_t lens[JG_REQ_MAX_SEGS * 8];
    char *copy = strdup(path);
    jg_status st = JG_ERR_NOT_FOUND;
    struct seg_refs refs, chosen;
    int nseg;

    memset(m, 0, sizeof(*m));
    if (!copy)
        return JG_ERR_NOMEM;
    nseg = split(copy, segs, lens, (int)(sizeof(segs) / sizeof(segs[0])));
    if (nseg < 0)
        goto out;
    for (const struct jg_route *r = jg_routes; r->pattern; r++) {
        if (!match_one(r->pattern, segs, lens, nseg, &refs))
            continue;
        m->allow |= r->methods;
        if ((r->methods & method) && !m->route) {
            m->route = r;
            chosen = refs;
        }
    }
    if (m->route) {
        st = take_params(segs, lens, nseg, &chosen, m);
        if (st != JG_OK) {
            free(m->bucket);
            free(m->key);
            m->bucket = m->key = NULL;
            m->route = NULL;
        }
    } else if (m->allow) {
        st = JG_ERR_METHOD_NOT_ALLOWED;
    }
out:
    free(copy);
    return st;
}
