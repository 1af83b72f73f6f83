/* check_obj.c - unit tests for the pure parts of the object store (obj.c):
 * names, meta JSON, digests, Range and Content-Digest parsing, bucket
 * configuration. */
#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "nats/subjects.h"
#include "obj/obj.h"

START_TEST(test_obj_names)
{
    ck_assert(jg_obj_bucket_valid("a-B_9"));
    ck_assert(!jg_obj_bucket_valid("a.b"));
    ck_assert(!jg_obj_bucket_valid(""));
    ck_assert(jg_obj_name_valid("dir/file.txt"));
    ck_assert(jg_obj_name_valid("h\xc3\xa9llo"));
    ck_assert(!jg_obj_name_valid(""));
    ck_assert(!jg_obj_name_valid("bad\xc3"));
    ck_assert(!jg_obj_name_valid("\xff"));
    char big[JG_OBJ_MAX_NAME + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert(!jg_obj_name_valid(big));
    big[JG_OBJ_MAX_NAME] = '\0';
    ck_assert(jg_obj_name_valid(big));
}
END_TEST

START_TEST(test_obj_name_encoding)
{
    /* padded URL-safe base64, as nats.go encodeName */
    char *e = jg_obj_name_encode("test");
    ck_assert_str_eq(e, "dGVzdA==");
    free(e);
    e = jg_obj_name_encode("ab");
    ck_assert_str_eq(e, "YWI=");
    free(e);
    e = jg_obj_name_encode("\xfb\xff?");
    ck_assert_str_eq(e, "-_8_");
    free(e);
    char nuid[23];
    ck_assert_int_eq(jg_obj_nuid(nuid), JG_OK);
    ck_assert_uint_eq(strlen(nuid), 22);
}
END_TEST

START_TEST(test_obj_digest)
{
    uint8_t sha[32], back[32];
    char d[54];
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_digest(&c, 32, sha);
    jg_obj_digest_format(sha, d);
    ck_assert_str_eq(d, "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
    ck_assert_int_eq(jg_obj_digest_parse(d, back), JG_OK);
    ck_assert(memcmp(sha, back, 32) == 0);
    /* lenient: std alphabet, no padding, hex */
    ck_assert_int_eq(jg_obj_digest_parse("SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", back),
                     JG_OK);
    ck_assert(memcmp(sha, back, 32) == 0);
    ck_assert_int_eq(jg_obj_digest_parse("SHA-256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", back), JG_OK);
    ck_assert(memcmp(sha, back, 32) == 0);
    ck_assert_int_ne(jg_obj_digest_parse("MD5=abc", back), JG_OK);
    ck_assert_int_ne(jg_obj_digest_parse("SHA-256=YWI=", back), JG_OK);
}
END_TEST

START_TEST(test_obj_meta_json)
{
    const char *in = "{\"name\":\"a.txt\",\"description\":\"d\",\"headers\":{\"Content-Type\":[\"text/plain\"]},"
                     "\"options\":{\"max_chunk_size\":131072},\"bucket\":\"files\",\"nuid\":\"N\","
                     "\"size\":5,\"mtime\":\"2025-01-01T00:00:00Z\",\"chunks\":1,"
                     "\"digest\":\"SHA-256=x\",\"revision\":9,\"extra\":true}";
    struct jg_obj_info *i = NULL;
    ck_assert_int_eq(jg_obj_info_parse(in, strlen(in), &i), JG_OK);
    ck_assert_str_eq(i->name, "a.txt");
    ck_assert_str_eq(i->description, "d");
    ck_assert_uint_eq(i->size, 5);
    ck_assert_uint_eq(i->chunks, 1);
    ck_assert_uint_eq(i->max_chunk_size, 131072);
    ck_assert(!i->deleted);
    ck_assert(!i->is_link);
    ck_assert_str_eq(jg_obj_info_header(i, "content-type"), "text/plain");
    char *out = jg_obj_info_meta_json(i);
    /* nats.go's field order; unknown fields (revision, extra) not written */
    ck_assert_str_eq(out, "{\"name\":\"a.txt\",\"description\":\"d\",\"headers\":{\"Content-Type\":"
                          "[\"text/plain\"]},\"options\":{\"max_chunk_size\":131072},\"bucket\":"
                          "\"files\",\"nuid\":\"N\",\"size\":5,\"mtime\":\"2025-01-01T00:00:00Z\","
                          "\"chunks\":1,\"digest\":\"SHA-256=x\"}");
    free(out);
    jg_obj_info_free(i);

    /* a nats.js link (no nuid) and a bucket link */
    const char *l = "{\"name\":\"L\",\"bucket\":\"other\",\"options\":{\"link\":{\"bucket\":\"B\",\"name\":\"N\"}}}";
    ck_assert_int_eq(jg_obj_info_parse(l, strlen(l), &i), JG_OK);
    ck_assert(i->is_link);
    ck_assert_str_eq(i->link_bucket, "B");
    ck_assert_str_eq(i->link_name, "N");
    ck_assert_ptr_null(i->nuid);
    jg_obj_info_free(i);
    l = "{\"name\":\"L\",\"options\":{\"link\":{\"bucket\":\"B\"}},\"deleted\":true}";
    ck_assert_int_eq(jg_obj_info_parse(l, strlen(l), &i), JG_OK);
    ck_assert(i->is_link && !i->link_name && i->deleted);
    out = jg_obj_info_meta_json(i);
    ck_assert(strstr(out, "\"options\":{\"link\":{\"bucket\":\"B\"}}") != NULL);
    ck_assert(strstr(out, "\"deleted\":true") != NULL);
    ck_assert(strstr(out, "\"digest\"") == NULL);
    free(out);
    jg_obj_info_free(i);

    ck_assert_int_ne(jg_obj_info_parse("[1]", 3, &i), JG_OK);
    ck_assert_int_ne(jg_obj_info_parse("{\"size\":1}", 10, &i), JG_OK);
}
END_TEST

START_TEST(test_obj_canonical_header)
{
    char a[] = "x-custom-THING", b[] = "content-type", c[] = "odd name";
    jg_obj_canonical_header(a);
    jg_obj_canonical_header(b);
    jg_obj_canonical_header(c);
    ck_assert_str_eq(a, "X-Custom-Thing");
    ck_assert_str_eq(b, "Content-Type");
    ck_assert_str_eq(c, "odd name");
}
END_TEST

START_TEST(test_obj_header_valid)
{
    static const char *names_ok[] = {"X-A", "Content-Type", "x!#$%&'*+.^_`|~9"};
    static const char *names_bad[] = {"", "Col:on", "Sp ace", "X-\xc3\xa9", "A\r\nB", "(x)", "a/b"};
    for (size_t i = 0; i < sizeof(names_ok) / sizeof(names_ok[0]); i++)
        ck_assert_msg(jg_obj_header_name_valid(names_ok[i]), "%s", names_ok[i]);
    for (size_t i = 0; i < sizeof(names_bad) / sizeof(names_bad[0]); i++)
        ck_assert_msg(!jg_obj_header_name_valid(names_bad[i]), "%s", names_bad[i]);
    char longname[257];
    memset(longname, 'x', 256);
    longname[256] = '\0';
    ck_assert(!jg_obj_header_name_valid(longname));
    longname[255] = '\0';
    ck_assert(jg_obj_header_name_valid(longname));
    ck_assert(jg_obj_header_value_valid(""));
    ck_assert(jg_obj_header_value_valid("text/plain; charset=utf-8"));
    ck_assert(jg_obj_header_value_valid("tab\there \xc3\xa9"));
    ck_assert(!jg_obj_header_value_valid("a\r\nX-Injected: 1"));
    ck_assert(!jg_obj_header_value_valid("a\nb"));
    ck_assert(!jg_obj_header_value_valid("\x01"));
    ck_assert(!jg_obj_header_value_valid("del\x7f"));
}
END_TEST

START_TEST(test_obj_range)
{
    uint64_t s = 99, e = 99;
    ck_assert_int_eq(jg_obj_range_parse("bytes=0-9", 100, &s, &e), JG_RANGE_OK);
    ck_assert_uint_eq(s, 0);
    ck_assert_uint_eq(e, 9);
    ck_assert_int_eq(jg_obj_range_parse("bytes=90-", 100, &s, &e), JG_RANGE_OK);
    ck_assert_uint_eq(s, 90);
    ck_assert_uint_eq(e, 99);
    ck_assert_int_eq(jg_obj_range_parse("bytes=50-500", 100, &s, &e), JG_RANGE_OK);
    ck_assert_uint_eq(e, 99);
    ck_assert_int_eq(jg_obj_range_parse("bytes=-10", 100, &s, &e), JG_RANGE_OK);
    ck_assert_uint_eq(s, 90);
    ck_assert_uint_eq(e, 99);
    ck_assert_int_eq(jg_obj_range_parse("bytes=-1000", 100, &s, &e), JG_RANGE_OK);
    ck_assert_uint_eq(s, 0);
    ck_assert_int_eq(jg_obj_range_parse("bytes=100-", 100, &s, &e), JG_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=100-200", 100, &s, &e), JG_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=-0", 100, &s, &e), JG_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=0-0", 0, &s, &e), JG_RANGE_UNSATISFIABLE);
    /* ignored: reversed, malformed, several ranges, other units */
    ck_assert_int_eq(jg_obj_range_parse("bytes=9-0", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=a-b", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=0-1,5-6", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse("items=0-1", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse("bytes=-", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse("bytes 0-1", 100, &s, &e), JG_RANGE_NONE);
    ck_assert_int_eq(jg_obj_range_parse(NULL, 100, &s, &e), JG_RANGE_NONE);
}
END_TEST

START_TEST(test_obj_content_digest)
{
    uint8_t sha[32];
    bool found = true;
    /* sha-256 of "hello" */
    ck_assert_int_eq(jg_obj_content_digest_parse(
                         "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:", &found, sha),
                     JG_OK);
    ck_assert(found);
    ck_assert_uint_eq(sha[0], 0x2c);
    ck_assert_uint_eq(sha[31], 0x24);
    ck_assert_int_eq(jg_obj_content_digest_parse(
                         "sha-512=:abc=:, sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:",
                         &found, sha),
                     JG_OK);
    ck_assert(found);
    ck_assert_int_eq(jg_obj_content_digest_parse("sha-512=:abc=:", &found, sha), JG_OK);
    ck_assert(!found);
    ck_assert_int_eq(jg_obj_content_digest_parse(NULL, &found, sha), JG_OK);
    ck_assert(!found);
    ck_assert_int_eq(jg_obj_content_digest_parse("sha-256=LPJN", &found, sha),
                     JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_obj_content_digest_parse("sha-256=:YWI=:", &found, sha),
                     JG_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(jg_obj_content_digest_parse("sha-256=:!!:", &found, sha),
                     JG_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(test_obj_bucket_config)
{
    struct jg_obj_bucket_cfg c = {0};
    char why[200];
    const char *body = "{\"description\":\"d\",\"ttl\":\"1h\",\"max_bytes\":1000,\"storage\":\"memory\",\"replicas\":1}";
    ck_assert_int_eq(jg_obj_bucket_cfg_parse(body, strlen(body), &c, why, sizeof(why)), JG_OK);
    ck_assert(c.has_ttl && c.ttl == 3600LL * 1000000000LL);
    char *cfg = jg_obj_stream_config("b", &c);
    ck_assert(strstr(cfg, "\"name\":\"OBJ_b\"") != NULL);
    ck_assert(strstr(cfg, "\"subjects\":[\"$O.b.C.>\",\"$O.b.M.>\"]") != NULL);
    ck_assert(strstr(cfg, "\"discard\":\"new\"") != NULL);
    ck_assert(strstr(cfg, "\"allow_rollup_hdrs\":true") != NULL);
    ck_assert(strstr(cfg, "\"allow_direct\":true") != NULL);
    ck_assert(strstr(cfg, "\"deny_purge\":false") != NULL);
    ck_assert(strstr(cfg, "\"storage\":\"memory\"") != NULL);
    ck_assert(strstr(cfg, "\"max_bytes\":1000") != NULL);
    cJSON *j = cJSON_Parse(cfg);
    ck_assert(jg_obj_bucket_cfg_same(j, &c));
    c.max_bytes = 2000;
    ck_assert(!jg_obj_bucket_cfg_same(j, &c));
    cJSON_Delete(j);
    free(cfg);
    jg_obj_bucket_cfg_done(&c);
    struct jg_obj_bucket_cfg d = {0};
    ck_assert_int_eq(jg_obj_bucket_cfg_parse("{\"history\":3}", 13, &d, why, sizeof(why)),
                     JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_obj_bucket_cfg_parse("{\"replicas\":9}", 14, &d, why, sizeof(why)),
                     JG_ERR_INVALID_CONFIG);
    ck_assert_int_eq(jg_obj_bucket_cfg_parse("[]", 2, &d, why, sizeof(why)), JG_ERR_INVALID_CONFIG);
    jg_obj_bucket_cfg_done(&d);
}
END_TEST

/* obj/bucket.c: random object bucket configurations map onto a stream
 * config that holds what they ask, whose status reports them in the
 * documented order; an update with the same fields changes nothing, a
 * shorter ttl brings the duplicate window down to it, the storage is
 * fixed, and the status counts a max_bytes of 0 or less as unlimited. */
START_TEST(test_obj_bucket_mapping)
{
    srand(23);
    for (int round = 0; round < 300; round++) {
        struct jg_obj_bucket_cfg c = {0};
        char body[300], why[200];
        int64_t ttl = (int64_t)(rand() % 5) * 60000000000LL;
        int64_t mb = rand() % 2 ? -1 : 1000000LL * (1 + rand() % 1000);
        const char *storage = rand() % 2 ? "file" : "memory";
        snprintf(body, sizeof(body),
                 "{\"ttl\":%lld,\"max_bytes\":%lld,\"storage\":\"%s\",\"description\":\"d%d\"}",
                 (long long)ttl, (long long)mb, storage, round);
        ck_assert_int_eq(jg_obj_bucket_cfg_parse(body, strlen(body), &c, why, sizeof(why)), JG_OK);
        char *text = jg_obj_stream_config("b", &c);
        cJSON *cfg = cJSON_Parse(text);
        free(text);
        ck_assert_ptr_nonnull(cfg);
        ck_assert(jg_obj_bucket_cfg_same(cfg, &c));

        cJSON *si = cJSON_CreateObject();
        cJSON_AddItemToObject(si, "config", cJSON_Duplicate(cfg, true));
        cJSON *st = jg_obj_bucket_status_json("b", si);
        static const char *const order[] = {"bucket", "description", "ttl", "storage",
                                            "replicas", "sealed", "size", "max_bytes"};
        const cJSON *m = st->child;
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++, m = m->next)
            ck_assert_str_eq(m->string, order[i]);
        ck_assert_ptr_null(m);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "ttl")->valuedouble, ttl);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "max_bytes")->valuedouble, mb);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(st, "storage")->valuestring, storage);
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "sealed")));
        cJSON_Delete(st);
        /* a stream whose max_bytes is 0 counts as unlimited */
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(si, "config");
        cJSON_ReplaceItemInObjectCaseSensitive(sc, "max_bytes", cJSON_CreateNumber(0));
        st = jg_obj_bucket_status_json("b", si);
        ck_assert_int_eq((int64_t)cJSON_GetObjectItemCaseSensitive(st, "max_bytes")->valuedouble, -1);
        ck_assert(jg_obj_bucket_cfg_same(sc, &c) == (mb == -1));
        cJSON_Delete(st);
        cJSON_Delete(si);

        /* the same fields again: nothing changes */
        ck_assert_int_eq(jg_obj_bucket_cfg_update(cfg, &c, why, sizeof(why)), JG_OK);
        ck_assert(jg_obj_bucket_cfg_same(cfg, &c));
        /* a shorter ttl than the duplicate window brings the window down */
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "duplicate_window");
        cJSON_AddNumberToObject(cfg, "duplicate_window", 120000000000.0);
        struct jg_obj_bucket_cfg c2 = {0};
        c2.has_ttl = true;
        c2.ttl = 1000000000LL * (1 + rand() % 200);
        ck_assert_int_eq(jg_obj_bucket_cfg_update(cfg, &c2, why, sizeof(why)), JG_OK);
        int64_t dw = (int64_t)cJSON_GetObjectItemCaseSensitive(cfg, "duplicate_window")->valuedouble;
        ck_assert_int_eq(dw, c2.ttl < 120000000000LL ? c2.ttl : 120000000000LL);
        c.ttl = c2.ttl;
        c.has_ttl = true;
        ck_assert(jg_obj_bucket_cfg_same(cfg, &c));
        /* the storage is fixed */
        struct jg_obj_bucket_cfg c3 = {0};
        c3.has_storage = true;
        strcpy(c3.storage, strcmp(storage, "file") == 0 ? "memory" : "file");
        why[0] = '\0';
        ck_assert_int_eq(jg_obj_bucket_cfg_update(cfg, &c3, why, sizeof(why)),
                         JG_ERR_INVALID_CONFIG);
        ck_assert(why[0] != '\0');
        cJSON_Delete(cfg);
        jg_obj_bucket_cfg_done(&c);
    }
}
END_TEST

