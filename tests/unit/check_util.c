/* check_util.c - unit tests for util.c: buffers, times, durations, sizes, base64. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "util.h"

START_TEST(test_util_buf_grows_and_terminates)
{
    struct jg_buf b;
    jg_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(jg_buf_printf(&b, "%d,", i), JG_OK);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    size_t len;
    char *d = jg_buf_take(&b, &len);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(len, strlen(d));
    free(d);
}
END_TEST

START_TEST(test_util_rfc3339_round_trip)
{
    char out[40];
    int64_t ns;
    jg_time_rfc3339(1700000000123456789LL, out);
    ck_assert_str_eq(out, "2023-11-14T22:13:20.123456789Z");
    jg_time_rfc3339(1700000000500000000LL, out);
    ck_assert_str_eq(out, "2023-11-14T22:13:20.5Z");
    jg_time_rfc3339(1700000000000000000LL, out);
    ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
    ck_assert_int_eq(jg_time_parse_rfc3339("2023-11-14T22:13:20.123456789Z", &ns), JG_OK);
    ck_assert_int_eq(ns, 1700000000123456789LL);
    ck_assert_int_eq(jg_time_parse_rfc3339("2023-11-14T23:13:20+01:00", &ns), JG_OK);
    ck_assert_int_eq(ns, 1700000000000000000LL);
    ck_assert_int_eq(jg_time_parse_rfc3339("2023-11-14 22:13", &ns), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_time_parse_rfc3339("2023-13-14T22:13:20Z", &ns), JG_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(test_util_http_date)
{
    char out[32];
    jg_time_http(1700000000000000000LL, out);
    ck_assert_str_eq(out, "Tue, 14 Nov 2023 22:13:20 GMT");
}
END_TEST

START_TEST(test_util_duration)
{
    int64_t ns;
    ck_assert_int_eq(jg_duration_parse("500ms", &ns), JG_OK);
    ck_assert_int_eq(ns, 500000000LL);
    ck_assert_int_eq(jg_duration_parse("1h30m", &ns), JG_OK);
    ck_assert_int_eq(ns, 5400LL * 1000000000LL);
    ck_assert_int_eq(jg_duration_parse("1.5s", &ns), JG_OK);
    ck_assert_int_eq(ns, 1500000000LL);
    ck_assert_int_eq(jg_duration_parse("42", &ns), JG_OK);
    ck_assert_int_eq(ns, 42);
    ck_assert_int_eq(jg_duration_parse("", &ns), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_duration_parse("5x", &ns), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_duration_parse("-5s", &ns), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_duration_parse("99999999999h", &ns), JG_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(test_util_size_and_u64)
{
    int64_t n;
    uint64_t u;
    ck_assert_int_eq(jg_size_parse("64KiB", &n), JG_OK);
    ck_assert_int_eq(n, 65536);
    ck_assert_int_eq(jg_size_parse("1M", &n), JG_OK);
    ck_assert_int_eq(n, 1 << 20);
    ck_assert_int_eq(jg_size_parse("12", &n), JG_OK);
    ck_assert_int_eq(n, 12);
    ck_assert_int_eq(jg_size_parse("12 parsecs", &n), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_u64_parse("18446744073709551615", &u), JG_OK);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(jg_u64_parse("18446744073709551616", &u), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_u64_parse("-1", &u), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_u64_parse("1a", &u), JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_u64_parse("", &u), JG_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(test_util_base64)
{
    const unsigned char bin[] = {0xfb, 0xff, 0x00, 0x41};
    char *s = jg_base64_encode(bin, sizeof(bin), false);
    ck_assert_str_eq(s, "+/8AQQ==");
    free(s);
    s = jg_base64_encode(bin, sizeof(bin), true);
    ck_assert_str_eq(s, "-_8AQQ==");
    char *d;
    size_t len;
    ck_assert_int_eq(jg_base64_decode(s, strlen(s), true, &d, &len), JG_OK);
    ck_assert_uint_eq(len, sizeof(bin));
    ck_assert(memcmp(d, bin, len) == 0);
    free(d);
    free(s);
    ck_assert_int_eq(jg_base64_decode("!!", 2, false, &d, &len), JG_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(test_util_pct_encode_header)
{
    char *s = jg_pct_encode_header("a\xc3\xa9%b", 5);
    ck_assert_str_eq(s, "a%C3%A9%25b");
    free(s);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_util_buf_grows_and_terminates);
    tcase_add_test(tc, test_util_rfc3339_round_trip);
    tcase_add_test(tc, test_util_http_date);
    tcase_add_test(tc, test_util_duration);
    tcase_add_test(tc, test_util_size_and_u64);
    tcase_add_test(tc, test_util_base64);
    tcase_add_test(tc, test_util_pct_encode_header);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(util_suite)
