/* watch_query.c - the query of a watch request (see watch_query.h). */
#include "autoconfig.h"
#include "http/watch_query.h"

#include <string.h>

#include "http/request.h"
#include "kv/kv.h"
#include "util.h"

#define MAX_OBJ_NAME 1024

/* The filters and prefixes of q: JG_OK, or the status and *why. */
static jg_status check_selection(enum jg_watch_kind kind, const struct jg_watch_query *q,
                                 const char **why)
{
    for (size_t i = 0; q->filters && q->filters[i]; i++) {
        const char *f = q->filters[i];
        if (kind == JG_WATCH_KV && !jg_kv_filter_valid(f)) {
            *why = "a filter is a key pattern: key tokens, '*' tokens and a final '>'";
            return JG_ERR_INVALID_KEY;
        }
        if (kind == JG_WATCH_OBJ && (!*f || strlen(f) > MAX_OBJ_NAME)) {
            *why = "a filter is an object name (1 to 1024 bytes)";
            return JG_ERR_INVALID_NAME;
        }
    }
    for (size_t i = 0; kind == JG_WATCH_KV && q->prefixes && q->prefixes[i]; i++) {
        if (!*q->prefixes[i]) {
            *why = "'prefix' must not be empty";
            return JG_ERR_INVALID_PARAMETER;
        }
    }
    return JG_OK;
}

jg_status jg_watch_query_parse(enum jg_watch_kind kind, const struct jg_watch_query *q,
                               struct jg_watch_params *p, const char **ret_detail)
{
    struct jg_watch_params r = *p;
    const char *why = NULL;
    jg_status st = JG_ERR_INVALID_PARAMETER;

    st = check_selection(kind, q, &why);
    if (st != JG_OK)
        goto out;
    st = JG_ERR_INVALID_PARAMETER;
    r.filters = q->filters;
    r.prefixes = kind == JG_WATCH_KV ? q->prefixes : NULL;

    r.include = JG_WATCH_LAST_VALUE;
    if (q->include && strcmp(q->include, "allHistory") == 0)
        r.include = JG_WATCH_ALL_HISTORY;
    else if (q->include && strcmp(q->include, "updatesOnly") == 0)
        r.include = JG_WATCH_UPDATES_ONLY;
    else if (q->include && strcmp(q->include, "lastValue") != 0) {
        why = "'include' is lastValue, allHistory or updatesOnly";
        goto out;
    }
    if (jg_req_bool_parse(q->ignore_deletes, &r.ignore_deletes) != JG_OK) {
        why = "'ignoreDeletes' is true or false";
        goto out;
    }
    if (kind == JG_WATCH_KV && jg_req_bool_parse(q->meta_only, &r.meta_only) != JG_OK) {
        why = "'metaOnly' is true or false";
        goto out;
    }

    r.has_resume = false;
    if (q->resume_revision) {
        if (jg_u64_parse(q->resume_revision, &r.resume) != JG_OK) {
            why = "'resumeRevision' is a revision number";
            goto out;
        }
        r.has_resume = true;
    }
    r.has_start_time = false;
    if (q->start_time) {
        if (jg_time_parse_rfc3339(q->start_time, &r.start_ns) != JG_OK) {
            why = "'startTime' is an RFC 3339 time";
            goto out;
        }
        r.has_start_time = true;
    }
    if (r.has_resume && r.has_start_time) {
        why = "give 'resumeRevision' or 'startTime', not both";
        goto out;
    }

    /* a reconnecting EventSource repeats the URL: Last-Event-ID wins */
    if (q->last_event_id && *q->last_event_id) {
        if (jg_u64_parse(q->last_event_id, &r.resume) != JG_OK) {
            why = "'Last-Event-ID' is a revision number";
            goto out;
        }
        r.has_resume = true;
        r.has_start_time = false;
    }
    st = JG_OK;
    *p = r;
out:
    if (st != JG_OK)
        *ret_detail = why;
    return st;
}
