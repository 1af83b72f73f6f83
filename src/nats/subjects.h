/* subjects.h - the stream names and subjects of KV and object buckets, as
 * the official clients lay them out (ADR-8 for KV, ADR-20 for the object
 * store): one place that formats them.  Pure; out is always terminated
 * (truncated when too small). */
#ifndef JG_NATS_SUBJECTS_H
#define JG_NATS_SUBJECTS_H

#include <stddef.h>

/* "$KV.<bucket>.<key>" */
void jg_subj_kv_key(const char *bucket, const char *key, char *out, size_t outlen);
/* "$O.<bucket>.C.<nuid>": an object's chunks */
void jg_subj_obj_chunks(const char *bucket, const char *nuid, char *out, size_t outlen);
/* "$O.<bucket>.M.<encoded name>": an object's meta (jg_obj_name_encode) */
void jg_subj_obj_meta(const char *bucket, const char *enc_name, char *out, size_t outlen);

#endif
