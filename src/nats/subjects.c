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
