/* obj.c - the object store on JetStream (see obj.h).
 *
 * The pure helpers: names, meta JSON, digests, header and Range parsing.
 * The meta read and write, subject removal and the object list live in
 * meta.c, the edits of one object in edit.c, buckets in bucket.c, the
 * streaming put session in put.c, the chunk reader in reader.c. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nats/nats.h>
#include <nettle/sha2.h>

#include "log.h"
#include "nats/conn.h"
#include "nats/js.h"
#include "nats/msgget.h"
#include "nats/scan.h"
#include "util.h"
#include "nats/subjects.h"


/* --- names and subjects ----------------------------------------------------- */

bool jg_obj_bucket_valid(const char *b)
{
    if (!b || !*b || strlen(b) > 200)
        return false;
    for (const char *p = b; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return false;
    return true;
}

bool jg_obj_name_valid(const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > JG_OBJ_MAX_NAME)
        return false;
    while (*p) {
        int n;
        if (*p < 0x80)
            n = 0;
        else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
            n = 1;
        else if ((*p & 0xf0) == 0xe0)
            n = 2;
        else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
            n = 3;
        else
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

char *jg_obj_name_encode(const char *name)
{
    return jg_base64_encode(name, strlen(name), true);
}

jg_status jg_obj_nuid(char out[23])
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return JG_ERR_NOMEM;
    const char *s = (const char *)inbox;
    if (strncmp(s, "_INBOX.", 7) == 0)
        s += 7;
    snprintf(out, 23, "%s", s);
    natsInbox_Destroy(inbox);
    return JG_OK;
}

/* --- ObjectInfo ------------------------------------------------------------ */

void jg_obj_info_free(struct jg_obj_info *i)
{
    if (!i)
        return;
    free(i->name);
    free(i->description);
    cJSON_Delete(i->headers);
    cJSON_Delete(i->metadata);
    free(i->link_bucket);
    free(i->link_name);
    free(i->bucket);
    free(i->nuid);
    free(i->mtime);
    free(i->digest);
    free(i);
}

static char *jstrdup(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static uint64_t jnum(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1.8e19 ? (uint64_t)v->valuedouble
                                                                               : 0;
}

jg_status jg_obj_info_parse(const char *json, size_t len, struct jg_obj_info **ret)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    struct jg_obj_info *i = NULL;
    jg_status st = JG_ERR_INTERNAL;

    if (!cJSON_IsObject(root))
        goto out;
    i = calloc(1, sizeof(*i));
    if (!i) {
        st = JG_ERR_NOMEM;
        goto out;
    }
    i->name = jstrdup(root, "name");
    if (!i->name)
        goto out;
    i->description = jstrdup(root, "description");
    if (i->description && !*i->description) {
        free(i->description);
        i->description = NULL;
    }
    cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "headers");
    if (cJSON_IsObject(h) && h->child)
        i->headers = cJSON_Duplicate(h, true);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (cJSON_IsObject(md) && md->child)
        i->metadata = cJSON_Duplicate(md, true);
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "options");
    if (cJSON_IsObject(opt)) {
        i->max_chunk_size = (uint32_t)jnum(opt, "max_chunk_size");
        const cJSON *link = cJSON_GetObjectItemCaseSensitive(opt, "link");
        if (cJSON_IsObject(link)) {
            i->is_link = true;
            i->link_bucket = jstrdup(link, "bucket");
            i->link_name = jstrdup(link, "name");
            if (i->link_name && !*i->link_name) {
                free(i->link_name);
                i->link_name = NULL;
            }
            if (!i->link_bucket)
                goto out;
        }
    }
    i->bucket = jstrdup(root, "bucket");
    i->nuid = jstrdup(root, "nuid");
    i->size = jnum(root, "size");
    i->chunks = jnum(root, "chunks");
    i->mtime = jstrdup(root, "mtime");
    i->digest = jstrdup(root, "digest");
    if (i->digest && !*i->digest) {
        free(i->digest);
        i->digest = NULL;
    }
    i->deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "deleted"));
    *ret = i;
    i = NULL;
    st = JG_OK;
out:
    jg_obj_info_free(i);
    cJSON_Delete(root);
    return st;
}

