/* check_watch.c - unit tests for the watch engine's pure parts: delivery
 * reply subjects, key filters and prefixes, event-stream framing, the
 * query of a watch request. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "http/watch_query.h"
#include "nats/conn.h"
#include "util.h"
#include "watch/watch.h"

START_TEST(test_watch_ack_parse)
{
    struct jg_nats_ack a;
    ck_assert(jg_nats_ack_parse("$JS.ACK.KV_b.jgw_x.1.41.7.1700000000123456789.3", &a));
    ck_assert_uint_eq(a.sseq, 41);
    ck_assert_uint_eq(a.cseq, 7);
    ck_assert_uint_eq(a.pending, 3);
    ck_assert(a.ts_ns == 1700000000123456789LL);
    ck_assert_uint_eq(a.consumer_len, 5);
    ck_assert(strncmp(a.consumer, "jgw_x", 5) == 0);
    ck_assert_uint_eq(a.stream_len, 4);
    ck_assert(strncmp(a.stream, "KV_b", 4) == 0);
    ck_assert_uint_eq(a.delivered, 1);
    /* with domain and account hash (12 tokens) */
    ck_assert(jg_nats_ack_parse("$JS.ACK.dom.acchash.KV_b.cons.1.9.2.1700000000000000000.0.tok", &a));
    ck_assert_uint_eq(a.sseq, 9);
    ck_assert_uint_eq(a.cseq, 2);
    ck_assert_uint_eq(a.pending, 0);
    ck_assert_uint_eq(a.consumer_len, 4);
    ck_assert(strncmp(a.consumer, "cons", 4) == 0);
    ck_assert(strncmp(a.stream, "KV_b", a.stream_len) == 0 && a.stream_len == 4);
    ck_assert(!jg_nats_ack_parse(NULL, &a));
    ck_assert(!jg_nats_ack_parse("_INBOX.x.y", &a));
    ck_assert(!jg_nats_ack_parse("$JS.ACK.a.b.c", &a));
    ck_assert(!jg_nats_ack_parse("$JS.ACK.KV_b.c.1.0.0.5.0", &a)); /* seq 0 */
}
END_TEST

START_TEST(test_watch_key_wanted)
{
    char *f[] = {"a.*", "b.>", NULL};
    char *p[] = {"c/", NULL};
    char *none[] = {NULL};
    ck_assert(jg_watch_key_wanted(NULL, NULL, false, "anything"));
    ck_assert(jg_watch_key_wanted(none, none, false, "anything"));
    ck_assert(jg_watch_key_wanted(f, NULL, false, "a.1"));
    ck_assert(!jg_watch_key_wanted(f, NULL, false, "a.1.2"));
    ck_assert(jg_watch_key_wanted(f, NULL, false, "b.1.2"));
    ck_assert(!jg_watch_key_wanted(f, NULL, false, "b"));
    ck_assert(jg_watch_key_wanted(NULL, p, false, "c/d/e"));
    ck_assert(!jg_watch_key_wanted(NULL, p, false, "cd"));
    /* filters and prefixes together: both must match */
    char *f2[] = {"c/d.*", NULL};
    ck_assert(jg_watch_key_wanted(f2, p, false, "c/d.x"));
    ck_assert(!jg_watch_key_wanted(f, p, false, "a.1"));
    /* object names: exact, no wildcards */
    char *names[] = {"a.*", "x y", NULL};
    ck_assert(jg_watch_key_wanted(names, NULL, true, "a.*"));
    ck_assert(!jg_watch_key_wanted(names, NULL, true, "a.b"));
    ck_assert(jg_watch_key_wanted(names, NULL, true, "x y"));
}
END_TEST

