/* check_handlers.c - the key and object handlers (src/http/h_kv.c,
 * h_obj.c) and the bucket handlers (h_kvm.c, h_objm.c) against a fake
 * request: this file defines the request API of
 * request.h that reads the connection (input.c) and runs the life cycle
 * (lifecycle.c, upload.c, respond.c), so the handlers link with it and
 * the real response builders (request.c); their calls into kv/ and obj/
 * go to a recording table put in place of the real one (calls.h).
 *
 * Each test checks what a handler must do: refuse bad input with the
 * problem code and status of the contract and no storage call, make
 * exactly one storage call with what it parsed, and answer from that
 * call's callback (status, headers, body). */
#include "check_main.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "http/calls.h"
#include "http/handlers.h"
#include "http/request.h"

/* --- the fake request ------------------------------------------------------ */

#define MAX_PAIRS 16

struct fake {
    struct jg_req req;
    const char *hdr[MAX_PAIRS][2];
    int nhdr;
    const char *query[MAX_PAIRS][2]; /* decoded values */
    int nquery;
    char *kept[64];
    int nkept;
    bool suspended;
    int done;
    int refs;
    jg_body_fn on_body;
    jg_body_end_fn on_body_end;
};

static struct fake *fake_of(struct jg_req *req)
{
    return (struct fake *)req;
}

static struct fake *fake_new(enum jg_method method, const char *bucket, const char *key)
{
    struct fake *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    f->req.method = method;
    f->req.bucket = bucket ? strdup(bucket) : NULL;
    f->req.key = key ? strdup(key) : NULL;
    jg_buf_init(&f->req.body);
    return f;
}

static void fake_header(struct fake *f, const char *name, const char *value)
{
    ck_assert_int_lt(f->nhdr, MAX_PAIRS);
    f->hdr[f->nhdr][0] = name;
    f->hdr[f->nhdr++][1] = value;
}

static void fake_query(struct fake *f, const char *name, const char *value)
{
    ck_assert_int_lt(f->nquery, MAX_PAIRS);
    f->query[f->nquery][0] = name;
    f->query[f->nquery++][1] = value;
}

static void fake_body(struct fake *f, const char *text)
{
    ck_assert_int_eq(jg_buf_append(&f->req.body, text, strlen(text)), JG_OK);
}

static void fake_free(struct fake *f)
{
    for (int i = 0; i < f->nkept; i++)
        free(f->kept[i]);
    jg_resp_clear(&f->req.resp);
    jg_buf_done(&f->req.body);
    free(f->req.bucket);
    free(f->req.key);
    free(f);
}

const char *jg_req_header(struct jg_req *req, const char *name)
{
    struct fake *f = fake_of(req);
    for (int i = 0; i < f->nhdr; i++)
        if (strcasecmp(f->hdr[i][0], name) == 0)
            return f->hdr[i][1];
    return NULL;
}

jg_status jg_req_query_each(struct jg_req *req, const char *name,
                            jg_status (*fn)(void *ctx, const char *value), void *ctx)
{
    struct fake *f = fake_of(req);
    for (int i = 0; i < f->nquery; i++) {
        if (strcmp(f->query[i][0], name) != 0)
            continue;
        jg_status st = fn(ctx, f->query[i][1]);
        if (st != JG_OK)
            return st;
    }
    return JG_OK;
}

jg_status jg_req_query(struct jg_req *req, const char *name, const char **ret)
{
    struct fake *f = fake_of(req);
    *ret = NULL;
    for (int i = 0; i < f->nquery && !*ret; i++)
        if (strcmp(f->query[i][0], name) == 0)
            *ret = f->query[i][1];
    return JG_OK;
}

