/* check_watch.c - unit tests for the watch engine's pure parts: delivery
 * reply subjects, key filters and prefixes, event-stream framing. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "watch/watch.h"

START_TEST(test_watch_ack_parse)
{
    struct jg_watch_ack a;
    ck_assert(jg_watch_ack_parse("$JS.ACK.KV_b.jgw_x.1.41.7.1700000000123456789.3", &a));
    ck_assert_uint_eq(a.sseq, 41);
    ck_assert_uint_eq(a.cseq, 7);
    ck_assert_uint_eq(a.pending, 3);
    ck_assert(a.ts_ns == 1700000000123456789LL);
    ck_assert_uint_eq(a.consumer_len, 5);
    ck_assert(strncmp(a.consumer, "jgw_x", 5) == 0);
    /* with domain and account hash (12 tokens) */
    ck_assert(jg_watch_ack_parse("$JS.ACK.dom.acchash.KV_b.cons.1.9.2.1700000000000000000.0.tok", &a));
    ck_assert_uint_eq(a.sseq, 9);
    ck_assert_uint_eq(a.cseq, 2);
    ck_assert_uint_eq(a.pending, 0);
    ck_assert_uint_eq(a.consumer_len, 4);
    ck_assert(strncmp(a.consumer, "cons", 4) == 0);
    ck_assert(!jg_watch_ack_parse(NULL, &a));
    ck_assert(!jg_watch_ack_parse("_INBOX.x.y", &a));
    ck_assert(!jg_watch_ack_parse("$JS.ACK.a.b.c", &a));
    ck_assert(!jg_watch_ack_parse("$JS.ACK.KV_b.c.1.0.0.5.0", &a)); /* seq 0 */
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

static Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_watch_ack_parse);
    tcase_add_test(tc, test_watch_key_wanted);
    tcase_add_test(tc, test_watch_sse_append);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(watch_suite)