START_TEST(test_watch_sse_append)
{
    struct jg_buf b;
    jg_buf_init(&b);
    ck_assert_int_eq(jg_watch_sse_append(&b, NULL, 42, "{\"a\":1}", 7), JG_OK);
    ck_assert_str_eq(b.data, "id: 42\ndata: {\"a\":1}\n\n");
    b.len = 0;
    ck_assert_int_eq(jg_watch_sse_append(&b, "synced", 0, "{}", 2), JG_OK);
    ck_assert_str_eq(b.data, "event: synced\ndata: {}\n\n");
    b.len = 0;
    ck_assert_int_eq(jg_watch_sse_append(&b, "overflow", 7, "{\"resumeRevision\":7}", 20), JG_OK);
    ck_assert_str_eq(b.data, "event: overflow\nid: 7\ndata: {\"resumeRevision\":7}\n\n");
    jg_buf_done(&b);
}
END_TEST

START_TEST(test_watch_query_booleans)
{
    bool b = true;
    ck_assert_int_eq(jg_req_bool_parse(NULL, &b), JG_OK);
    ck_assert(!b);
    ck_assert_int_eq(jg_req_bool_parse("true", &b), JG_OK);
    ck_assert(b);
    ck_assert_int_eq(jg_req_bool_parse("0", &b), JG_OK);
    ck_assert(!b);
    ck_assert_int_eq(jg_req_bool_parse("", &b), JG_OK); /* a bare ?ignoreDeletes */
    ck_assert(b);
    ck_assert_int_eq(jg_req_bool_parse("false", &b), JG_OK);
    ck_assert(!b);
    ck_assert_int_eq(jg_req_bool_parse("1", &b), JG_OK);
    ck_assert(b);
    ck_assert_int_eq(jg_req_bool_parse("TRUE", &b), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_req_bool_parse("yes", &b), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_req_bool_parse("true ", &b), JG_ERR_INVALID_PARAMETER);
    ck_assert(b); /* untouched on error */
}
END_TEST

/* jg_watch_query_parse of q for kind: the status, and the detail on error. */
static jg_status qparse(enum jg_watch_kind kind, const struct jg_watch_query *q,
                        struct jg_watch_params *p, const char **detail)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->bucket = "b";
    *detail = NULL;
    return jg_watch_query_parse(kind, q, p, detail);
}