void jg_req_header_each(struct jg_req *req,
                        bool (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct fake *f = fake_of(req);
    for (int i = 0; i < f->nhdr; i++)
        if (!fn(ctx, f->hdr[i][0], f->hdr[i][1]))
            return;
}

jg_status jg_req_keep(struct jg_req *req, char *p)
{
    struct fake *f = fake_of(req);
    ck_assert_int_lt(f->nkept, 64);
    f->kept[f->nkept++] = p;
    return JG_OK;
}

const struct sockaddr *jg_req_peer(struct jg_req *req)
{
    return NULL;
}

void jg_req_suspend(struct jg_req *req)
{
    fake_of(req)->suspended = true;
}

void jg_req_done(struct jg_req *req)
{
    fake_of(req)->done++;
}

void jg_req_ref(struct jg_req *req)
{
    fake_of(req)->refs++;
}

void jg_req_unref(struct jg_req *req)
{
    fake_of(req)->refs--;
}

bool jg_req_closed(struct jg_req *req)
{
    return false;
}

void jg_req_read_body(struct jg_req *req, jg_body_fn on_body, jg_body_end_fn on_end)
{
    fake_of(req)->on_body = on_body;
    fake_of(req)->on_body_end = on_end;
}

void jg_req_resume_upload(struct jg_req *req)
{
}

void jg_req_wake(struct jg_req *req)
{
}

/* --- the recording storage table ------------------------------------------ */

static struct {
    int calls;               /* every call of the table */
    const char *fn;          /* the last one's name */
    char bucket[64], key[256];
    uint64_t revision;       /* kv_get */
    struct jg_kv_write w;    /* kv_write (msg_id and content_type not kept) */
    char value[256];         /* kv_write */
    char patch[256];         /* obj_patch, printed */
    struct jg_obj_put_opts put; /* obj_put_begin (pointers not kept) */
    char put_desc[128];
    bool put_has_ct;
    bool update;             /* *_bucket_write */
    char body[256];          /* *_bucket_write */
    char filters[128];       /* kv_keys: the filters, space-separated */
    int64_t older_ns;        /* kv_purge_deletes */
    char target[128];        /* obj_link: "bucket/name" or "bucket/" */
    void *fn_cb, *ctx;       /* the callback and its ctx */
    const struct jg_obj_put_events *ev;
} rec;

static void record(const char *fn, const char *bucket, const char *key, void *cb, void *ctx)
{
    rec.calls++;
    rec.fn = fn;
    snprintf(rec.bucket, sizeof(rec.bucket), "%s", bucket ? bucket : "");
    snprintf(rec.key, sizeof(rec.key), "%s", key ? key : "");
    rec.fn_cb = cb;
    rec.ctx = ctx;
}

static void t_kv_get(struct jg_app *app, const char *bucket, const char *key, uint64_t revision,
                     jg_kv_get_fn fn, void *ctx)
{
    record("kv_get", bucket, key, (void *)fn, ctx);
    rec.revision = revision;
}

static void t_kv_history(struct jg_app *app, const char *bucket, const char *key,
                         jg_kv_history_fn fn, void *ctx)
{
    record("kv_history", bucket, key, (void *)fn, ctx);
}

static void t_kv_write(struct jg_app *app, const char *bucket, const char *key, const void *value,
                       size_t len, const struct jg_kv_write *w, jg_kv_write_fn fn, void *ctx)
{
    record("kv_write", bucket, key, (void *)fn, ctx);
    rec.w = *w;
    rec.w.msg_id = NULL;
    rec.w.content_type = NULL;
    snprintf(rec.value, sizeof(rec.value), "%.*s", (int)len, (const char *)value);
}

static void t_obj_info_get(struct jg_app *app, const char *bucket, const char *name,
                           jg_obj_info_fn fn, void *ctx)
{
    record("obj_info_get", bucket, name, (void *)fn, ctx);
}

static void t_obj_delete(struct jg_app *app, const char *bucket, const char *name,
                         jg_obj_edit_fn fn, void *ctx)
{
    record("obj_delete", bucket, name, (void *)fn, ctx);
}

static void t_obj_patch(struct jg_app *app, const char *bucket, const char *name,
                        const cJSON *patch, jg_obj_edit_fn fn, void *ctx)
{
    char *text = cJSON_PrintUnformatted(patch);
    record("obj_patch", bucket, name, (void *)fn, ctx);
    snprintf(rec.patch, sizeof(rec.patch), "%s", text ? text : "");
    free(text);
}

static int put_handle;

static void t_obj_put_begin(struct jg_app *app, const struct jg_obj_put_opts *opts,
                            const struct jg_obj_put_events *ev, void *ctx,
                            struct jg_obj_put **ret)
{
    record("obj_put_begin", opts->bucket, opts->name, NULL, ctx);
    rec.put = *opts;
    snprintf(rec.put_desc, sizeof(rec.put_desc), "%s", opts->description ? opts->description : "");
    rec.put_has_ct = cJSON_GetObjectItemCaseSensitive(opts->headers, "Content-Type") != NULL;
    rec.put.bucket = rec.put.name = rec.put.description = rec.put.if_match = NULL;
    rec.put.msg_id = NULL;
    rec.put.headers = NULL;
    cJSON_Delete(opts->headers); /* taken */
    rec.ev = ev;
    *ret = (struct jg_obj_put *)&put_handle;
}

static size_t t_obj_put_write(struct jg_obj_put *p, const void *data, size_t len)
{
    rec.calls++;
    return len;
}

static void t_obj_put_end(struct jg_obj_put *p)
{
    rec.calls++;
    rec.fn = "obj_put_end";
}

static void t_obj_put_abort(struct jg_obj_put *p)
{
    rec.calls++;
}

static jg_status t_obj_reader_new(struct jg_app *app, const struct jg_bucket_info *binfo,
                                  const struct jg_obj_info *info, uint64_t start, uint64_t len,
                                  void (*wake)(void *), void (*release)(void *), void *ctx,
                                  struct jg_obj_reader **ret)
{
    rec.calls++;
    return JG_ERR_INTERNAL;
}

static void t_bucket_write(const char *fn, const char *bucket, const char *body, size_t len,
                           bool update, jg_bucketm_fn cb, void *ctx)
{
    record(fn, bucket, NULL, (void *)cb, ctx);
    rec.update = update;
    snprintf(rec.body, sizeof(rec.body), "%.*s", (int)len, body ? body : "");
}

static void t_kv_bucket_write(struct jg_app *app, const char *bucket, const char *body,
                              size_t len, bool update, jg_bucketm_fn fn, void *ctx)
{
    t_bucket_write("kv_bucket_write", bucket, body, len, update, fn, ctx);
}

static void t_obj_bucket_write(struct jg_app *app, const char *bucket, const char *body,
                               size_t len, bool update, jg_bucketm_fn fn, void *ctx)
{
    t_bucket_write("obj_bucket_write", bucket, body, len, update, fn, ctx);
}

#define BUCKET_CALL(name)                                                                  \
    static void t_##name(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx) \
    {                                                                                      \
        record(#name, bucket, NULL, (void *)fn, ctx);                                      \
    }
BUCKET_CALL(kv_bucket_status)
BUCKET_CALL(kv_bucket_delete)
BUCKET_CALL(obj_bucket_status)
BUCKET_CALL(obj_bucket_delete)
BUCKET_CALL(obj_bucket_seal)

static void t_kv_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn,
                             void *ctx)
{
    record("kv_bucket_list", NULL, NULL, (void *)fn, ctx);
}

static void t_obj_bucket_list(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn,
                              void *ctx)
{
    record("obj_bucket_list", NULL, NULL, (void *)fn, ctx);
}

static void t_kv_keys(struct jg_app *app, const char *bucket, char **filters, char **prefixes,
                      char *const *scope, jg_kv_keys_fn fn, void *ctx)
{
    record("kv_keys", bucket, NULL, (void *)fn, ctx);
    for (size_t i = 0; filters && filters[i]; i++)
        snprintf(rec.filters + strlen(rec.filters), sizeof(rec.filters) - strlen(rec.filters),
                 "%s%s", i ? " " : "", filters[i]);
}

static void t_kv_purge_deletes(struct jg_app *app, const char *bucket, int64_t older_than_ns,
                               jg_kv_done_fn fn, void *ctx)
{
    record("kv_purge_deletes", bucket, NULL, (void *)fn, ctx);
    rec.older_ns = older_than_ns;
}

static void t_obj_link(struct jg_app *app, const char *bucket, const char *name,
                       const char *target_bucket, const char *target_name, jg_obj_edit_fn fn,
                       void *ctx)
{
    record("obj_link", bucket, name, (void *)fn, ctx);
    snprintf(rec.target, sizeof(rec.target), "%s/%s", target_bucket,
             target_name ? target_name : "");
}

static const struct jg_h_calls recording = {
    .kv_get = t_kv_get,
    .kv_history = t_kv_history,
    .kv_write = t_kv_write,
    .obj_info_get = t_obj_info_get,
    .obj_delete = t_obj_delete,
    .obj_patch = t_obj_patch,
    .obj_put_begin = t_obj_put_begin,
    .obj_put_write = t_obj_put_write,
    .obj_put_end = t_obj_put_end,
    .obj_put_abort = t_obj_put_abort,
    .obj_reader_new = t_obj_reader_new,
    .kv_bucket_write = t_kv_bucket_write,
    .kv_bucket_status = t_kv_bucket_status,
    .kv_bucket_delete = t_kv_bucket_delete,
    .kv_bucket_list = t_kv_bucket_list,
    .kv_keys = t_kv_keys,
    .kv_purge_deletes = t_kv_purge_deletes,
    .obj_bucket_write = t_obj_bucket_write,
    .obj_bucket_status = t_obj_bucket_status,
    .obj_bucket_delete = t_obj_bucket_delete,
    .obj_bucket_list = t_obj_bucket_list,
    .obj_bucket_seal = t_obj_bucket_seal,
    .obj_link = t_obj_link,
};

static void setup(void)
{
    memset(&rec, 0, sizeof(rec));
    jg_h_calls = &recording;
}

/* --- what the answer says ---------------------------------------------------- */

static const char *resp_header(struct fake *f, const char *name)
{
    const struct jg_resp *r = &f->req.resp;
    for (int i = 0; i < r->nhdr; i++)
        if (strcasecmp(jg_resp_hdr_at(r, i)->name, name) == 0)
            return jg_resp_hdr_at(r, i)->value;
    return NULL;
}

static char *resp_body(struct fake *f)
{
    const struct jg_resp *r = &f->req.resp;
    char *s = malloc(r->body_len + 1);
    ck_assert_ptr_nonnull(s);
    if (r->body_len)
        memcpy(s, r->body, r->body_len);
    s[r->body_len] = '\0';
    return s;
}

/* The answer is a problem with this status and code, given once, after
 * no storage call. */
static void assert_problem(struct fake *f, int status, const char *code)
{
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, status);
    ck_assert_str_eq(resp_header(f, "Content-Type"), "application/problem+json");
    char *body = resp_body(f);
    cJSON *o = cJSON_Parse(body);
    ck_assert_msg(o != NULL, "problem body is not JSON: %s", body);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "code")->valuestring, code);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "status")->valueint, status);
    cJSON_Delete(o);
    free(body);
}

