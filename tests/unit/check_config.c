/* check_config.c - unit tests for the option table and its loaders. */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "status.h"

START_TEST(test_config_defaults)
{
    struct jg_config c = {0};
    ck_assert_int_eq(jg_config_defaults(&c), JG_OK);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.nats, "nats://127.0.0.1:4222");
    ck_assert_int_eq(c.request_timeout_ms, 5000);
    ck_assert_int_eq(c.watch_keepalive_ms, 15000);
    ck_assert_int_eq(c.max_kv_body, 1 << 20);
    jg_config_free(&c);
}
END_TEST

START_TEST(test_config_file_env_flags_precedence)
{
    char path[] = "/tmp/jg_check_configXXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nlisten = 127.0.0.1:1\nrequest_timeout 2s\nlog_level = \"debug\"\n");
    fclose(f);
    setenv("JETGATE_LISTEN", "127.0.0.1:2", 1);
    char *argv[] = {"jetgate", "-c", path, "--request-timeout", "3s", NULL};
    struct jg_config c = {0};
    int ex;
    ck_assert_int_eq(jg_config_load(&c, 5, argv, &ex), JG_OK);
    ck_assert_int_eq(ex, -1);
    ck_assert_str_eq(c.listen, "127.0.0.1:2");       /* env over file */
    ck_assert_int_eq(c.request_timeout_ms, 3000);     /* flag over file */
    ck_assert_str_eq(c.log_level, "debug");           /* file over default */
    jg_config_free(&c);
    unsetenv("JETGATE_LISTEN");
    unlink(path);
}
END_TEST

START_TEST(test_config_rejects_bad_input)
{
    struct jg_config c = {0};
    jg_config_defaults(&c);
    ck_assert_int_eq(jg_config_set(&c, "nope", "1", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "request_timeout", "5", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "request_timeout", "1h", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "max_connections", "0", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "log_level", "loud", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "nats_tls", "maybe", "test"), JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_config_set(&c, "nats_tls", "yes", "test"), JG_OK);
    ck_assert(c.nats_tls);
    FILE *f = fmemopen((void *)"listen\n", 7, "r");
    ck_assert_int_eq(jg_config_parse_file(&c, f, "mem"), JG_ERR_INVALID_CONFIG);
    fclose(f);
    jg_config_free(&c);
}
END_TEST

START_TEST(test_config_reload_applies_only_reloadable)
{
    struct jg_config cur = {0}, next = {0};
    jg_config_defaults(&cur);
    jg_config_defaults(&next);
    jg_config_set(&next, "log_level", "debug", "test");
    jg_config_set(&next, "request_timeout", "2s", "test");
    jg_config_set(&next, "listen", "127.0.0.1:9", "test");
    ck_assert_int_eq(jg_config_apply_reload(&cur, &next), 2);
    ck_assert_str_eq(cur.log_level, "debug");
    ck_assert_int_eq(cur.request_timeout_ms, 2000);
    ck_assert_str_eq(cur.listen, "127.0.0.1:8080"); /* needs a restart */
    ck_assert_int_eq(jg_config_apply_reload(&cur, &next), 0);
    jg_config_free(&cur);
    jg_config_free(&next);
}
END_TEST

/* A reloadable string option removed from the file goes back to unset
 * (tokens_file: from a tokens file to open access) instead of crashing. */
START_TEST(test_config_reload_unsets_string_option)
{
    struct jg_config cur = {0}, next = {0};
    jg_config_defaults(&cur);
    jg_config_defaults(&next);
    jg_config_set(&cur, "tokens_file", "/etc/jetgate/tokens", "test");
    ck_assert_ptr_null(next.tokens_file);
    ck_assert_int_eq(jg_config_apply_reload(&cur, &next), 1);
    ck_assert_ptr_null(cur.tokens_file);
    jg_config_set(&next, "tokens_file", "/etc/jetgate/tokens", "test");
    ck_assert_int_eq(jg_config_apply_reload(&cur, &next), 1);
    ck_assert_str_eq(cur.tokens_file, "/etc/jetgate/tokens");
    jg_config_free(&cur);
    jg_config_free(&next);
}
END_TEST

START_TEST(test_config_table_is_consistent)
{
    for (const struct jg_option *o = jg_options; o->name; o++) {
        ck_assert_ptr_nonnull(o->help);
        ck_assert_ptr_nonnull(o->arg);
        for (const char *p = o->name; *p; p++)
            ck_assert_msg((*p >= 'a' && *p <= 'z') || *p == '_', "bad name %s", o->name);
    }
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_file_env_flags_precedence);
    tcase_add_test(tc, test_config_rejects_bad_input);
    tcase_add_test(tc, test_config_reload_applies_only_reloadable);
    tcase_add_test(tc, test_config_reload_unsets_string_option);
    tcase_add_test(tc, test_config_table_is_consistent);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(config_suite)
