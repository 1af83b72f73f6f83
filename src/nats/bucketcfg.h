/* bucketcfg.h - the mechanics of a bucket configuration, shared by KV and
 * object buckets: the JSON body of a create or update read through a table
 * of fields, each naming the stream configuration member it maps onto;
 * whether an existing stream configuration holds what a body asks; an
 * update of the fields a body gives; the status JSON from a stream-info
 * reply through a table of members.  The tables, which are the semantics
 * of each kind (which fields, their bounds, the status names), live in
 * kv/bucket.c and obj/bucket.c.  Pure: no NATS, no threads. */
#ifndef JG_NATS_BUCKETCFG_H
#define JG_NATS_BUCKETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "status.h"

enum jg_bcf_type {
    JG_BCF_TEXT,     /* a string, malloc'd into a char * (freed by jg_bucketcfg_done) */
    JG_BCF_INT,      /* an integer from min to max, into an int64_t */
    JG_BCF_LIMIT,    /* -1 (unlimited) or an integer from 1 to max, into an int64_t */
    JG_BCF_DURATION, /* nanoseconds (>= 0) or a Go duration ("1h"), into an int64_t */
    JG_BCF_STORAGE,  /* "file" or "memory", into a char[8]; fixed once the stream exists */
};

/* One field of a configuration body. */
struct jg_bcf_field {
    const char *name;     /* in the body */
    enum jg_bcf_type type;
    size_t off;           /* of the value in the kind's config struct */
    size_t has_off;       /* of its bool "given" */
    const char *member;   /* of the stream configuration */
    int64_t def;          /* the member's value when the field is not given (numbers) */
    int64_t min, max;     /* JG_BCF_INT: bounds; JG_BCF_LIMIT: max */
    /* JG_BCF_LIMIT: a member of 0 or less counts as unlimited (-1) when
     * compared */
    bool nonpos_unlimited;
};

struct jg_bcf_fields {
    const struct jg_bcf_field *f;
    size_t n;
};

/* Parses body (len bytes, NUL-terminated after them; len 0 = all
 * defaults) into cfg (zeroed before) by the table; a field given twice
 * counts once, the last time.  JG_OK, or JG_ERR_INVALID_CONFIG (or
 * JG_ERR_NOMEM) with the reason in why.  cfg may hold some fields after
 * an error: free it with jg_bucketcfg_done either way. */
jg_status jg_bucketcfg_parse(const struct jg_bcf_fields *t, const char *body, size_t len,
                             void *cfg, char *why, size_t whylen);
/* Frees the text fields of cfg (not cfg).  NULL-safe. */
void jg_bucketcfg_done(const struct jg_bcf_fields *t, void *cfg);

/* Does an existing stream configuration hold what cfg asks (the member's
 * default for a field not given)? */
bool jg_bucketcfg_same(const struct jg_bcf_fields *t, const cJSON *stream_cfg, const void *cfg);
/* Writes the fields cfg gives into an existing stream configuration; a
 * storage that differs is JG_ERR_INVALID_CONFIG with why. */
jg_status jg_bucketcfg_update(const struct jg_bcf_fields *t, cJSON *stream_cfg, const void *cfg,
                              char *why, size_t whylen);
/* Sets a number member of a stream configuration (replacing it). */
void jg_bucketcfg_set_num(cJSON *stream_cfg, const char *member, int64_t v);

/* --- the status JSON ------------------------------------------------------- */

enum jg_bcs_type {
    JG_BCS_NUM,   /* the number, def when absent */
    JG_BCS_STR,   /* the string, text when absent or empty */
    JG_BCS_BOOL,  /* true when the member is true */
    JG_BCS_LIMIT, /* the number, def when absent, -1 when 0 or less */
};
struct jg_bcs_member {
    const char *name;   /* in the status JSON */
    bool state;         /* from "state" (else from "config") */
    const char *member;
    enum jg_bcs_type type;
    int64_t def;
    const char *text;
};
struct jg_bcs_members {
    const struct jg_bcs_member *m;
    size_t n;
};
/* {"bucket": bucket, then one member per row} from a stream-info reply
 * ({"config":...,"state":...}); NULL when out of memory. */
cJSON *jg_bucketcfg_status(const struct jg_bcs_members *t, const char *bucket,
                           const cJSON *stream_info);

#endif