/* A bad request: answered at once with the problem, storage untouched. */
static void assert_refused(struct fake *f, int status, const char *code)
{
    assert_problem(f, status, code);
    ck_assert_int_eq(rec.calls, 0);
    ck_assert(!f->suspended);
}

/* Exactly one storage call, fn, for bucket and key; the request waits for it. */
static void assert_one_call(struct fake *f, const char *fn, const char *bucket, const char *key)
{
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_str_eq(rec.fn, fn);
    ck_assert_str_eq(rec.bucket, bucket);
    ck_assert_str_eq(rec.key, key);
    ck_assert(f->suspended);
    ck_assert_int_eq(f->done, 0);
}

static struct jg_kv_entry *entry(const char *bucket, const char *key, uint64_t rev,
                                 const char *value)
{
    struct jg_kv_entry *e = calloc(1, sizeof(*e));
    ck_assert_ptr_nonnull(e);
    e->bucket = strdup(bucket);
    e->key = strdup(key);
    e->revision = rev;
    e->delta = 0;
    e->created_ns = 1700000000000000000LL;
    e->op = JG_KV_PUT;
    e->value_buf = strdup(value);
    e->value = e->value_buf;
    e->value_len = strlen(value);
    return e;
}

/* --- KV ------------------------------------------------------------------------ */

