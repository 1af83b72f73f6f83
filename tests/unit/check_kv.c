/* check_kv.c - unit tests for kv.c: names, filters, header blocks, entries,
 * entity tags and bucket configuration bodies. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "http/bucketm.h"
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

START_TEST(test_kv_selector)
{
    char *f1[] = {"a.*", NULL}, *p1[] = {"x/", "a.b", NULL}, *scope[] = {"a.", NULL};
    char buf[64];
    ck_assert(jg_kv_selected(NULL, NULL, NULL, "anything"));
    ck_assert(jg_kv_selected(f1, NULL, NULL, "a.z"));
    ck_assert(!jg_kv_selected(f1, NULL, NULL, "a.z.y"));
    ck_assert(jg_kv_selected(NULL, p1, NULL, "x/1"));
    ck_assert(jg_kv_selected(NULL, p1, NULL, "a.bc"));
    ck_assert(!jg_kv_selected(NULL, p1, NULL, "a.c"));
    ck_assert(jg_kv_selected(f1, p1, NULL, "a.bc"));   /* both must hold */
    ck_assert(!jg_kv_selected(f1, p1, NULL, "a.z"));
    ck_assert(!jg_kv_selected(NULL, p1, scope, "x/1")); /* outside the scope */
    /* what the server may filter by */
    ck_assert_str_eq(jg_kv_server_filter(f1, NULL, buf, sizeof(buf)), "a.*");
    ck_assert_ptr_null(jg_kv_server_filter(f1, p1, buf, sizeof(buf)));
    ck_assert_ptr_null(jg_kv_server_filter(NULL, p1, buf, sizeof(buf)));
    char *p2[] = {"a.b.", NULL}, *p3[] = {"a/b", NULL}, *p4[] = {"a.*.", NULL};
    ck_assert_str_eq(jg_kv_server_filter(NULL, p2, buf, sizeof(buf)), "a.b.>");
    ck_assert_ptr_null(jg_kv_server_filter(NULL, p3, buf, sizeof(buf)));
    ck_assert_ptr_null(jg_kv_server_filter(NULL, p4, buf, sizeof(buf)));
    ck_assert_ptr_null(jg_kv_server_filter(NULL, p2, buf, 4)); /* no room */
    /* property: a prefix ending with '.' selects by the server's filter
     * exactly the keys that start with it */
    const char tok[] = "ab.";
    srand(7);
    for (int round = 0; round < 20000; round++) {
        char prefix[12], key[12];
        int pl = 1 + rand() % 6, kl = 1 + rand() % 8;
        for (int i = 0; i < pl; i++)
            prefix[i] = tok[rand() % 3];
        prefix[pl] = '\0';
        prefix[pl - 1] = '.';
        for (int i = 0; i < kl; i++)
            key[i] = tok[rand() % 3];
        key[kl] = '\0';
        if (!jg_kv_key_valid(key))
            continue;
        char *pv[] = {prefix, NULL};
        const char *sf = jg_kv_server_filter(NULL, pv, buf, sizeof(buf));
        if (!sf)
            continue;
        ck_assert_msg(jg_kv_filter_match(sf, key) == jg_kv_selected(NULL, pv, NULL, key),
                      "prefix '%s' filter '%s' key '%s'", prefix, sf, key);
    }
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

