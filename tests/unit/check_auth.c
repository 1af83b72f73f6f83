/* check_auth.c - unit tests for auth.c: token file, hashing, rules, globs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "http/authz.h"
#include "util.h"
#include "check_main.h"

static char *write_tokens(const char *body)
{
    static char path[] = "/tmp/jg_check_authXXXXXX";
    strcpy(path, "/tmp/jg_check_authXXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(body, f);
    fclose(f);
    return path;
}

START_TEST(test_auth_glob)
{
    ck_assert(jg_auth_glob("*", "anything"));
    ck_assert(jg_auth_glob("app-*", "app-one"));
    ck_assert(!jg_auth_glob("app-*", "other"));
    ck_assert(jg_auth_glob("a?c", "abc"));
    ck_assert(!jg_auth_glob("a?c", "abbc"));
    ck_assert(jg_auth_glob("*-prod", "eu-prod"));
    ck_assert(!jg_auth_glob("app", "app-one"));
    ck_assert(jg_auth_glob("*x", "*ax")); /* a literal star in the text is no wildcard */
}
END_TEST

START_TEST(test_auth_hash_find_and_rules)
{
    char *h1 = jg_auth_hash_token("secret-one"), *h2 = jg_auth_hash_token("secret-two");
    char *h3 = jg_auth_hash_token("secret-one");
    ck_assert_str_ne(h1, h3); /* salted */
    char body[1024];
    snprintf(body, sizeof(body), "# comment\n\none %s read,write@app-*\ntwo %s read@shared/cfg/ admin@ops\n",
             h1, h2);
    char *path = write_tokens(body);
    struct jg_auth *a = NULL;
    ck_assert_int_eq(jg_auth_load(path, &a), JG_OK);
    ck_assert_uint_eq(jg_auth_count(a), 2);
    const struct jg_token *t1 = jg_auth_find(a, "secret-one");
    const struct jg_token *t2 = jg_auth_find(a, "secret-two");
    ck_assert_ptr_nonnull(t1);
    ck_assert_str_eq(jg_auth_token_name(t1), "one");
    ck_assert_ptr_null(jg_auth_find(a, "secret-on"));
    ck_assert_ptr_null(jg_auth_find(a, ""));
    ck_assert(jg_auth_allows(t1, JG_PERM_WRITE, "app-x", "k"));
    ck_assert(!jg_auth_allows(t1, JG_PERM_DELETE, "app-x", "k"));
    ck_assert(!jg_auth_allows(t1, JG_PERM_READ, "other", "k"));
    ck_assert(jg_auth_allows(t2, JG_PERM_READ, "shared", "cfg/a"));
    ck_assert(!jg_auth_allows(t2, JG_PERM_READ, "shared", "secret"));
    ck_assert(jg_auth_allows(t2, JG_PERM_READ, "shared", NULL));
    ck_assert(jg_auth_allows(t2, JG_PERM_ADMIN, "ops", NULL));
    ck_assert(jg_auth_allows(t2, JG_PERM_LIST, "shared", NULL));
    ck_assert(!jg_auth_allows(t2, JG_PERM_LIST, "app-x", NULL));
    char **scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t2, JG_PERM_READ, "shared", &scope), JG_OK);
    ck_assert_uint_eq(jg_strv_len(scope), 1);
    ck_assert_str_eq(scope[0], "cfg/");
    jg_strv_free(scope);
    scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t1, JG_PERM_READ, "app-1", &scope), JG_OK);
    ck_assert_uint_eq(jg_strv_len(scope), 1);
    ck_assert_str_eq(scope[0], "");
    jg_strv_free(scope);
    scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t1, JG_PERM_WATCH, "app-1", &scope), JG_ERR_FORBIDDEN);
    ck_assert_ptr_null(scope);
    jg_auth_unref(a);
    unlink(path);
    free(h1);
    free(h2);
    free(h3);
}
END_TEST

/* Two prefix rules on one bucket: listings and watches see the union; a
 * whole-bucket rule among them covers everything; only a whole-bucket rule
 * grants an operation on the whole bucket (the key ""). */
