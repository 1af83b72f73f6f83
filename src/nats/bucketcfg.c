/* bucketcfg.c - bucket configurations by table (see bucketcfg.h). */
#include "autoconfig.h"
#include "nats/bucketcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/js.h"

#define AT(cfg, off, type) ((type)((char *)(cfg) + (off)))
#define CAT(cfg, off, type) ((const type)((const char *)(cfg) + (off)))

static bool given(const struct jg_bcf_field *d, const void *cfg)
{
    return *CAT(cfg, d->has_off, bool *);
}

static const struct jg_bcf_field *field_named(const struct jg_bcf_fields *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].name, name) == 0)
            return &t->f[i];
    return NULL;
}

static jg_status parse_text(const struct jg_bcf_field *d, const cJSON *v, void *cfg, char *why,
                            size_t wl)
{
    char **p = AT(cfg, d->off, char **);
    bool *has = AT(cfg, d->has_off, bool *);
    if (!cJSON_IsString(v)) {
        snprintf(why, wl, "'%s' must be a string", d->name);
        return JG_ERR_INVALID_CONFIG;
    }
    /* a repeated field: the last one counts, as for the others */
    free(*p);
    *p = strdup(v->valuestring);
    *has = *p != NULL;
    if (!*p) {
        snprintf(why, wl, "out of memory");
        return JG_ERR_NOMEM;
    }
    return JG_OK;
}

static jg_status parse_number(const struct jg_bcf_field *d, const cJSON *v, void *cfg, char *why,
                              size_t wl)
{
    int64_t n = 0;
    switch (d->type) {
    case JG_BCF_INT:
        if (jg_js_json_i64(v, &n) != JG_OK || n < d->min || n > d->max) {
            snprintf(why, wl, "'%s' must be an integer from %lld to %lld", d->name,
                     (long long)d->min, (long long)d->max);
            return JG_ERR_INVALID_CONFIG;
        }
        break;
    case JG_BCF_LIMIT:
        if (jg_js_json_i64(v, &n) != JG_OK || n < -1 || n == 0 || n > d->max) {
            snprintf(why, wl, "'%s' must be -1 (unlimited) or a positive integer", d->name);
            return JG_ERR_INVALID_CONFIG;
        }
        break;
    default: /* JG_BCF_DURATION */
        if (jg_js_json_duration(v, &n) != JG_OK) {
            snprintf(why, wl, "'%s' must be nanoseconds or a duration such as \"1h\"", d->name);
            return JG_ERR_INVALID_CONFIG;
        }
        break;
    }
    *AT(cfg, d->off, int64_t *) = n;
    *AT(cfg, d->has_off, bool *) = true;
    return JG_OK;
}

static jg_status parse_storage(const struct jg_bcf_field *d, const cJSON *v, void *cfg, char *why,
                               size_t wl)
{
    static const char *const kinds[] = {"file", "memory"};
    for (size_t i = 0; cJSON_IsString(v) && i < 2; i++) {
        if (strcmp(v->valuestring, kinds[i]) == 0) {
            strcpy(AT(cfg, d->off, char *), kinds[i]);
            *AT(cfg, d->has_off, bool *) = true;
            return JG_OK;
        }
    }
    snprintf(why, wl, "'%s' must be \"file\" or \"memory\"", d->name);
    return JG_ERR_INVALID_CONFIG;
}

jg_status jg_bucketcfg_parse(const struct jg_bcf_fields *t, const char *body, size_t len,
                             void *cfg, char *why, size_t wl)
{
    cJSON *root = NULL;
    jg_status st = JG_OK;
    if (len == 0)
        return JG_OK; /* all defaults */
    if (strlen(body) != len || !(root = cJSON_ParseWithOpts(body, NULL, true)) ||
        !cJSON_IsObject(root)) {
        snprintf(why, wl, "the body must be a JSON object");
        st = JG_ERR_INVALID_CONFIG;
        goto out;
    }
    for (const cJSON *v = root->child; v && st == JG_OK; v = v->next) {
        const struct jg_bcf_field *d = field_named(t, v->string);
        if (!d) {
            snprintf(why, wl, "unknown field '%.64s'", v->string);
            st = JG_ERR_INVALID_CONFIG;
        } else if (d->type == JG_BCF_TEXT) {
            st = parse_text(d, v, cfg, why, wl);
        } else if (d->type == JG_BCF_STORAGE) {
            st = parse_storage(d, v, cfg, why, wl);
        } else {
            st = parse_number(d, v, cfg, why, wl);
        }
    }
out:
    cJSON_Delete(root);
    return st;
}