START_TEST(test_handlers_kv_bad_names)
{
    static const char *buckets[] = {"a.b", "", "a b", "x/y", "a*"};
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_GET, buckets[i], "k");
        jg_h_kv_get(&f->req);
        assert_refused(f, 400, "invalid_bucket");
        fake_free(f);
    }
    static const char *keys[] = {".k", "k.", "a..b", "_kv", "_kvx", "a b", "a*", "a>"};
    void (*handlers[])(struct jg_req *) = {jg_h_kv_get, jg_h_kv_put, jg_h_kv_create,
                                           jg_h_kv_delete};
    for (size_t h = 0; h < sizeof(handlers) / sizeof(handlers[0]); h++) {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            setup();
            struct fake *f = fake_new(JG_PUT, "b", keys[i]);
            handlers[h](&f->req);
            assert_refused(f, 400, "invalid_key");
            fake_free(f);
        }
    }
}
END_TEST

/* Random revision texts: a positive decimal gives one get of that
 * revision, anything else 400 invalid_parameter and no call. */
START_TEST(test_handlers_kv_revision_property)
{
    static const char alphabet[] = "0123456789-+x. ";
    srand(17);
    for (int round = 0; round < 3000; round++) {
        char text[24];
        int n = rand() % 22;
        for (int i = 0; i < n; i++)
            text[i] = alphabet[rand() % (round % 3 ? 10 : (int)sizeof(alphabet) - 1)];
        text[n] = '\0';
        /* at most 20 digits, not above 2^64 - 1 */
        bool valid = n > 0 && n <= 20 && strspn(text, "0123456789") == (size_t)n &&
                     (n < 20 || strcmp(text, "18446744073709551615") <= 0);
        uint64_t want = valid ? strtoull(text, NULL, 10) : 0;
        if (want == 0)
            valid = false;
        setup();
        struct fake *f = fake_new(JG_GET, "b", "k/1");
        fake_query(f, "revision", text);
        jg_h_kv_get(&f->req);
        if (valid) {
            assert_one_call(f, "kv_get", "b", "k/1");
            ck_assert_uint_eq(rec.revision, want);
        } else {
            assert_refused(f, 400, "invalid_parameter");
        }
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_kv_bad_query_values)
{
    static const struct {
        void (*handler)(struct jg_req *);
        const char *name, *value;
    } cases[] = {
        {jg_h_kv_get, "history", "maybe"},
        {jg_h_kv_get, "revision", "0"},
        {jg_h_kv_put, "previousRevision", "-1"},
        {jg_h_kv_put, "previousRevision", "x"},
        {jg_h_kv_delete, "purge", "yes"},
        {jg_h_kv_delete, "previousRevision", "1e3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "k");
        fake_query(f, cases[i].name, cases[i].value);
        cases[i].handler(&f->req);
        assert_refused(f, 400, "invalid_parameter");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_kv_bad_preconditions)
{
    static const char *hdr[][2] = {
        {"If-Match", "\"x\""},          /* not a revision */
        {"If-Match", "\"0\""},        /* not positive */
        {"If-None-Match", "\"3\""},   /* only * on writes */
        {"Idempotency-Key", ""},
    };
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "k");
        fake_header(f, hdr[i][0], hdr[i][1]);
        jg_h_kv_put(&f->req);
        assert_refused(f, 400, "invalid_parameter");
        fake_free(f);
    }
    setup();
    struct fake *f = fake_new(JG_PUT, "b", "k");
    fake_header(f, "If-Match", "\"3\"");
    fake_query(f, "previousRevision", "4");
    jg_h_kv_put(&f->req);
    assert_refused(f, 400, "invalid_parameter");
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_kv_get_answers_from_callback)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", "a/k");
    jg_h_kv_get(&f->req);
    assert_one_call(f, "kv_get", "b", "a/k");
    ck_assert_uint_eq(rec.revision, 0);
    ((jg_kv_get_fn)rec.fn_cb)(rec.ctx, JG_OK, entry("b", "a/k", 42, "hello"));
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 200);
    ck_assert_str_eq(resp_header(f, "ETag"), "\"42\"");
    ck_assert_str_eq(resp_header(f, "X-Nats-Kv-Revision"), "42");
    ck_assert_str_eq(resp_header(f, "X-Nats-Kv-Key"), "a/k");
    ck_assert_str_eq(resp_header(f, "X-Nats-Kv-Operation"), "PUT");
    ck_assert_str_eq(resp_header(f, "Content-Type"), "application/octet-stream");
    char *body = resp_body(f);
    ck_assert_str_eq(body, "hello");
    free(body);
    ck_assert_int_eq(rec.calls, 1);
    fake_free(f); /* releases the entry the body points into */
}
END_TEST