static cJSON *options_json(const struct jg_obj_info *i)
{
    cJSON *opt = cJSON_CreateObject();
    if (i->is_link) {
        cJSON *l = cJSON_AddObjectToObject(opt, "link");
        cJSON_AddStringToObject(l, "bucket", i->link_bucket ? i->link_bucket : "");
        if (i->link_name)
            cJSON_AddStringToObject(l, "name", i->link_name);
    }
    if (i->max_chunk_size)
        cJSON_AddNumberToObject(opt, "max_chunk_size", i->max_chunk_size);
    return opt;
}

static cJSON *info_json(const struct jg_obj_info *i, bool api)
{
    char when[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", i->name);
    if (i->description || api)
        cJSON_AddStringToObject(o, "description", i->description ? i->description : "");
    if (i->headers)
        cJSON_AddItemToObject(o, "headers", cJSON_Duplicate(i->headers, true));
    if (i->metadata)
        cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(i->metadata, true));
    cJSON_AddItemToObject(o, "options", options_json(i));
    cJSON_AddStringToObject(o, "bucket", i->bucket ? i->bucket : "");
    cJSON_AddStringToObject(o, "nuid", i->nuid ? i->nuid : "");
    cJSON_AddNumberToObject(o, "size", (double)i->size);
    if (api && i->stored_ns > 0) {
        jg_time_rfc3339(i->stored_ns, when);
        cJSON_AddStringToObject(o, "mtime", when);
    } else {
        cJSON_AddStringToObject(o, "mtime", i->mtime ? i->mtime : "0001-01-01T00:00:00Z");
    }
    cJSON_AddNumberToObject(o, "chunks", (double)i->chunks);
    if (i->digest || api)
        cJSON_AddStringToObject(o, "digest", i->digest ? i->digest : "");
    if (i->deleted || api)
        cJSON_AddBoolToObject(o, "deleted", i->deleted);
    if (api)
        cJSON_AddNumberToObject(o, "revision", (double)i->revision);
    return o;
}

char *jg_obj_info_meta_json(const struct jg_obj_info *i)
{
    cJSON *o = info_json(i, false);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

cJSON *jg_obj_info_api_json(const struct jg_obj_info *i)
{
    return info_json(i, true);
}

const char *jg_obj_info_header(const struct jg_obj_info *i, const char *name)
{
    if (!i->headers)
        return NULL;
    for (const cJSON *h = i->headers->child; h; h = h->next) {
        if (!h->string || strcasecmp(h->string, name) != 0)
            continue;
        if (cJSON_IsString(h))
            return h->valuestring;
        if (cJSON_IsArray(h) && cJSON_IsString(h->child))
            return h->child->valuestring;
    }
    return NULL;
}

void jg_obj_digest_format(const uint8_t sha[32], char out[54])
{
    char *b = jg_base64_encode(sha, 32, true);
    snprintf(out, 54, "%s%s", JG_OBJ_DIGEST_PREFIX, b ? b : "");
    free(b);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

jg_status jg_obj_digest_parse(const char *d, uint8_t ret[32])
{
    char norm[80];
    size_t n = 0;
    if (!d || strncasecmp(d, JG_OBJ_DIGEST_PREFIX, 8) != 0)
        return JG_ERR_INVALID_PARAMETER;
    d += 8;
    size_t len = strlen(d);
    if (len == 64) {
        bool hex = true;
        for (size_t k = 0; k < 64 && hex; k++)
            hex = hexval((unsigned char)d[k]) >= 0;
        if (hex) {
            for (size_t k = 0; k < 32; k++)
                ret[k] = (uint8_t)(hexval((unsigned char)d[2 * k]) * 16 +
                                   hexval((unsigned char)d[2 * k + 1]));
            return JG_OK;
        }
    }
    for (const char *p = d; *p && *p != '='; p++) {
        if (n >= 60)
            return JG_ERR_INVALID_PARAMETER;
        norm[n++] = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    }
    while (n % 4)
        norm[n++] = '=';
    norm[n] = '\0';
    char *raw = NULL;
    size_t rl = 0;
    if (jg_base64_decode(norm, n, false, &raw, &rl) != JG_OK)
        return JG_ERR_INVALID_PARAMETER;
    jg_status st = rl == 32 ? JG_OK : JG_ERR_INVALID_PARAMETER;
    if (st == JG_OK)
        memcpy(ret, raw, 32);
    free(raw);
    return st;
}

bool jg_obj_header_name_valid(const char *name)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(name);
    return n > 0 && n <= 255 && strspn(name, tchar) == n;
}

bool jg_obj_header_value_valid(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

void jg_obj_canonical_header(char *name)
{
    bool up = true;
    for (char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c >= 0x80)
            return; /* as Go: leave names with odd characters alone */
    }
    for (char *p = name; *p; p++) {
        *p = (char)(up ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
        up = *p == '-';
    }
}

/* --- HTTP-adjacent parsing ------------------------------------------------- */

static bool parse_u64_span(const char *s, size_t n, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *ret = v;
    return true;
}

enum jg_obj_range_kind jg_obj_range_parse(const char *h, uint64_t size, uint64_t *ret_start,
                                          uint64_t *ret_end)
{
    uint64_t a, b;
    if (!h)
        return JG_RANGE_NONE;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "bytes", 5) != 0)
        return JG_RANGE_NONE;
    h += 5;
    while (*h == ' ' || *h == '\t')
        h++;
    if (*h++ != '=')
        return JG_RANGE_NONE;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t len = strlen(h);
    while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (memchr(h, ',', len))
        return JG_RANGE_NONE; /* several ranges: send it all */
    const char *dash = memchr(h, '-', len);
    if (!dash)
        return JG_RANGE_NONE;
    size_t al = (size_t)(dash - h), bl = len - al - 1;
    if (al == 0) {
        if (!parse_u64_span(dash + 1, bl, &b))
            return JG_RANGE_NONE;
        if (b == 0 || size == 0)
            return JG_RANGE_UNSATISFIABLE;
        *ret_start = b >= size ? 0 : size - b;
        *ret_end = size - 1;
        return JG_RANGE_OK;
    }
    if (!parse_u64_span(h, al, &a))
        return JG_RANGE_NONE;
    if (bl == 0) {
        b = UINT64_MAX;
    } else {
        if (!parse_u64_span(dash + 1, bl, &b))
            return JG_RANGE_NONE;
        if (b < a)
            return JG_RANGE_NONE;
    }
    if (a >= size)
        return JG_RANGE_UNSATISFIABLE;
    *ret_start = a;
    *ret_end = b >= size ? size - 1 : b;
    return JG_RANGE_OK;
}

