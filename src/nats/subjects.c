/* subjects.c - stream names and subjects of buckets (see subjects.h). */
#include "autoconfig.h"
#include "nats/subjects.h"

#include <stdio.h>
#include <string.h>

void jg_js_stream_name(enum jg_bucket_kind kind, const char *bucket, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s",
             kind == JG_BUCKET_KV ? JG_SUBJ_KV_STREAM_PREFIX : JG_SUBJ_OBJ_STREAM_PREFIX, bucket);
}

void jg_subj_kv_key(const char *bucket, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "$KV.%s.%s", bucket, key);
}

size_t jg_subj_kv_prefix(const char *bucket, char *out, size_t outlen)
{
    snprintf(out, outlen, "$KV.%s.", bucket);
    return strlen(out);
}

void jg_subj_obj_chunks(const char *bucket, const char *nuid, char *out, size_t outlen)
{
    snprintf(out, outlen, "$O.%s.C.%s", bucket, nuid);
}

void jg_subj_obj_meta(const char *bucket, const char *enc_name, char *out, size_t outlen)
{
    snprintf(out, outlen, "$O.%s.M.%s", bucket, enc_name);
}

void jg_subj_api(const char *api, const char *stream, const char *name, char *out, size_t outlen)
{
    if (!stream) {
        snprintf(out, outlen, "$JS.API.%s", api);
        return;
    }
    if (name)
        snprintf(out, outlen, "$JS.API.%s.%s.%s", api, stream, name);
    else
        snprintf(out, outlen, "$JS.API.%s.%s", api, stream);
}

void jg_subj_js_api(const char *api, const char *stream, const char *name, char *out,
                    size_t outlen)
{
    if (name)
        snprintf(out, outlen, "%s.%s.%s", api, stream, name);
    else
        snprintf(out, outlen, "%s.%s", api, stream);
}

static const struct {
    const char *prefix, *wildcard;
    bool consumer; /* a consumer token follows the stream */
} deletion_subjects[] = {
    [JG_SUBJ_STREAM_DELETE_REQUEST] = {"$JS.API.STREAM.DELETE.", "$JS.API.STREAM.DELETE.*", false},
    [JG_SUBJ_STREAM_DELETED] = {"$JS.EVENT.ADVISORY.STREAM.DELETED.",
                                "$JS.EVENT.ADVISORY.STREAM.DELETED.*", false},
    [JG_SUBJ_CONSUMER_DELETED] = {"$JS.EVENT.ADVISORY.CONSUMER.DELETED.",
                                  "$JS.EVENT.ADVISORY.CONSUMER.DELETED.*.*", true},
};

const char *jg_subj_deletion_wildcard(enum jg_subj_deletion what)
{
    return deletion_subjects[what].wildcard;
}

bool jg_subj_deletion_parse(enum jg_subj_deletion what, const char *subject, char *stream,
                            size_t streamlen, const char **ret_consumer)
{
    const char *pre = deletion_subjects[what].prefix;
    size_t pl = strlen(pre), sl;
    if (!subject || strncmp(subject, pre, pl) != 0)
        return false;
    subject += pl;
    const char *dot = strchr(subject, '.');
    if (deletion_subjects[what].consumer) {
        if (!dot || !dot[1])
            return false;
        sl = (size_t)(dot - subject);
        if (ret_consumer)
            *ret_consumer = dot + 1;
    } else {
        sl = strlen(subject);
    }
    if (sl == 0 || sl >= streamlen)
        return false;
    memcpy(stream, subject, sl);
    stream[sl] = '\0';
    return true;
}
