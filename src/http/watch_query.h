/* watch_query.h - the query of a watch request (GET .../watch) checked and
 * turned into the watch engine's parameters; the object listing reads its
 * filters the same way. */
#ifndef JG_HTTP_WATCH_QUERY_H
#define JG_HTTP_WATCH_QUERY_H

#include "status.h"
#include "watch/watch.h"

/* The query of a watch request as decoded strings, each NULL when absent. */
struct jg_watch_query {
    char **filters;              /* NULL-terminated or NULL: every ?filter= */
    char **prefixes;             /* every ?prefix= (KV only) */
    const char *include;         /* lastValue (default), allHistory, updatesOnly */
    const char *ignore_deletes;  /* a boolean (jg_req_bool_parse) */
    const char *meta_only;       /* a boolean (KV only) */
    const char *resume_revision; /* a revision */
    const char *start_time;      /* RFC 3339 */
    const char *last_event_id;   /* the Last-Event-ID header: a revision; wins over
                                  * resumeRevision and startTime when not empty */
};
/* Checks q for a watch of kind and sets p's filters, prefixes (pointing
 * into q), include, ignore_deletes, meta_only, resume and start time; the
 * other fields of p are left as they are.  p is written only on success.
 * Errors, with *ret_detail a static text for the problem: JG_ERR_INVALID_KEY
 * (a KV filter that is no key pattern), JG_ERR_INVALID_NAME (an object
 * filter not 1 to 1024 bytes), JG_ERR_INVALID_PARAMETER (the rest).  For
 * object watches prefixes and meta_only are ignored.  Pure (unit-tested);
 * the watch routes and the object listing use it. */
jg_status jg_watch_query_parse(enum jg_watch_kind kind, const struct jg_watch_query *q,
                               struct jg_watch_params *p, const char **ret_detail);

#endif