void jg_bucketcfg_done(const struct jg_bcf_fields *t, void *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->f[i].type == JG_BCF_TEXT) {
            char **p = AT(cfg, t->f[i].off, char **);
            free(*p);
            *p = NULL;
        }
    }
}

/* The storage a stream configuration names ("file" when none). */
static const char *stream_storage(const cJSON *stream_cfg, const char *member)
{
    const char *s = jg_js_str(stream_cfg, member);
    return *s ? s : "file";
}

static bool field_same(const struct jg_bcf_field *d, const cJSON *sc, const void *cfg)
{
    bool has = given(d, cfg);
    int64_t want = has ? *CAT(cfg, d->off, int64_t *) : d->def;
    switch (d->type) {
    case JG_BCF_TEXT: {
        const char *text = has ? *CAT(cfg, d->off, char *const *) : NULL;
        return strcmp(jg_js_str(sc, d->member), text ? text : "") == 0;
    }
    case JG_BCF_STORAGE:
        return strcmp(stream_storage(sc, d->member), has ? CAT(cfg, d->off, char *) : "file") == 0;
    case JG_BCF_LIMIT:
        if (d->nonpos_unlimited && want <= 0)
            return jg_js_num(sc, d->member, d->def) <= 0;
        return jg_js_num_is(sc, d->member, d->def, want);
    default:
        return jg_js_num_is(sc, d->member, d->def, want);
    }
}

bool jg_bucketcfg_same(const struct jg_bcf_fields *t, const cJSON *stream_cfg, const void *cfg)
{
    for (size_t i = 0; i < t->n; i++)
        if (!field_same(&t->f[i], stream_cfg, cfg))
            return false;
    return true;
}

void jg_bucketcfg_set_num(cJSON *stream_cfg, const char *member, int64_t v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(stream_cfg, member);
    cJSON_AddNumberToObject(stream_cfg, member, (double)v);
}

jg_status jg_bucketcfg_update(const struct jg_bcf_fields *t, cJSON *stream_cfg, const void *cfg,
                              char *why, size_t wl)
{
    /* first what cannot change, so that nothing is half applied */
    for (size_t i = 0; i < t->n; i++) {
        const struct jg_bcf_field *d = &t->f[i];
        if (d->type == JG_BCF_STORAGE && given(d, cfg) &&
            strcmp(jg_js_str(stream_cfg, d->member), CAT(cfg, d->off, char *)) != 0) {
            snprintf(why, wl, "the storage of an existing bucket cannot change");
            return JG_ERR_INVALID_CONFIG;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct jg_bcf_field *d = &t->f[i];
        if (!given(d, cfg) || d->type == JG_BCF_STORAGE)
            continue;
        if (d->type == JG_BCF_TEXT) {
            const char *text = *CAT(cfg, d->off, char *const *);
            cJSON_DeleteItemFromObjectCaseSensitive(stream_cfg, d->member);
            if (text && *text)
                cJSON_AddStringToObject(stream_cfg, d->member, text);
        } else {
            jg_bucketcfg_set_num(stream_cfg, d->member, *CAT(cfg, d->off, int64_t *));
        }
    }
    return JG_OK;
}

cJSON *jg_bucketcfg_status(const struct jg_bcs_members *t, const char *bucket,
                           const cJSON *stream_info)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(stream_info, "config");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(stream_info, "state");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "bucket", bucket);
    for (size_t i = 0; i < t->n; i++) {
        const struct jg_bcs_member *m = &t->m[i];
        const cJSON *src = m->state ? state : cfg;
        int64_t n = jg_js_num(src, m->member, m->def);
        const char *s = jg_js_str(src, m->member);
        switch (m->type) {
        case JG_BCS_STR:
            cJSON_AddStringToObject(o, m->name, *s ? s : m->text);
            break;
        case JG_BCS_BOOL:
            cJSON_AddBoolToObject(o, m->name,
                                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(src, m->member)));
            break;
        case JG_BCS_LIMIT:
            cJSON_AddNumberToObject(o, m->name, (double)(n <= 0 ? -1 : n));
            break;
        default:
            cJSON_AddNumberToObject(o, m->name, (double)n);
            break;
        }
    }
    return o;
}