START_TEST(test_auth_scope_union)
{
    char *h = jg_auth_hash_token("secret-many"), body[1024];
    ck_assert_ptr_nonnull(h);
    snprintf(body, sizeof(body),
             "many %s read@b/public/ read,watch@b/shared/ write@b/w/ read@c/x/ read@c read@c/y/\n",
             h);
    char *path = write_tokens(body);
    struct jg_auth *a = NULL;
    ck_assert_int_eq(jg_auth_load(path, &a), JG_OK);
    const struct jg_token *t = jg_auth_find(a, "secret-many");
    ck_assert_ptr_nonnull(t);
    char **scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t, JG_PERM_READ, "b", &scope), JG_OK);
    ck_assert_uint_eq(jg_strv_len(scope), 2);
    ck_assert_str_eq(scope[0], "public/");
    ck_assert_str_eq(scope[1], "shared/");
    ck_assert(jg_auth_scope_allows(scope, "public/a"));
    ck_assert(jg_auth_scope_allows(scope, "shared/b"));
    ck_assert(!jg_auth_scope_allows(scope, "w/c"));
    ck_assert(!jg_auth_scope_allows(scope, "secret"));
    ck_assert(!jg_auth_scope_allows(scope, ""));
    jg_strv_free(scope);
    scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t, JG_PERM_WATCH, "b", &scope), JG_OK);
    ck_assert_uint_eq(jg_strv_len(scope), 1);
    ck_assert_str_eq(scope[0], "shared/");
    jg_strv_free(scope);
    scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t, JG_PERM_READ, "c", &scope), JG_OK);
    ck_assert_uint_eq(jg_strv_len(scope), 1);
    ck_assert_str_eq(scope[0], "");
    jg_strv_free(scope);
    scope = NULL;
    ck_assert_int_eq(jg_auth_scope(t, JG_PERM_DELETE, "b", &scope), JG_ERR_FORBIDDEN);
    ck_assert(jg_auth_scope_allows(NULL, "anything"));
    ck_assert(!jg_auth_allows(t, JG_PERM_READ, "b", ""));
    ck_assert(jg_auth_allows(t, JG_PERM_READ, "c", ""));
    ck_assert(jg_auth_allows(t, JG_PERM_READ, "b", "shared/x"));
    jg_auth_unref(a);
    unlink(path);
    free(h);
}
END_TEST

START_TEST(test_authz_prefix_reachable)
{
    char *scope[] = {"p1/", "p2/x", NULL};
    ck_assert(jg_authz_prefix_reachable(NULL, "anything"));
    ck_assert(jg_authz_prefix_reachable(scope, "p1/"));
    ck_assert(jg_authz_prefix_reachable(scope, "p1/deeper"));
    ck_assert(jg_authz_prefix_reachable(scope, "p"));    /* partly inside: filtered */
    ck_assert(jg_authz_prefix_reachable(scope, ""));
    ck_assert(jg_authz_prefix_reachable(scope, "p2/"));
    ck_assert(!jg_authz_prefix_reachable(scope, "p2/y"));
    ck_assert(!jg_authz_prefix_reachable(scope, "p3/"));
    ck_assert(!jg_authz_prefix_reachable(scope, "q"));
    char *none[] = {NULL};
    ck_assert(!jg_authz_prefix_reachable(none, ""));
}
END_TEST

START_TEST(test_auth_rejects_bad_files)
{
    static const char *bad[] = {
        "one plain-text-secret read@x\n",
        "one sha256:00:zz read@x\n",
        "one sha256:0011223344556677:00 read@x\n",
        "one sha256:0011223344556677:"
        "00112233445566770011223344556677001122334455667700112233445566 read@x\n",
        "one sha256:0011223344556677:"
        "0011223344556677001122334455667700112233445566770011223344556677 fly@x\n",
        "one sha256:0011223344556677:"
        "0011223344556677001122334455667700112233445566770011223344556677\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *path = write_tokens(bad[i]);
        struct jg_auth *a = NULL;
        ck_assert_msg(jg_auth_load(path, &a) == JG_ERR_INVALID_CONFIG, "accepted: %s", bad[i]);
        unlink(path);
    }
    struct jg_auth *open = NULL;
    ck_assert_int_eq(jg_auth_load(NULL, &open), JG_OK);
    ck_assert_uint_eq(jg_auth_count(open), 0);
    jg_auth_unref(open);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_auth_glob);
    tcase_add_test(tc, test_authz_prefix_reachable);
    tcase_add_test(tc, test_auth_hash_find_and_rules);
    tcase_add_test(tc, test_auth_scope_union);
    tcase_add_test(tc, test_auth_rejects_bad_files);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(auth_suite)
