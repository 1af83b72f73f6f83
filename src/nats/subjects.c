/* subjects.c - stream names and subjects of buckets (see subjects.h). */
#include "autoconfig.h"
#include "nats/subjects.h"

#include <stdio.h>

void jg_subj_kv_key(const char *bucket, const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "$KV.%s.%s", bucket, key);
}

void jg_subj_obj_chunks(const char *bucket, const char *nuid, char *out, size_t outlen)
{
    snprintf(out, outlen, "$O.%s.C.%s", bucket, nuid);
}

void jg_subj_obj_meta(const char *bucket, const char *enc_name, char *out, size_t outlen)
{
    snprintf(out, outlen, "$O.%s.M.%s", bucket, enc_name);
}