START_TEST(test_handlers_kv_get_json_and_not_modified)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", "k");
    fake_header(f, "Accept", "application/json");
    jg_h_kv_get(&f->req);
    assert_one_call(f, "kv_get", "b", "k");
    ((jg_kv_get_fn)rec.fn_cb)(rec.ctx, JG_OK, entry("b", "k", 7, "v"));
    ck_assert_int_eq(f->req.resp.status, 200);
    char *body = resp_body(f);
    cJSON *o = cJSON_Parse(body);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "revision")->valueint, 7);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "key")->valuestring, "k");
    cJSON_Delete(o);
    free(body);
    fake_free(f);

    setup();
    f = fake_new(JG_GET, "b", "k");
    fake_header(f, "If-None-Match", "\"6\", \"7\"");
    jg_h_kv_get(&f->req);
    ((jg_kv_get_fn)rec.fn_cb)(rec.ctx, JG_OK, entry("b", "k", 7, "v"));
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 304);
    ck_assert_str_eq(resp_header(f, "ETag"), "\"7\"");
    ck_assert_uint_eq(f->req.resp.body_len, 0);
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_kv_get_errors)
{
    static const struct {
        jg_status st;
        int status;
    } cases[] = {
        {JG_ERR_KEY_NOT_FOUND, 404},
        {JG_ERR_BUCKET_NOT_FOUND, 404},
        {JG_ERR_NATS_TIMEOUT, 504},
        {JG_ERR_NATS_UNAVAILABLE, 503},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_GET, "b", "k");
        jg_h_kv_get(&f->req);
        ((jg_kv_get_fn)rec.fn_cb)(rec.ctx, cases[i].st, NULL);
        assert_problem(f, cases[i].status, jg_status_code(cases[i].st));
        fake_free(f);
    }
}
END_TEST

/* A blocking read's bad 'wait' values and If-None-Match are refused
 * before anything is read or held. */
START_TEST(test_handlers_kv_get_bad_wait)
{
    static const char *waits[] = {"30", "0", "30x", "-1s", "", "s", "1e3s", " 5s", "5s "};
    for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_GET, "b", "k");
        fake_query(f, "wait", waits[i]);
        fake_header(f, "If-None-Match", "\"3\"");
        jg_h_kv_get(&f->req);
        assert_refused(f, 400, "invalid_parameter");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_kv_history_one_call)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", "k");
    fake_query(f, "history", "true");
    jg_h_kv_get(&f->req);
    assert_one_call(f, "kv_history", "b", "k");
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_kv_put_parses_preconditions)
{
    static const struct {
        const char *hname, *hvalue, *prev;
        enum jg_kv_expect expect;
        uint64_t revision;
        int conflict; /* status of a failed precondition */
    } cases[] = {
        {NULL, NULL, NULL, JG_KV_EXPECT_ANY, 0, 409},
        {"If-Match", "\"3\"", NULL, JG_KV_EXPECT_REVISION, 3, 412},
        {"If-None-Match", "*", NULL, JG_KV_EXPECT_CREATE, 0, 412},
        {NULL, NULL, "9", JG_KV_EXPECT_REVISION, 9, 409},
        {NULL, NULL, "0", JG_KV_EXPECT_CREATE, 0, 409},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "k");
        if (cases[i].hname)
            fake_header(f, cases[i].hname, cases[i].hvalue);
        if (cases[i].prev)
            fake_query(f, "previousRevision", cases[i].prev);
        fake_body(f, "value");
        jg_h_kv_put(&f->req);
        assert_one_call(f, "kv_write", "b", "k");
        ck_assert_int_eq(rec.w.op, JG_KV_PUT);
        ck_assert_int_eq(rec.w.expect, cases[i].expect);
        ck_assert_uint_eq(rec.w.revision, cases[i].revision);
        ck_assert_str_eq(rec.value, "value");
        /* a mismatch answers 412 for header preconditions, else 409 */
        ((jg_kv_write_fn)rec.fn_cb)(rec.ctx, JG_ERR_REVISION_MISMATCH, 0);
        assert_problem(f, cases[i].conflict, "revision_mismatch");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_kv_put_answers_from_callback)
{
    setup();
    struct fake *f = fake_new(JG_PUT, "b", "k");
    fake_body(f, "v");
    jg_h_kv_put(&f->req);
    assert_one_call(f, "kv_write", "b", "k");
    ((jg_kv_write_fn)rec.fn_cb)(rec.ctx, JG_OK, 12);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 201);
    ck_assert_str_eq(resp_header(f, "ETag"), "\"12\"");
    ck_assert_str_eq(resp_header(f, "X-Nats-Kv-Revision"), "12");
    char *body = resp_body(f);
    ck_assert_str_eq(body, "12");
    free(body);
    fake_free(f);

    /* create: a key that exists is a conflict */
    setup();
    f = fake_new(JG_POST, "b", "k");
    jg_h_kv_create(&f->req);
    assert_one_call(f, "kv_write", "b", "k");
    ck_assert_int_eq(rec.w.expect, JG_KV_EXPECT_CREATE);
    ((jg_kv_write_fn)rec.fn_cb)(rec.ctx, JG_ERR_KEY_EXISTS, 0);
    assert_problem(f, 409, jg_status_code(JG_ERR_KEY_EXISTS));
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_kv_delete_and_purge)
{
    for (int purge = 0; purge < 2; purge++) {
        setup();
        struct fake *f = fake_new(JG_DELETE, "b", "k");
        if (purge)
            fake_query(f, "purge", "true");
        fake_body(f, "ignored");
        jg_h_kv_delete(&f->req);
        assert_one_call(f, "kv_write", "b", "k");
        ck_assert_int_eq(rec.w.op, purge ? JG_KV_PURGE : JG_KV_DEL);
        ck_assert_str_eq(rec.value, "");
        ((jg_kv_write_fn)rec.fn_cb)(rec.ctx, JG_OK, 5);
        ck_assert_int_eq(f->req.resp.status, 200);
        char *body = resp_body(f);
        ck_assert_str_eq(body, "{\"revision\":5}");
        free(body);
        fake_free(f);
    }
}
END_TEST