jg_status jg_obj_content_digest_parse(const char *h, bool *ret_found, uint8_t ret_sha[32])
{
    *ret_found = false;
    if (!h)
        return JG_OK;
    const char *p = h;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ',')
            p++;
        size_t kl = (size_t)(p - key);
        while (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
            kl--;
        bool sha = kl == 7 && strncasecmp(key, "sha-256", 7) == 0;
        if (*p != '=') {
            if (sha)
                return JG_ERR_INVALID_PARAMETER;
            continue;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *val = p;
        while (*p && *p != ',')
            p++;
        size_t vl = (size_t)(p - val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
            vl--;
        if (!sha)
            continue;
        if (vl < 3 || val[0] != ':' || val[vl - 1] != ':')
            return JG_ERR_INVALID_PARAMETER;
        char *raw = NULL;
        size_t rl = 0;
        if (jg_base64_decode(val + 1, vl - 2, false, &raw, &rl) != JG_OK)
            return JG_ERR_INVALID_PARAMETER;
        if (rl != 32) {
            free(raw);
            return JG_ERR_INVALID_PARAMETER;
        }
        memcpy(ret_sha, raw, 32);
        free(raw);
        *ret_found = true;
        return JG_OK;
    }
    return JG_OK;
}

bool jg_obj_etag_list_matches(const char *list, const char *digest, bool weak_ok)
{
    const char *q = list;
    while (q && *q) {
        while (*q == ' ' || *q == ',' || *q == '\t')
            q++;
        if (!*q)
            break;
        if (*q == '*')
            return true;
        if (weak_ok && q[0] == 'W' && q[1] == '/')
            q += 2;
        size_t n = strcspn(q, ","), m = n;
        while (m && (q[m - 1] == ' ' || q[m - 1] == '\t'))
            m--;
        const char *t = q;
        if (m >= 2 && t[0] == '"' && t[m - 1] == '"') {
            t++;
            m -= 2;
        }
        if (digest && strlen(digest) == m && strncmp(t, digest, m) == 0)
            return true;
        q += n;
    }
    return false;
}
