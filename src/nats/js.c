/* js.c - JetStream API helpers (see js.h); the bucket cache is buckets.c. */
#include "autoconfig.h"
#include "nats/js.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "util.h"
#include "nats/subjects.h"

jg_status jg_js_json_i64(const cJSON *v, int64_t *ret)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return JG_ERR_INVALID_CONFIG;
    *ret = (int64_t)v->valuedouble;
    return JG_OK;
}

jg_status jg_js_json_duration(const cJSON *v, int64_t *ret)
{
    if (cJSON_IsString(v))
        return jg_duration_parse(v->valuestring, ret) == JG_OK ? JG_OK : JG_ERR_INVALID_CONFIG;
    if (jg_js_json_i64(v, ret) != JG_OK || *ret < 0)
        return JG_ERR_INVALID_CONFIG;
    return JG_OK;
}

/* An integer member written as its literal: cJSON holds numbers as
 * doubles and prints a large one with 15 digits when that is within its
 * tolerance, which would send a ttl of 1e15 ns and more a few nanoseconds
 * off. */
static void add_int(cJSON *o, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

char *jg_js_stream_config(const struct jg_js_stream_spec *s)
{
    char subj[300], stream[300];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    jg_js_stream_name(s->kind, s->bucket, stream, sizeof(stream));
    cJSON_AddStringToObject(o, "name", stream);
    if (s->description && *s->description)
        cJSON_AddStringToObject(o, "description", s->description);
    cJSON *subjects = cJSON_AddArrayToObject(o, "subjects");
    if (s->kind == JG_BUCKET_KV) {
        jg_subj_kv_key(s->bucket, ">", subj, sizeof(subj));
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
    } else {
        jg_subj_obj_chunks(s->bucket, ">", subj, sizeof(subj));
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
        jg_subj_obj_meta(s->bucket, ">", subj, sizeof(subj));
        cJSON_AddItemToArray(subjects, cJSON_CreateString(subj));
    }
    cJSON_AddStringToObject(o, "retention", "limits");
    add_int(o, "max_consumers", -1);
    add_int(o, "max_msgs", -1);
    add_int(o, "max_bytes", s->max_bytes);
    add_int(o, "max_age", s->max_age_ns);
    add_int(o, "max_msgs_per_subject", s->per_subject);
    add_int(o, "max_msg_size", s->max_msg_size);
    cJSON_AddStringToObject(o, "storage", s->storage ? s->storage : "file");
    cJSON_AddStringToObject(o, "discard", "new");
    add_int(o, "num_replicas", s->replicas);
    if (s->duplicate_window_ns > 0)
        add_int(o, "duplicate_window", s->duplicate_window_ns);
    cJSON_AddBoolToObject(o, "allow_rollup_hdrs", true);
    cJSON_AddBoolToObject(o, "deny_delete", s->deny_delete);
    cJSON_AddBoolToObject(o, "deny_purge", false);
    cJSON_AddBoolToObject(o, "allow_direct", true);
    cJSON_AddBoolToObject(o, "mirror_direct", false);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

jg_status jg_js_api(struct jg_nats *n, struct jg_nats_req *r, const char *api, const char *body,
                    int flags, jg_nats_reply_fn fn, void *ctx)
{
    return jg_js_stream_api(n, r, api, NULL, NULL, body, flags, fn, ctx);
}

jg_status jg_js_stream_api(struct jg_nats *n, struct jg_nats_req *r, const char *api,
                           const char *stream, const char *name, const char *body, int flags,
                           jg_nats_reply_fn fn, void *ctx)
{
    char subj[512];
    jg_subj_api(api, stream, name, subj, sizeof(subj));
    return jg_nats_request(n, r, subj, NULL, body, body ? strlen(body) : 0, flags, 0, fn, ctx);
}

jg_status jg_js_error_status(int code, int err_code, const char *desc)
{
    switch (err_code) {
    case 10059: /* stream not found */
        return JG_ERR_BUCKET_NOT_FOUND;
    case 10037: /* no message found */
        return JG_ERR_KEY_NOT_FOUND;
    case 10071: /* wrong last sequence */
    case 10164:
        return JG_ERR_REVISION_MISMATCH;
    case 10058: /* stream name in use */
        return JG_ERR_BUCKET_EXISTS;
    case 10054: /* message size exceeds maximum allowed */
        return JG_ERR_PAYLOAD_TOO_LARGE;
    case 10109: /* stream sealed */
        return JG_ERR_BUCKET_SEALED;
    case 10023: /* insufficient resources */
    case 10047: /* insufficient storage resources available */
        return JG_ERR_INSUFFICIENT_STORAGE;
    case 10077: /* store failed: maximum bytes/messages exceeded, ... */
        if (desc && (strstr(desc, "maximum") || strstr(desc, "resources") ||
                     strstr(desc, "storage")))
            return JG_ERR_INSUFFICIENT_STORAGE;
        return JG_ERR_INTERNAL;
    case 10052: /* invalid stream config */
    case 10025: /* replicas > 1 not supported in non-clustered mode */
    case 10074: /* replicas configuration cannot be larger than cluster size */
    case 10027: /* max age below minimum */
    case 10056: /* stream name / subject overlap */
    case 10065:
    case 10049:
        return JG_ERR_INVALID_CONFIG;
    default:
        break;
    }
    /* account or server limits: "resource limits exceeded for account",
     * "insufficient resources" (the err_code differs between versions) */
    if (desc && (strstr(desc, "resource limits exceeded") || strstr(desc, "insufficient resources") ||
                 strstr(desc, "insufficient storage")))
        return JG_ERR_INSUFFICIENT_STORAGE;
    if (code == 404)
        return JG_ERR_BUCKET_NOT_FOUND;
    if (code == 503)
        return JG_ERR_NATS_UNAVAILABLE;
    if (code == 400 && desc && strstr(desc, "config"))
        return JG_ERR_INVALID_CONFIG;
    return JG_ERR_INTERNAL;
}

jg_status jg_js_ack_seq(natsMsg *msg, uint64_t *ret_seq)
{
    const char *d = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    char buf[256];
    if (!d || len < 12 || len >= (int)sizeof(buf) || jg_nats_msg_status(msg))
        return JG_ERR_INTERNAL;
    memcpy(buf, d, (size_t)len);
    buf[len] = '\0';
    if (strncmp(buf, "{\"stream\":", 10) != 0 || strstr(buf, "\"error\""))
        return JG_ERR_INTERNAL;
    const char *p = strstr(buf, "\"seq\":");
    if (!p)
        return JG_ERR_INTERNAL;
    p += 6;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || (*end != ',' && *end != '}'))
        return JG_ERR_INTERNAL;
    *ret_seq = v;
    return JG_OK;
}

jg_status jg_js_reply_json(natsMsg *msg, cJSON **ret_json, int *ret_err_code, char *desc,
                           size_t desclen)
{
    jg_status st = JG_OK;
    cJSON *root = NULL;
    int status = jg_nats_msg_status(msg);

    if (ret_err_code)
        *ret_err_code = 0;
    if (desc && desclen)
        desc[0] = '\0';
    if (status == 503) {
        st = JG_ERR_NATS_UNAVAILABLE;
        if (desc)
            snprintf(desc, desclen, "JetStream not available (no responders)");
        goto out;
    }
    root = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    if (!root) {
        st = JG_ERR_INTERNAL;
        if (desc)
            snprintf(desc, desclen, "unreadable JetStream reply");
        goto out;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (err) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(err, "err_code");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(err, "description");
        int ecode = cJSON_IsNumber(ec) ? ec->valueint : 0;
        if (ret_err_code)
            *ret_err_code = ecode;
        if (desc && cJSON_IsString(d))
            snprintf(desc, desclen, "%s", d->valuestring);
        st = jg_js_error_status(cJSON_IsNumber(c) ? c->valueint : 0, ecode,
                                cJSON_IsString(d) ? d->valuestring : NULL);
        goto out;
    }
    *ret_json = root;
    root = NULL;
out:
    cJSON_Delete(root);
    jg_nats_msg_release(msg);
    return st;
}

/* A double as int64: those in [-2^63, 2^63), and 2^63 itself, which is
 * what an integer near INT64_MAX becomes as a double, as INT64_MAX (as
 * jg_bucketm_config_text writes it). */
static bool double_i64(double v, int64_t *ret)
{
    if (v == 9223372036854775808.0)
        *ret = INT64_MAX;
    else if (v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        *ret = (int64_t)v;
    else
        return false;
    return true;
}

int64_t jg_js_num(const cJSON *o, const char *name, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    int64_t n;
    if (!cJSON_IsNumber(v) || !double_i64(v->valuedouble, &n))
        return def;
    return n;
}

bool jg_js_num_is(const cJSON *o, const char *name, int64_t def, int64_t want)
{
    int64_t have = jg_js_num(o, name, def), w;
    if (have == want)
        return true;
    return double_i64((double)want, &w) && have == w;
}

bool jg_js_ints_raw(cJSON *item)
{
    return jg_json_ints_raw(item);
}

const char *jg_js_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static bool json_bool(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

jg_status jg_bucket_info_from_json(enum jg_bucket_kind kind, const char *bucket,
                                   const cJSON *si, struct jg_bucket_info *info)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(si, "config");
    if (!cJSON_IsObject(cfg))
        return JG_ERR_INTERNAL;
    memset(info, 0, sizeof(*info));
    info->kind = kind;
    snprintf(info->name, sizeof(info->name), "%s", bucket);
    info->max_msg_size = jg_js_num(cfg, "max_msg_size", -1);
    info->max_bytes = jg_js_num(cfg, "max_bytes", -1);
    info->history = jg_js_num(cfg, "max_msgs_per_subject", -1);
    info->replicas = (int)jg_js_num(cfg, "num_replicas", 1);
    info->allow_direct = json_bool(cfg, "allow_direct");
    info->sealed = json_bool(cfg, "sealed");
    return JG_OK;
}