/* --- objects --------------------------------------------------------------------- */

static struct jg_obj_info *obj_info(const char *bucket, const char *name, uint64_t size)
{
    struct jg_obj_info *i = calloc(1, sizeof(*i));
    ck_assert_ptr_nonnull(i);
    i->bucket = strdup(bucket);
    i->name = strdup(name);
    i->nuid = strdup("NUID1");
    i->size = size;
    i->chunks = size ? 1 : 0;
    i->mtime = strdup("2026-01-02T03:04:05Z");
    i->digest = strdup("SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
    i->revision = 3;
    return i;
}

START_TEST(test_handlers_obj_bad_names)
{
    void (*handlers[])(struct jg_req *) = {jg_h_obj_get, jg_h_obj_put, jg_h_obj_delete,
                                           jg_h_obj_patch};
    for (size_t h = 0; h < sizeof(handlers) / sizeof(handlers[0]); h++) {
        setup();
        struct fake *f = fake_new(JG_GET, "a.b", "n");
        handlers[h](&f->req);
        assert_refused(f, 400, "invalid_bucket");
        fake_free(f);
        setup();
        f = fake_new(JG_GET, "b", "");
        handlers[h](&f->req);
        assert_refused(f, 400, "invalid_name");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_obj_get_meta_only)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", "n");
    fake_query(f, "metaOnly", "maybe");
    jg_h_obj_get(&f->req);
    assert_refused(f, 400, "invalid_parameter");
    fake_free(f);

    setup();
    f = fake_new(JG_GET, "b", "dir/n");
    fake_query(f, "metaOnly", "true");
    jg_h_obj_get(&f->req);
    assert_one_call(f, "obj_info_get", "b", "dir/n");
    ((jg_obj_info_fn)rec.fn_cb)(rec.ctx, JG_OK, obj_info("b", "dir/n", 5), NULL);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 200);
    ck_assert_str_eq(resp_header(f, "ETag"),
                     "\"SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\"");
    ck_assert_str_eq(resp_header(f, "X-Nats-Obj-Size"), "5");
    ck_assert_uint_eq(f->req.resp.body_len, 0);
    ck_assert_int_eq(rec.calls, 1); /* no reader for metaOnly */
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_obj_get_errors)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", "n");
    jg_h_obj_get(&f->req);
    ((jg_obj_info_fn)rec.fn_cb)(rec.ctx, JG_ERR_OBJECT_NOT_FOUND, NULL, NULL);
    assert_problem(f, 404, jg_status_code(JG_ERR_OBJECT_NOT_FOUND));
    fake_free(f);

    /* a deleted object is not found either */
    setup();
    f = fake_new(JG_GET, "b", "n");
    jg_h_obj_get(&f->req);
    struct jg_obj_info *i = obj_info("b", "n", 0);
    i->deleted = true;
    ((jg_obj_info_fn)rec.fn_cb)(rec.ctx, JG_OK, i, NULL);
    assert_problem(f, 404, jg_status_code(JG_ERR_OBJECT_NOT_FOUND));
    fake_free(f);

    /* a range past the end */
    setup();
    f = fake_new(JG_GET, "b", "n");
    fake_header(f, "Range", "bytes=10-");
    jg_h_obj_get(&f->req);
    ((jg_obj_info_fn)rec.fn_cb)(rec.ctx, JG_OK, obj_info("b", "n", 5), NULL);
    assert_problem(f, 416, jg_status_code(JG_ERR_RANGE_NOT_SATISFIABLE));
    ck_assert_str_eq(resp_header(f, "Content-Range"), "bytes */5");
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_obj_delete_and_patch)
{
    setup();
    struct fake *f = fake_new(JG_DELETE, "b", "n");
    jg_h_obj_delete(&f->req);
    assert_one_call(f, "obj_delete", "b", "n");
    struct jg_obj_info *i = obj_info("b", "n", 0);
    ((jg_obj_edit_fn)rec.fn_cb)(rec.ctx, JG_OK, i, NULL);
    jg_obj_info_free(i);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 200);
    char *body = resp_body(f);
    cJSON *o = cJSON_Parse(body);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "name")->valuestring, "n");
    cJSON_Delete(o);
    free(body);
    fake_free(f);

    setup();
    f = fake_new(JG_PATCH, "b", "n");
    fake_body(f, "[1]");
    jg_h_obj_patch(&f->req);
    assert_refused(f, 400, "invalid_parameter");
    fake_free(f);

    setup();
    f = fake_new(JG_PATCH, "b", "n");
    fake_body(f, "{\"name\":\"m\"}");
    jg_h_obj_patch(&f->req);
    assert_one_call(f, "obj_patch", "b", "n");
    ck_assert_str_eq(rec.patch, "{\"name\":\"m\"}");
    ((jg_obj_edit_fn)rec.fn_cb)(rec.ctx, JG_ERR_OBJECT_EXISTS, NULL, "'m' exists");
    assert_problem(f, jg_status_http(JG_ERR_OBJECT_EXISTS), jg_status_code(JG_ERR_OBJECT_EXISTS));
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_obj_put_bad_input)
{
    static const struct {
        const char *qname, *qvalue, *hname, *hvalue;
    } cases[] = {
        {"chunkSize", "0", NULL, NULL},
        {"chunkSize", "x", NULL, NULL},
        {"chunkSize", "4294967296", NULL, NULL},
        {NULL, NULL, "Content-Digest", "sha-256=:abc:"},
        {NULL, NULL, "If-None-Match", "\"x\""},
        {NULL, NULL, "X-Nats-Obj-Description", "bad%zz"},
        {NULL, NULL, "X-Nats-Obj-Meta-A", "%00"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "n");
        if (cases[i].qname)
            fake_query(f, cases[i].qname, cases[i].qvalue);
        if (cases[i].hname)
            fake_header(f, cases[i].hname, cases[i].hvalue);
        jg_h_obj_put(&f->req);
        assert_refused(f, 400, "invalid_parameter");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_obj_put_one_session)
{
    setup();
    struct fake *f = fake_new(JG_PUT, "b", "n");
    fake_query(f, "chunkSize", "1024");
    fake_header(f, "If-None-Match", "*");
    fake_header(f, "Content-Type", "text/plain");
    fake_header(f, "Content-Length", "5");
    fake_header(f, "X-Nats-Obj-Description", "a%20b");
    jg_h_obj_put(&f->req);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert_str_eq(rec.fn, "obj_put_begin");
    ck_assert_str_eq(rec.bucket, "b");
    ck_assert_str_eq(rec.key, "n");
    ck_assert_uint_eq(rec.put.chunk_size, 1024);
    ck_assert_int_eq(rec.put.declared_size, 5);
    ck_assert_int_eq(rec.put.cond, JG_OBJ_COND_ABSENT);
    ck_assert_str_eq(rec.put_desc, "a b");
    ck_assert(rec.put_has_ct);
    ck_assert_ptr_nonnull(f->on_body);
    ck_assert_int_eq(f->done, 0);
    /* the body flows to the session, then its end */
    ck_assert_uint_eq(f->on_body(&f->req, "hello", 5), 5);
    f->on_body_end(&f->req);
    ck_assert_str_eq(rec.fn, "obj_put_end");
    struct jg_obj_info *i = obj_info("b", "n", 5);
    rec.ev->done(rec.ctx, JG_OK, "", i);
    jg_obj_info_free(i);
    ck_assert_int_eq(f->done, 1);
    ck_assert_int_eq(f->req.resp.status, 201);
    ck_assert_str_eq(resp_header(f, "ETag"),
                     "\"SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\"");
    ck_assert_int_eq(f->refs, 0); /* the upload's reference is given back */
    fake_free(f);
}
END_TEST

/* --- buckets ------------------------------------------------------------------------ */

START_TEST(test_handlers_buckets_bad_name)
{
    void (*handlers[])(struct jg_req *) = {
        jg_h_kvm_create,  jg_h_kvm_put,    jg_h_kvm_status,  jg_h_kvm_delete,
        jg_h_kvm_keys,    jg_h_kvm_purge,  jg_h_objm_create, jg_h_objm_put,
        jg_h_objm_status, jg_h_objm_delete, jg_h_objm_seal,  jg_h_objm_link,
    };
    for (size_t h = 0; h < sizeof(handlers) / sizeof(handlers[0]); h++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "no.dots", "n");
        handlers[h](&f->req);
        assert_refused(f, 400, "invalid_bucket");
        fake_free(f);
    }
}
END_TEST

