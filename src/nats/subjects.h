/* subjects.h - the stream names and subjects of KV and object buckets, as
 * the official clients lay them out (NATS ADR-8 for KV, ADR-20 for the
 * object store), and the JetStream API subjects jetgate sends to: the one
 * place that formats them.  Pure; out is always terminated (truncated when
 * too small). */
#ifndef JG_NATS_SUBJECTS_H
#define JG_NATS_SUBJECTS_H

#include <stdbool.h>
#include <stddef.h>

enum jg_bucket_kind { JG_BUCKET_KV, JG_BUCKET_OBJ };

/* Stream names: "KV_<bucket>" and "OBJ_<bucket>". */
#define JG_SUBJ_KV_STREAM_PREFIX "KV_"
#define JG_SUBJ_OBJ_STREAM_PREFIX "OBJ_"
/* The stream name of a bucket. */
void jg_js_stream_name(enum jg_bucket_kind kind, const char *bucket, char *out, size_t outlen);

/* "$KV.<bucket>.<key>"; key may be a filter ("a.*", ">"). */
void jg_subj_kv_key(const char *bucket, const char *key, char *out, size_t outlen);
/* "$KV.<bucket>.": what precedes a key; returns its length. */
size_t jg_subj_kv_prefix(const char *bucket, char *out, size_t outlen);
/* "$O.<bucket>.C.<nuid>": an object's chunks (nuid ">": every chunk). */
void jg_subj_obj_chunks(const char *bucket, const char *nuid, char *out, size_t outlen);
/* "$O.<bucket>.M.<encoded name>": an object's meta (jg_obj_name_encode;
 * ">": every meta). */
void jg_subj_obj_meta(const char *bucket, const char *enc_name, char *out, size_t outlen);
/* Stream advisories: "$JS.EVENT.ADVISORY.STREAM.<EVENT>.<stream>", and the
 * subject of them all. */
#define JG_SUBJ_STREAM_ADVISORY_PREFIX "$JS.EVENT.ADVISORY.STREAM."
#define JG_SUBJ_STREAM_ADVISORIES JG_SUBJ_STREAM_ADVISORY_PREFIX "*.*"
/* A stream's new leader: "<prefix><stream>". */
#define JG_SUBJ_LEADER_ELECTED_PREFIX JG_SUBJ_STREAM_ADVISORY_PREFIX "LEADER_ELECTED."
/* What every JetStream API subject and every publish acknowledgement's reply
 * subject begin with. */
#define JG_SUBJ_JS_API_PREFIX "$JS.API."
#define JG_SUBJ_JS_ACK_PREFIX "$JS.ACK."
/* A JetStream API subject: "$JS.API.<api>.<stream>", with name
 * "$JS.API.<api>.<stream>.<name>" (e.g. api "CONSUMER.DELETE", name the
 * consumer); stream NULL: "$JS.API.<api>" (e.g. "STREAM.NAMES"). */
void jg_subj_api(const char *api, const char *stream, const char *name, char *out, size_t outlen);

/* The same without "$JS.API.", as jg_js_api() takes it:
 * "<api>.<stream>[.<name>]" (e.g. "STREAM.INFO.KV_b",
 * "CONSUMER.CREATE.KV_b.c", "STREAM.MSG.GET.KV_b"). */
void jg_subj_js_api(const char *api, const char *stream, const char *name, char *out,
                    size_t outlen);

/* What tells that a stream or a consumer is (being) deleted: a client's
 * deletion request and the server's advisories. */
enum jg_subj_deletion {
    JG_SUBJ_STREAM_DELETE_REQUEST, /* "$JS.API.STREAM.DELETE.<stream>" */
    JG_SUBJ_STREAM_DELETED,        /* "$JS.EVENT.ADVISORY.STREAM.DELETED.<stream>" */
    JG_SUBJ_CONSUMER_DELETED,      /* "$JS.EVENT.ADVISORY.CONSUMER.DELETED.<stream>.<consumer>" */
};
/* The wildcard subject that receives every one of what (a static text). */
const char *jg_subj_deletion_wildcard(enum jg_subj_deletion what);
/* Parses a subject of what: the stream name into stream (false when it is
 * not one or longer than streamlen - 1) and, for JG_SUBJ_CONSUMER_DELETED,
 * *ret_consumer points at the consumer name in subject. */
bool jg_subj_deletion_parse(enum jg_subj_deletion what, const char *subject, char *stream,
                            size_t streamlen, const char **ret_consumer);

#endif
