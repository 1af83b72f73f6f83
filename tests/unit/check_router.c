/* check_router.c - unit tests for the route table and path decoding. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static void done(struct jg_route_match *m)
{
    free(m->bucket);
    free(m->key);
}

START_TEST(test_router_kv_key_keeps_slashes)
{
    struct jg_route_match m;
    ck_assert_int_eq(jg_router_match("/v1/kv/b1/a/b%2Fc/d.e", JG_GET, &m), JG_OK);
    ck_assert_str_eq(m.route->operation_id, "kvGet");
    ck_assert_str_eq(m.bucket, "b1");
    ck_assert_str_eq(m.key, "a/b/c/d.e");
    done(&m);
}
END_TEST

START_TEST(test_router_bucket_segment_decoded_alone)
{
    struct jg_route_match m;
    ck_assert_int_eq(jg_router_match("/v1/kv/a%2Fb/k", JG_PUT, &m), JG_OK);
    ck_assert_str_eq(m.bucket, "a/b");
    ck_assert_str_eq(m.key, "k");
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv//k", JG_PUT, &m), JG_OK);
    ck_assert_str_eq(m.bucket, "");
    done(&m);
}
END_TEST

START_TEST(test_router_method_not_allowed_lists_allow)
{
    struct jg_route_match m;
    char text[128];
    ck_assert_int_eq(jg_router_match("/v1/kvm/buckets", JG_DELETE, &m), JG_ERR_METHOD_NOT_ALLOWED);
    jg_methods_text(m.allow, text, sizeof(text));
    ck_assert_str_eq(text, "GET");
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv/b/k", JG_PATCH, &m), JG_ERR_METHOD_NOT_ALLOWED);
    jg_methods_text(m.allow, text, sizeof(text));
    ck_assert_str_eq(text, "GET, HEAD, PUT, POST, DELETE");
    done(&m);
}
END_TEST

START_TEST(test_router_unknown_and_malformed)
{
    struct jg_route_match m;
    ck_assert_int_eq(jg_router_match("/v2/kv/b/k", JG_GET, &m), JG_ERR_NOT_FOUND);
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv/b", JG_GET, &m), JG_ERR_NOT_FOUND);
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv/b/%zz", JG_GET, &m), JG_ERR_INVALID_KEY);
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv/b/a%4", JG_GET, &m), JG_ERR_INVALID_KEY);
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/kv/a%00b/k", JG_GET, &m), JG_ERR_INVALID_BUCKET);
    done(&m);
    ck_assert_int_eq(jg_router_match("/v1/obj/b/a%00b", JG_GET, &m), JG_ERR_INVALID_NAME);
    done(&m);
}
END_TEST

START_TEST(test_router_every_row_has_operation_id)
{
    for (const struct jg_route *r = jg_routes; r->pattern; r++) {
        ck_assert_ptr_nonnull(r->operation_id);
        ck_assert_ptr_nonnull(r->handler);
        ck_assert_int_eq(__builtin_popcount((unsigned)r->methods), 1);
        for (const struct jg_route *o = r + 1; o->pattern; o++)
            ck_assert_msg(strcmp(r->operation_id, o->operation_id) != 0, "duplicate %s",
                          r->operation_id);
    }
}
END_TEST

START_TEST(test_router_pct_decode)
{
    char *d;
    ck_assert_int_eq(jg_pct_decode("a%20b%C3%A9", 11, &d), JG_OK);
    ck_assert_str_eq(d, "a b\xc3\xa9");
    free(d);
}
END_TEST

/* Strict where libmicrohttpd's decoder is lenient: a malformed escape or an
 * encoded NUL is refused, '+' is not a space. */
START_TEST(test_router_pct_decode_strict)
{
    static const char *bad[] = {"%", "%4", "a%zz", "%00", "k%00x", "%%41", "%0g", "x%"};
    char *d = NULL;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(jg_pct_decode(bad[i], strlen(bad[i]), &d) == JG_ERR_INVALID_PARAMETER,
                      "'%s' accepted", bad[i]);
    ck_assert_int_eq(jg_pct_decode("a+b%2Fc%2b", 10, &d), JG_OK);
    ck_assert_str_eq(d, "a+b/c+");
    free(d);
    ck_assert_int_eq(jg_pct_decode("%01%ff", 6, &d), JG_OK);
    ck_assert_str_eq(d, "\x01\xff");
    free(d);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, test_router_kv_key_keeps_slashes);
    tcase_add_test(tc, test_router_bucket_segment_decoded_alone);
    tcase_add_test(tc, test_router_method_not_allowed_lists_allow);
    tcase_add_test(tc, test_router_unknown_and_malformed);
    tcase_add_test(tc, test_router_every_row_has_operation_id);
    tcase_add_test(tc, test_router_pct_decode);
    tcase_add_test(tc, test_router_pct_decode_strict);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(router_suite)