START_TEST(test_handlers_buckets_one_call_each)
{
    static const struct {
        void (*handler)(struct jg_req *);
        const char *fn;
        bool update;
    } cases[] = {
        {jg_h_kvm_create, "kv_bucket_write", false},   {jg_h_kvm_put, "kv_bucket_write", true},
        {jg_h_kvm_status, "kv_bucket_status", false},  {jg_h_kvm_delete, "kv_bucket_delete", false},
        {jg_h_objm_create, "obj_bucket_write", false}, {jg_h_objm_put, "obj_bucket_write", true},
        {jg_h_objm_status, "obj_bucket_status", false},
        {jg_h_objm_delete, "obj_bucket_delete", false},
        {jg_h_objm_seal, "obj_bucket_seal", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b1", NULL);
        fake_body(f, "{\"history\":2}");
        cases[i].handler(&f->req);
        assert_one_call(f, cases[i].fn, "b1", "");
        ck_assert_int_eq(rec.update, cases[i].update);
        if (strstr(cases[i].fn, "write"))
            ck_assert_str_eq(rec.body, "{\"history\":2}");
        /* the answer: 201 for a bucket made, 200 otherwise, the problem on error */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "bucket", "b1");
        ((jg_bucketm_fn)rec.fn_cb)(rec.ctx, JG_OK, i % 2 == 0, o, NULL);
        ck_assert_int_eq(f->done, 1);
        ck_assert_int_eq(f->req.resp.status, i % 2 == 0 ? 201 : 200);
        char *body = resp_body(f);
        ck_assert_str_eq(body, "{\"bucket\":\"b1\"}");
        free(body);
        fake_free(f);

        setup();
        f = fake_new(JG_PUT, "b1", NULL);
        cases[i].handler(&f->req);
        ((jg_bucketm_fn)rec.fn_cb)(rec.ctx, JG_ERR_BUCKET_NOT_FOUND, false, NULL, "no such");
        assert_problem(f, 404, jg_status_code(JG_ERR_BUCKET_NOT_FOUND));
        fake_free(f);
    }
    setup();
    struct fake *f = fake_new(JG_GET, NULL, NULL);
    jg_h_kvm_list(&f->req);
    assert_one_call(f, "kv_bucket_list", "", "");
    fake_free(f);
    setup();
    f = fake_new(JG_GET, NULL, NULL);
    jg_h_objm_list(&f->req);
    assert_one_call(f, "obj_bucket_list", "", "");
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_kvm_keys_and_purge)
{
    setup();
    struct fake *f = fake_new(JG_GET, "b", NULL);
    fake_query(f, "filter", "a.*");
    fake_query(f, "filter", "c.>");
    jg_h_kvm_keys(&f->req);
    assert_one_call(f, "kv_keys", "b", "");
    ck_assert_str_eq(rec.filters, "a.* c.>");
    ((jg_kv_keys_fn)rec.fn_cb)(rec.ctx, JG_OK, strdup("[\"a.x\"]"), 7);
    ck_assert_int_eq(f->req.resp.status, 200);
    ck_assert_str_eq(resp_header(f, "Content-Type"), "application/json");
    char *body = resp_body(f);
    ck_assert_str_eq(body, "[\"a.x\"]");
    free(body);
    fake_free(f);

    static const char *bad_filters[] = {"a..b", ".a", "a.>.b", "a b"};
    for (size_t i = 0; i < sizeof(bad_filters) / sizeof(bad_filters[0]); i++) {
        setup();
        f = fake_new(JG_GET, "b", NULL);
        fake_query(f, "filter", bad_filters[i]);
        jg_h_kvm_keys(&f->req);
        assert_refused(f, 400, "invalid_key");
        fake_free(f);
    }

    setup();
    f = fake_new(JG_POST, "b", NULL);
    fake_query(f, "olderThan", "ten minutes");
    jg_h_kvm_purge(&f->req);
    assert_refused(f, 400, "invalid_parameter");
    fake_free(f);

    setup();
    f = fake_new(JG_POST, "b", NULL);
    fake_query(f, "olderThan", "10m");
    jg_h_kvm_purge(&f->req);
    assert_one_call(f, "kv_purge_deletes", "b", "");
    ck_assert_int_eq(rec.older_ns, 600LL * 1000000000LL);
    fake_free(f);
}
END_TEST