START_TEST(test_obj_etag_list_matches)
{
    const char *d = "SHA-256=abc";
    ck_assert(jg_obj_etag_list_matches("\"SHA-256=abc\"", d, false));
    ck_assert(jg_obj_etag_list_matches("\"x\", \"SHA-256=abc\"", d, false));
    ck_assert(jg_obj_etag_list_matches("*", d, false));
    ck_assert(!jg_obj_etag_list_matches("\"x\"", d, true));
    ck_assert(jg_obj_etag_list_matches("W/\"SHA-256=abc\"", d, true));
    ck_assert(!jg_obj_etag_list_matches("W/\"SHA-256=abc\"", d, false)); /* If-Match is strong */
    ck_assert(!jg_obj_etag_list_matches("\"SHA-256=ab\"", d, true));
}
END_TEST

/* The PATCH merge, without a server: names, descriptions, header names
 * made canonical, null removing, errors leaving a reason. */
START_TEST(test_obj_apply_patch)
{
    struct jg_obj_info info = {0};
    char why[200];
    info.name = strdup("a");
    cJSON *p = cJSON_Parse("{\"name\":\"b/c\",\"description\":\"d\","
                           "\"headers\":{\"content-type\":\"text/plain\",\"x-a\":[\"1\",\"2\"]},"
                           "\"metadata\":{\"k\":\"v\"}}");
    ck_assert_int_eq(jg_obj_info_apply_patch(&info, p, why, sizeof(why)), JG_OK);
    cJSON_Delete(p);
    ck_assert_str_eq(info.name, "b/c");
    ck_assert_str_eq(info.description, "d");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(info.headers, "Content-Type");
    ck_assert(cJSON_IsArray(ct) && cJSON_GetArraySize(ct) == 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(info.headers, "X-A")), 2);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(info.metadata, "k")->valuestring, "v");

    /* null removes: a field, one entry, and an emptied object goes */
    p = cJSON_Parse("{\"description\":null,\"headers\":{\"X-A\":null},\"metadata\":{\"k\":null}}");
    ck_assert_int_eq(jg_obj_info_apply_patch(&info, p, why, sizeof(why)), JG_OK);
    cJSON_Delete(p);
    ck_assert_ptr_null(info.description);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(info.headers, "X-A"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(info.headers, "Content-Type"));
    ck_assert_ptr_null(info.metadata);

    static const struct {
        const char *patch;
        jg_status st;
    } bad[] = {
        {"{\"name\":\"\"}", JG_ERR_INVALID_NAME},
        {"{\"name\":3}", JG_ERR_INVALID_NAME},
        {"{\"description\":1}", JG_ERR_INVALID_PARAMETER},
        {"{\"headers\":[]}", JG_ERR_INVALID_PARAMETER},
        {"{\"headers\":{\"a b\":\"x\"}}", JG_ERR_INVALID_PARAMETER},
        {"{\"headers\":{\"a\":\"x\\ny\"}}", JG_ERR_INVALID_PARAMETER},
        {"{\"headers\":{\"a\":[1]}}", JG_ERR_INVALID_PARAMETER},
        {"{\"metadata\":{\"a\":1}}", JG_ERR_INVALID_PARAMETER},
        {"{\"size\":1}", JG_ERR_INVALID_PARAMETER},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = cJSON_Parse(bad[i].patch);
        ck_assert_ptr_nonnull(p);
        why[0] = '\0';
        ck_assert_int_eq(jg_obj_info_apply_patch(&info, p, why, sizeof(why)), bad[i].st);
        ck_assert(why[0] != '\0');
        cJSON_Delete(p);
    }

    /* random rounds against a model: metadata set and removed key by key */
    srand(7);
    bool model[8] = {0};
    for (int round = 0; round < 500; round++) {
        char body[64];
        int k = rand() % 8;
        bool set = rand() % 2;
        snprintf(body, sizeof(body), set ? "{\"metadata\":{\"m%d\":\"v%d\"}}" : "{\"metadata\":{\"m%d\":null}}",
                 k, round);
        p = cJSON_Parse(body);
        ck_assert_int_eq(jg_obj_info_apply_patch(&info, p, why, sizeof(why)), JG_OK);
        cJSON_Delete(p);
        model[k] = set;
        int n = 0;
        for (int j = 0; j < 8; j++) {
            char name[8];
            snprintf(name, sizeof(name), "m%d", j);
            ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(info.metadata, name) != NULL, model[j]);
            n += model[j];
        }
        ck_assert_int_eq(info.metadata ? cJSON_GetArraySize(info.metadata) : 0, n);
    }
    cJSON_Delete(info.headers);
    cJSON_Delete(info.metadata);
    free(info.name);
    free(info.description);
}
END_TEST