START_TEST(test_kv_etag_parse)
{
    uint64_t r = 99;
    ck_assert_int_eq(jg_kv_etag_parse("\"42\"", &r), JG_OK);
    ck_assert_uint_eq(r, 42);
    ck_assert_int_eq(jg_kv_etag_parse("7", &r), JG_OK);
    ck_assert_uint_eq(r, 7);
    ck_assert_int_eq(jg_kv_etag_parse("\"18446744073709551615\"", &r), JG_OK);
    ck_assert_uint_eq(r, UINT64_MAX);
    r = 99;
    ck_assert_int_eq(jg_kv_etag_parse("\"18446744073709551616\"", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("W/\"42\"", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("\"42", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("\"\"", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("\"", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("\" 42\"", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("-1", &r), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_kv_etag_parse("\"0000000000000000000000000000042\"", &r),
                     JG_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(r, 99); /* untouched on error */
}
END_TEST

START_TEST(test_kv_etag_list_match)
{
    ck_assert(jg_kv_etag_list_match("*", 5));
    ck_assert(jg_kv_etag_list_match(" *", 0));
    ck_assert(jg_kv_etag_list_match("\"5\"", 5));
    ck_assert(jg_kv_etag_list_match("W/\"5\"", 5));
    ck_assert(jg_kv_etag_list_match("\"1\", \"2\" ,\tW/\"5\"\t", 5));
    ck_assert(jg_kv_etag_list_match("\"x\",5", 5));
    ck_assert(!jg_kv_etag_list_match("\"5\"", 6));
    ck_assert(!jg_kv_etag_list_match("\"55\", \"x5\"", 5));
    ck_assert(!jg_kv_etag_list_match("", 5));
    ck_assert(!jg_kv_etag_list_match(" , ,", 0));
    ck_assert(!jg_kv_etag_list_match("w/\"5\"", 5));
    /* a member too long to be a revision is skipped, the next one counts */
    ck_assert(jg_kv_etag_list_match("\"00000000000000000000000000000000000000005\", \"5\"", 5));
    ck_assert(!jg_kv_etag_list_match("\"00000000000000000000000000000000000000005\"", 5));
}
END_TEST

START_TEST(test_kv_bucket_cfg_parse)
{
    struct jg_kv_bucket_cfg c;
    char why[128];
    const char *full = "{\"description\":\"s\",\"history\":5,\"ttl\":\"1h\","
                       "\"max_value_size\":1024,\"max_bytes\":-1,\"storage\":\"memory\","
                       "\"replicas\":3}";
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(jg_kv_bucket_cfg_parse(full, strlen(full), &c, why, sizeof(why)), JG_OK);
    ck_assert(c.has_description && c.has_history && c.has_ttl && c.has_mvs && c.has_mb &&
              c.has_storage && c.has_replicas);
    ck_assert_str_eq(c.description, "s");
    ck_assert_int_eq(c.history, 5);
    ck_assert_int_eq(c.ttl, 3600LL * 1000000000LL);
    ck_assert_int_eq(c.max_value_size, 1024);
    ck_assert_int_eq(c.max_bytes, -1);
    ck_assert_str_eq(c.storage, "memory");
    ck_assert_int_eq(c.replicas, 3);
    jg_kv_bucket_cfg_done(&c);
    ck_assert_ptr_null(c.description);
    jg_kv_bucket_cfg_done(NULL);

    /* empty body: all defaults */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(jg_kv_bucket_cfg_parse(NULL, 0, &c, why, sizeof(why)), JG_OK);
    ck_assert(!c.has_description && !c.has_history && !c.has_ttl);

    /* ttl in nanoseconds; a repeated field counts once, the last time */
    const char *dup = "{\"ttl\":5000000000,\"description\":\"a\",\"description\":\"b\"}";
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(jg_kv_bucket_cfg_parse(dup, strlen(dup), &c, why, sizeof(why)), JG_OK);
    ck_assert_int_eq(c.ttl, 5000000000LL);
    ck_assert_str_eq(c.description, "b");
    jg_kv_bucket_cfg_done(&c);

    static const struct {
        const char *body, *why;
    } bad[] = {
        {"[]", "JSON object"},
        {"{", "JSON object"},
        {"{} x", "JSON object"},
        {"{\"description\":1}", "'description'"},
        {"{\"history\":0}", "'history'"},
        {"{\"history\":65}", "'history'"},
        {"{\"history\":1.5}", "'history'"},
        {"{\"ttl\":-1}", "'ttl'"},
        {"{\"ttl\":\"soon\"}", "'ttl'"},
        {"{\"max_value_size\":0}", "'max_value_size'"},
        {"{\"max_bytes\":-2}", "'max_bytes'"},
        {"{\"max_bytes\":1e30}", "'max_bytes'"},
        {"{\"max_bytes\":2251799813685249}", "'max_bytes'"},
        {"{\"storage\":\"disk\"}", "'storage'"},
        {"{\"replicas\":6}", "'replicas'"},
        {"{\"colour\":\"red\"}", "unknown field 'colour'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&c, 0, sizeof(c));
        why[0] = '\0';
        ck_assert_int_eq(jg_kv_bucket_cfg_parse(bad[i].body, strlen(bad[i].body), &c, why,
                                                sizeof(why)),
                         JG_ERR_INVALID_CONFIG);
        ck_assert_msg(strstr(why, bad[i].why) != NULL, "%s: %s", bad[i].body, why);
        jg_kv_bucket_cfg_done(&c);
    }
    /* a NUL byte inside the body */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(jg_kv_bucket_cfg_parse("{}\0{}", 5, &c, why, sizeof(why)),
                     JG_ERR_INVALID_CONFIG);
}
END_TEST

/* nats/bucketm.c: the stream configuration text sent for KV (and object)
 * buckets writes integers as integer literals */
START_TEST(test_bucketm_config_text)
{
    cJSON *cfg = cJSON_Parse("{\"name\":\"KV_b\",\"max_age\":2592000000000000,\"max_bytes\":-1,"
                             "\"subjects\":[\"$KV.b.>\"],\"x\":1.5,\"nested\":{\"n\":1e15,"
                             "\"list\":[3e18,-4e15]},\"big\":1e300,\"deny_delete\":true,"
                             "\"top\":9223372036854775807,\"near\":9.2e18}");
    ck_assert_ptr_nonnull(cfg);
    char *plain = cJSON_PrintUnformatted(cfg);
    ck_assert_ptr_nonnull(strstr(plain, "2.592e+15")); /* what cJSON alone writes */
    free(plain);
    char *text = jg_bucketm_config_text(cfg);
    ck_assert_str_eq(text, "{\"name\":\"KV_b\",\"max_age\":2592000000000000,\"max_bytes\":-1,"
                           "\"subjects\":[\"$KV.b.>\"],\"x\":1.5,\"nested\":{\"n\":1000000000000000,"
                           "\"list\":[3000000000000000000,-4000000000000000]},\"big\":1e+300,"
                           "\"deny_delete\":true,\"top\":9223372036854775807,"
                           "\"near\":9200000000000000000}");
    free(text);
    /* the caller's tree is left as it was */
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cfg, "max_age")));
    cJSON_Delete(cfg);
}
END_TEST

/* kv/bucket.c: random bucket configurations map onto a stream config that
 * holds what they ask (cfg_same), whose status reports them, and that an
 * update with the same fields leaves the same; the storage cannot change. */
START_TEST(test_kv_bucket_mapping)
{
    srand(11);
    for (int round = 0; round < 300; round++) {
        struct jg_kv_bucket_cfg c;
        char body[400], why[200];
        int64_t history = 1 + rand() % 64, ttl = (int64_t)(rand() % 5) * 60000000000LL;
        int64_t mvs = rand() % 2 ? -1 : 1 + rand() % 100000;
        int64_t mb = rand() % 2 ? -1 : 1000000LL * (1 + rand() % 1000);
        const char *storage = rand() % 2 ? "file" : "memory";
        snprintf(body, sizeof(body),
                 "{\"history\":%lld,\"ttl\":%lld,\"max_value_size\":%lld,\"max_bytes\":%lld,"
                 "\"storage\":\"%s\",\"description\":\"d%d\"}",
                 (long long)history, (long long)ttl, (long long)mvs, (long long)mb, storage, round);
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(jg_kv_bucket_cfg_parse(body, strlen(body), &c, why, sizeof(why)), JG_OK);
        char *text = jg_kv_stream_config("b", &c);
        cJSON *cfg = cJSON_Parse(text);
        free(text);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cfg, "name")->valuestring, "KV_b");
        ck_assert(jg_kv_bucket_cfg_same(cfg, &c));
        int64_t dw = (int64_t)cJSON_GetObjectItemCaseSensitive(cfg, "duplicate_window")->valuedouble;
        ck_assert(dw > 0 && dw <= 120000000000LL && (ttl == 0 || dw <= ttl));

        cJSON *si = cJSON_CreateObject();
        cJSON_AddItemToObject(si, "config", cJSON_Duplicate(cfg, true));
        cJSON *st = jg_kv_bucket_status_json("b", si);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "history")->valuedouble, history);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "ttl")->valuedouble, ttl);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "max_value_size")->valuedouble, mvs);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(st, "storage")->valuestring, storage);
        cJSON_Delete(st);
        cJSON_Delete(si);

        /* the same fields again: nothing changes */
        ck_assert_int_eq(jg_kv_bucket_cfg_update(cfg, &c, why, sizeof(why)), JG_OK);
        ck_assert(jg_kv_bucket_cfg_same(cfg, &c));
        /* another history: no longer the same, until updated */
        struct jg_kv_bucket_cfg c2 = {0};
        c2.has_history = true;
        c2.history = history % 64 + 1;
        c.history = c2.history;
        ck_assert(!jg_kv_bucket_cfg_same(cfg, &c));
        ck_assert_int_eq(jg_kv_bucket_cfg_update(cfg, &c2, why, sizeof(why)), JG_OK);
        ck_assert(jg_kv_bucket_cfg_same(cfg, &c));
        /* the storage is fixed */
        struct jg_kv_bucket_cfg c3 = {0};
        c3.has_storage = true;
        strcpy(c3.storage, strcmp(storage, "file") == 0 ? "memory" : "file");
        why[0] = '\0';
        ck_assert_int_eq(jg_kv_bucket_cfg_update(cfg, &c3, why, sizeof(why)), JG_ERR_INVALID_CONFIG);
        ck_assert(why[0] != '\0');
        cJSON_Delete(cfg);
        jg_kv_bucket_cfg_done(&c);
    }
}
END_TEST

static Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *tc = tcase_create("kv");
    tcase_add_test(tc, test_kv_bucket_names);
    tcase_add_test(tc, test_kv_keys);
    tcase_add_test(tc, test_kv_filters);
    tcase_add_test(tc, test_kv_selector);
    tcase_add_test(tc, test_kv_header_block);
    tcase_add_test(tc, test_kv_entry_from_stored_and_json);
    tcase_add_test(tc, test_kv_etag_parse);
    tcase_add_test(tc, test_kv_etag_list_match);
    tcase_add_test(tc, test_kv_bucket_cfg_parse);
    tcase_add_test(tc, test_bucketm_config_text);
    tcase_add_test(tc, test_kv_bucket_mapping);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(kv_suite)