START_TEST(test_handlers_objm_link)
{
    static const char *bad[] = {"", "[]", "{}", "{\"bucket\":1}", "{\"bucket\":\"a.b\"}",
                                "{\"bucket\":\"t\",\"name\":5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "n");
        fake_body(f, bad[i]);
        jg_h_objm_link(&f->req);
        assert_refused(f, 400, "invalid_parameter");
        fake_free(f);
    }
    static const struct {
        const char *body, *target;
    } good[] = {
        {"{\"bucket\":\"t\",\"name\":\"x/y\"}", "t/x/y"},
        {"{\"bucket\":\"t\"}", "t/"},
        {"{\"bucket\":\"t\",\"name\":null}", "t/"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setup();
        struct fake *f = fake_new(JG_PUT, "b", "n");
        fake_body(f, good[i].body);
        jg_h_objm_link(&f->req);
        assert_one_call(f, "obj_link", "b", "n");
        ck_assert_str_eq(rec.target, good[i].target);
        struct jg_obj_info *info = obj_info("b", "n", 0);
        ((jg_obj_edit_fn)rec.fn_cb)(rec.ctx, JG_OK, info, NULL);
        jg_obj_info_free(info);
        ck_assert_int_eq(f->req.resp.status, 201);
        fake_free(f);
    }
}
END_TEST

static Suite *handlers_suite(void)
{
    Suite *s = suite_create("handlers");
    TCase *kv = tcase_create("kv");
    tcase_add_test(kv, test_handlers_kv_bad_names);
    tcase_add_test(kv, test_handlers_kv_revision_property);
    tcase_add_test(kv, test_handlers_kv_bad_query_values);
    tcase_add_test(kv, test_handlers_kv_bad_preconditions);
    tcase_add_test(kv, test_handlers_kv_get_answers_from_callback);
    tcase_add_test(kv, test_handlers_kv_get_json_and_not_modified);
    tcase_add_test(kv, test_handlers_kv_get_errors);
    tcase_add_test(kv, test_handlers_kv_get_bad_wait);
    tcase_add_test(kv, test_handlers_kv_history_one_call);
    tcase_add_test(kv, test_handlers_kv_put_parses_preconditions);
    tcase_add_test(kv, test_handlers_kv_put_answers_from_callback);
    tcase_add_test(kv, test_handlers_kv_delete_and_purge);
    suite_add_tcase(s, kv);
    TCase *obj = tcase_create("obj");
    tcase_add_test(obj, test_handlers_obj_bad_names);
    tcase_add_test(obj, test_handlers_obj_get_meta_only);
    tcase_add_test(obj, test_handlers_obj_get_errors);
    tcase_add_test(obj, test_handlers_obj_delete_and_patch);
    tcase_add_test(obj, test_handlers_obj_put_bad_input);
    tcase_add_test(obj, test_handlers_obj_put_one_session);
    suite_add_tcase(s, obj);
    TCase *buckets = tcase_create("buckets");
    tcase_add_test(buckets, test_handlers_buckets_bad_name);
    tcase_add_test(buckets, test_handlers_buckets_one_call_each);
    tcase_add_test(buckets, test_handlers_kvm_keys_and_purge);
    tcase_add_test(buckets, test_handlers_objm_link);
    suite_add_tcase(s, buckets);
    return s;
}

JG_CHECK_MAIN(handlers_suite)