/* nats/subjects.c: the layout of the official clients */
START_TEST(test_subjects)
{
    char out[200];
    jg_js_stream_name(JG_BUCKET_KV, "b", out, sizeof(out));
    ck_assert_str_eq(out, "KV_b");
    jg_js_stream_name(JG_BUCKET_OBJ, "b", out, sizeof(out));
    ck_assert_str_eq(out, "OBJ_b");
    jg_subj_kv_key("b", "a.c", out, sizeof(out));
    ck_assert_str_eq(out, "$KV.b.a.c");
    ck_assert_uint_eq(jg_subj_kv_prefix("b", out, sizeof(out)), 6);
    ck_assert_str_eq(out, "$KV.b.");
    jg_subj_obj_chunks("b", "N1", out, sizeof(out));
    ck_assert_str_eq(out, "$O.b.C.N1");
    jg_subj_obj_meta("b", ">", out, sizeof(out));
    ck_assert_str_eq(out, "$O.b.M.>");
    jg_subj_api("STREAM.INFO", "OBJ_b", NULL, out, sizeof(out));
    ck_assert_str_eq(out, "$JS.API.STREAM.INFO.OBJ_b");
    jg_subj_api("CONSUMER.DELETE", "OBJ_b", "c1", out, sizeof(out));
    ck_assert_str_eq(out, "$JS.API.CONSUMER.DELETE.OBJ_b.c1");
    jg_subj_obj_meta("bucket", "0123456789", out, 10); /* truncated, terminated */
    ck_assert_str_eq(out, "$O.bucket");
}
END_TEST

static Suite *obj_suite(void)
{
    Suite *s = suite_create("obj");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_obj_names);
    tcase_add_test(tc, test_obj_name_encoding);
    tcase_add_test(tc, test_obj_digest);
    tcase_add_test(tc, test_obj_meta_json);
    tcase_add_test(tc, test_obj_canonical_header);
    tcase_add_test(tc, test_obj_header_valid);
    tcase_add_test(tc, test_obj_range);
    tcase_add_test(tc, test_obj_content_digest);
    tcase_add_test(tc, test_obj_bucket_config);
    tcase_add_test(tc, test_obj_bucket_mapping);
    tcase_add_test(tc, test_obj_etag_list_matches);
    tcase_add_test(tc, test_obj_apply_patch);
    tcase_add_test(tc, test_subjects);
    suite_add_tcase(s, tc);
    return s;
}

JG_CHECK_MAIN(obj_suite)