START_TEST(test_watch_query_parse)
{
    struct jg_watch_params p;
    const char *d;
    char *filters[] = {"orders.*", "a.>", NULL};
    char *prefixes[] = {"users/", NULL};

    /* nothing given: last values, no resume */
    struct jg_watch_query q = {0};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_OK);
    ck_assert_int_eq(p.include, JG_WATCH_LAST_VALUE);
    ck_assert(!p.ignore_deletes && !p.meta_only && !p.has_resume && !p.has_start_time);
    ck_assert_ptr_null(p.filters);
    ck_assert_str_eq(p.bucket, "b");

    q = (struct jg_watch_query){.filters = filters, .prefixes = prefixes, .include = "allHistory",
                                .ignore_deletes = "true", .meta_only = "1",
                                .resume_revision = "41"};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_OK);
    ck_assert_ptr_eq(p.filters, filters);
    ck_assert_ptr_eq(p.prefixes, prefixes);
    ck_assert_int_eq(p.include, JG_WATCH_ALL_HISTORY);
    ck_assert(p.ignore_deletes && p.meta_only && p.has_resume && !p.has_start_time);
    ck_assert_uint_eq(p.resume, 41);

    /* objects: prefixes and metaOnly do not apply */
    char *names[] = {"photos/cat.jpg", NULL};
    q = (struct jg_watch_query){.filters = names, .prefixes = prefixes, .meta_only = "bogus",
                                .include = "updatesOnly", .start_time = "2024-01-02T03:04:05Z"};
    ck_assert_int_eq(qparse(JG_WATCH_OBJ, &q, &p, &d), JG_OK);
    ck_assert_ptr_null(p.prefixes);
    ck_assert(!p.meta_only && p.has_start_time && !p.has_resume);
    ck_assert_int_eq(p.include, JG_WATCH_UPDATES_ONLY);
    ck_assert_int_eq(p.start_ns, 1704164645LL * 1000000000LL);

    /* Last-Event-ID wins over resumeRevision and startTime; empty is none */
    q = (struct jg_watch_query){.start_time = "2024-01-02T03:04:05Z", .last_event_id = "7"};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_OK);
    ck_assert(p.has_resume && !p.has_start_time);
    ck_assert_uint_eq(p.resume, 7);
    q = (struct jg_watch_query){.resume_revision = "3", .last_event_id = ""};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_OK);
    ck_assert_uint_eq(p.resume, 3);

    static const struct {
        enum jg_watch_kind kind;
        struct jg_watch_query q;
        jg_status st;
        const char *detail;
    } bad[] = {
        {JG_WATCH_KV, {.include = "everything"}, JG_ERR_INVALID_PARAMETER, "'include'"},
        {JG_WATCH_KV, {.include = ""}, JG_ERR_INVALID_PARAMETER, "'include'"},
        {JG_WATCH_KV, {.ignore_deletes = "yes"}, JG_ERR_INVALID_PARAMETER, "'ignoreDeletes'"},
        {JG_WATCH_KV, {.meta_only = "no"}, JG_ERR_INVALID_PARAMETER, "'metaOnly'"},
        {JG_WATCH_KV, {.resume_revision = "-1"}, JG_ERR_INVALID_PARAMETER, "'resumeRevision'"},
        {JG_WATCH_KV, {.resume_revision = ""}, JG_ERR_INVALID_PARAMETER, "'resumeRevision'"},
        {JG_WATCH_KV, {.start_time = "yesterday"}, JG_ERR_INVALID_PARAMETER, "'startTime'"},
        {JG_WATCH_KV, {.resume_revision = "1", .start_time = "2024-01-02T03:04:05Z"},
         JG_ERR_INVALID_PARAMETER, "not both"},
        {JG_WATCH_KV, {.last_event_id = "x"}, JG_ERR_INVALID_PARAMETER, "'Last-Event-ID'"},
        {JG_WATCH_OBJ, {.ignore_deletes = "2"}, JG_ERR_INVALID_PARAMETER, "'ignoreDeletes'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jg_status st = qparse(bad[i].kind, &bad[i].q, &p, &d);
        ck_assert_int_eq(st, bad[i].st);
        ck_assert_msg(d && strstr(d, bad[i].detail), "case %zu: %s", i, d ? d : "(none)");
        ck_assert(!p.has_resume && !p.ignore_deletes); /* untouched */
    }

    char *bad_pattern[] = {"a", "a.>.b", NULL};
    q = (struct jg_watch_query){.filters = bad_pattern};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_ERR_INVALID_KEY);
    ck_assert_ptr_null(p.filters);
    char *empty[] = {"", NULL};
    q = (struct jg_watch_query){.filters = empty};
    ck_assert_int_eq(qparse(JG_WATCH_OBJ, &q, &p, &d), JG_ERR_INVALID_NAME);
    q = (struct jg_watch_query){.prefixes = empty};
    ck_assert_int_eq(qparse(JG_WATCH_KV, &q, &p, &d), JG_ERR_INVALID_PARAMETER);
    ck_assert_ptr_nonnull(strstr(d, "'prefix'"));
    ck_assert_int_eq(qparse(JG_WATCH_OBJ, &q, &p, &d), JG_OK);
    char longname[1026];
    memset(longname, 'n', 1025);
    longname[1025] = '\0';
    char *toolong[] = {longname, NULL};
    q = (struct jg_watch_query){.filters = toolong};
    ck_assert_int_eq(qparse(JG_WATCH_OBJ, &q, &p, &d), JG_ERR_INVALID_NAME);
    longname[1024] = '\0';
    ck_assert_int_eq(qparse(JG_WATCH_OBJ, &q, &p, &d), JG_OK);
}
END_TEST

static Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_watch_ack_parse);
    tcase_add_test(tc, test_watch_key_wanted);
    tcase_add_test(tc, test_watch_sse_append);
    tcase_add_test(tc, test_watch_query_booleans);
    tcase_add_test(tc, test_watch_query_parse);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(watch_suite)
