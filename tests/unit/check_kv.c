/* check_kv.c - unit tests for kv.c: names, filters, header blocks, entries. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

START_TEST(test_kv_bucket_names)
{
    ck_assert(jg_kv_bucket_valid("a-B_9"));
    ck_assert(!jg_kv_bucket_valid(""));
    ck_assert(!jg_kv_bucket_valid("a.b"));
    ck_assert(!jg_kv_bucket_valid("a b"));
    ck_assert(!jg_kv_bucket_valid("a/b"));
    ck_assert(!jg_kv_bucket_valid(NULL));
}
END_TEST

START_TEST(test_kv_keys)
{
    ck_assert(jg_kv_key_valid("a/b=c.d-e_f"));
    ck_assert(!jg_kv_key_valid(".k"));
    ck_assert(!jg_kv_key_valid("k."));
    ck_assert(!jg_kv_key_valid("a..b"));
    ck_assert(!jg_kv_key_valid("_kv/x"));
    ck_assert(!jg_kv_key_valid("a*b"));
    ck_assert(!jg_kv_key_valid("a>b"));
    ck_assert(!jg_kv_key_valid("a\\b"));
    ck_assert(!jg_kv_key_valid("a b"));
    ck_assert(!jg_kv_key_valid(""));
}
END_TEST

START_TEST(test_kv_filters)
{
    ck_assert(jg_kv_filter_valid("a.*.c"));
    ck_assert(jg_kv_filter_valid(">"));
    ck_assert(jg_kv_filter_valid("a.>"));
    ck_assert(!jg_kv_filter_valid("a.>.b"));
    ck_assert(!jg_kv_filter_valid("a*"));
    ck_assert(jg_kv_filter_match("a.*.c", "a.b.c"));
    ck_assert(!jg_kv_filter_match("a.*.c", "a.b.d"));
    ck_assert(!jg_kv_filter_match("a.*", "a.b.c"));
    ck_assert(jg_kv_filter_match("a.>", "a.b.c"));
    ck_assert(!jg_kv_filter_match("a.>", "a"));
    ck_assert(jg_kv_filter_match("a", "a"));
    ck_assert(!jg_kv_filter_match("a", "a.b"));
}
END_TEST

START_TEST(test_kv_header_block)
{
    const char *h = "NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n"
                    "content-type: text/plain\r\n\r\n";
    enum jg_kv_op op;
    char *ct;
    jg_kv_parse_header_block(h, strlen(h), &op, &ct);
    ck_assert_int_eq(op, JG_KV_PURGE);
    ck_assert_str_eq(ct, "text/plain");
    free(ct);
    h = "NATS/1.0\r\n\r\n";
    jg_kv_parse_header_block(h, strlen(h), &op, &ct);
    ck_assert_int_eq(op, JG_KV_PUT);
    ck_assert_ptr_null(ct);
}
END_TEST

START_TEST(test_kv_entry_from_stored_and_json)
{
    cJSON *m = cJSON_Parse("{\"subject\":\"$KV.b.a/x\",\"seq\":7,"
                           "\"time\":\"2023-11-14T22:13:20.5Z\",\"data\":\"aGk=\"}");
    struct jg_kv_entry *e = NULL;
    ck_assert_int_eq(jg_kv_entry_from_stored("b", m, &e), JG_OK);
    ck_assert_str_eq(e->key, "a/x");
    ck_assert_uint_eq(e->revision, 7);
    ck_assert_uint_eq(e->value_len, 2);
    ck_assert(memcmp(e->value, "hi", 2) == 0);
    cJSON *j = jg_kv_entry_json(e);
    char *text = cJSON_PrintUnformatted(j);
    ck_assert_str_eq(text, "{\"bucket\":\"b\",\"key\":\"a/x\",\"created\":\"2023-11-14T22:13:20.5Z\","
                           "\"revision\":7,\"delta\":0,\"operation\":\"PUT\",\"value\":\"aGk=\"}");
    free(text);
    cJSON_Delete(j);
    jg_kv_entry_free(e);
    cJSON_Delete(m);
    jg_kv_entry_free(NULL);
}
END_TEST

static Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *tc = tcase_create("kv");
    tcase_add_test(tc, test_kv_bucket_names);
    tcase_add_test(tc, test_kv_keys);
    tcase_add_test(tc, test_kv_filters);
    tcase_add_test(tc, test_kv_header_block);
    tcase_add_test(tc, test_kv_entry_from_stored_and_json);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(kv_suite)
