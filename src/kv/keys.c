/* keys.c - what reads every key of a bucket: key listings and the purge
 * of delete markers (see kv.h).  Both scan the last message of every key
 * with a headers-only consumer on a worker thread (nats/scan.h) and go on
 * from the scan's end on the loop thread. */
#include "autoconfig.h"
#include "kv/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "nats/conn.h"
#include "nats/buckets.h"
#include "nats/js.h"
#include "nats/scan.h"
#include "nats/subjects.h"
#include "util.h"

#define MAX_KEY_LEN JG_KV_MAX_KEY_LEN

/* --- scan: the last message of every key, on a worker thread ----------- */

struct scan;
/* Called for each current message (headers only) of the scan. */
typedef void (*scan_item_fn)(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts_ns);
typedef void (*scan_done_fn)(struct scan *s, jg_status st);

struct scan {
    struct jg_app *app;
    char *bucket;
    char stream[300];
    char filter_subject[MAX_KEY_LEN + 300];
    struct jg_nats_req lookup;
    scan_item_fn item;
    scan_done_fn done;
    void *ctx;
    jg_status st;                /* the scan's outcome, for scan_done */
    struct jg_loop_task task;
};

static void scan_free(struct scan *s)
{
    free(s->bucket);
    free(s);
}

static void scan_msg(void *ctx, natsMsg *m, uint64_t seq, int64_t ts)
{
    struct scan *s = ctx;
    const char *subj = natsMsg_GetSubject(m);
    char prefix[300];
    size_t pl = jg_subj_kv_prefix(s->bucket, prefix, sizeof(prefix));
    if (strlen(subj) > pl)
        s->item(s, subj + pl, jg_kv_op_from_header(jg_nats_msg_header(m, "KV-Operation")), ts);
}

/* The end of a scan, back on the loop thread. */
static void scan_done(void *arg)
{
    struct scan *s = arg;
    JG_ASSERT_LOOP_THREAD(s->app->nats);
    s->done(s, s->st);
    scan_free(s);
}

/* The scan itself, on a worker thread: blocking calls. */
static void scan_work(void *arg)
{
    struct scan *s = arg;
    s->st = jg_scan_last_per_subject(s->app->nats, s->stream, s->filter_subject, true,
                                     s->app->cfg.request_timeout_ms, scan_msg, s);
    jg_nats_post(s->app->nats, &s->task, scan_done, s);
}

static void scan_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct scan *s = ctx;
    if (st == JG_OK && (st = jg_scan_spawn(scan_work, s)) == JG_OK)
        return;
    s->done(s, st);
    scan_free(s);
}

static void scan_start(struct jg_app *app, const char *bucket, const char *filter,
                       scan_item_fn item, scan_done_fn done, void *ctx)
{
    struct scan *s = calloc(1, sizeof(*s));
    if (!s || !(s->bucket = strdup(bucket))) {
        free(s);
        struct scan tmp = {.ctx = ctx};
        done(&tmp, JG_ERR_NOMEM);
        return;
    }
    s->app = app;
    s->item = item;
    s->done = done;
    s->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, s->stream, sizeof(s->stream));
    jg_subj_kv_key(bucket, filter ? filter : ">", s->filter_subject, sizeof(s->filter_subject));
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &s->lookup, scan_bucket, s);
}

/* --- keys --------------------------------------------------------------- */

struct keys_op {
    char **filters, **prefixes;  /* NULL-terminated copies */
    char **scope;                /* access limit (jg_auth_scope), NULL for none */
    bool match_here;
    struct jg_buf json;
    size_t n;
    jg_kv_keys_fn fn;
    void *ctx;
};



static void json_str(struct jg_buf *b, const char *s)
{
    jg_buf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            jg_buf_append(b, e, 2);
        } else if (c < 0x20) {
            jg_buf_printf(b, "\\u%04x", c);
        } else {
            jg_buf_append(b, p, 1);
        }
    }
    jg_buf_append(b, "\"", 1);
}

bool jg_kv_selected(char *const *filters, char *const *prefixes, char *const *scope,
                    const char *key)
{
    if (!jg_auth_scope_allows(scope, key))
        return false;
    bool f_ok = !filters || !filters[0], p_ok = !prefixes || !prefixes[0];
    for (size_t i = 0; !f_ok && filters[i]; i++)
        f_ok = jg_kv_filter_match(filters[i], key);
    for (size_t i = 0; !p_ok && prefixes[i]; i++)
        p_ok = strncmp(key, prefixes[i], strlen(prefixes[i])) == 0;
    return f_ok && p_ok;
}

const char *jg_kv_server_filter(char *const *filters, char *const *prefixes, char *buf,
                                size_t len)
{
    bool nf = filters && filters[0], np = prefixes && prefixes[0];
    if (nf && !filters[1] && !np)
        return filters[0];
    /* one prefix ending at a token boundary: the tokens under it */
    if (!nf && np && !prefixes[1]) {
        size_t pl = strlen(prefixes[0]);
        if (pl > 0 && pl + 2 <= len && prefixes[0][pl - 1] == '.' &&
            !strpbrk(prefixes[0], "*>")) {
            snprintf(buf, len, "%s>", prefixes[0]);
            if (jg_kv_filter_valid(buf))
                return buf;
        }
    }
    return NULL;
}

static bool keys_wanted(struct keys_op *k, const char *key)
{
    if (!k->match_here)
        return jg_auth_scope_allows(k->scope, key);
    return jg_kv_selected(k->filters, k->prefixes, k->scope, key);
}

static void keys_item(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts)
{
    struct keys_op *k = s->ctx;
    if (op != JG_KV_PUT || !keys_wanted(k, key))
        return;
    if (k->n++)
        jg_buf_append(&k->json, ",", 1);
    json_str(&k->json, key);
}

static void keys_done(struct scan *s, jg_status st)
{
    struct keys_op *k = s->ctx;
    size_t len = 0;
    char *json = NULL;
    if (st == JG_OK) {
        jg_buf_append(&k->json, "]", 1);
        json = jg_buf_take(&k->json, &len);
    }
    jg_kv_keys_fn fn = k->fn;
    void *fctx = k->ctx;
    jg_buf_done(&k->json);
    jg_strv_free(k->filters);
    jg_strv_free(k->prefixes);
    jg_strv_free(k->scope);
    free(k);
    fn(fctx, st, json, len);
}

void jg_kv_keys(struct jg_app *app, const char *bucket, char **filters, char **prefixes,
                char *const *scope, jg_kv_keys_fn fn, void *ctx)
{
    struct keys_op *k = calloc(1, sizeof(*k));
    if (!k || !(k->filters = jg_strv_dup(filters)) || !(k->prefixes = jg_strv_dup(prefixes)) ||
        (scope && !(k->scope = jg_strv_dup(scope)))) {
        if (k) {
            jg_strv_free(k->filters);
            jg_strv_free(k->prefixes);
            jg_strv_free(k->scope);
            free(k);
        }
        fn(ctx, JG_ERR_NOMEM, NULL, 0);
        return;
    }
    k->fn = fn;
    k->ctx = ctx;
    jg_buf_init(&k->json);
    jg_buf_append(&k->json, "[", 1);
    /* one filter and no prefix: let the server filter; else match here */
    const char *server_filter = NULL;
    if (k->filters[0] && !k->filters[1] && !k->prefixes[0])
        server_filter = k->filters[0];
    else
        k->match_here = k->filters[0] || k->prefixes[0];
    scan_start(app, bucket, server_filter, keys_item, keys_done, k);
}

/* --- purge deletes ------------------------------------------------------ */

struct purge_op {
    struct jg_app *app;
    char *bucket;
    char stream[300];
    int64_t older_than_ns;
    int64_t now_ns;
    struct {
        char *key;
        int keep;
    } *items;
    size_t n, cap, next;
    struct jg_nats_req req;
    jg_kv_done_fn fn;
    void *ctx;
};

static void purge_finish(struct purge_op *p, jg_status st, const char *detail)
{
    jg_kv_done_fn fn = p->fn;
    void *fctx = p->ctx;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].key);
    free(p->items);
    free(p->bucket);
    free(p);
    fn(fctx, st, detail);
}

static void purge_next(struct purge_op *p);

static void on_purged(void *ctx, jg_status st, uint64_t count)
{
    struct purge_op *p = ctx;
    (void)count;
    if (st != JG_OK) {
        purge_finish(p, st, "");
        return;
    }
    purge_next(p);
}

/* Each marker's subject: all of it, or (keep 1) all but the marker, by a
 * filtered purge even on replicated buckets: KV streams deny message
 * deletion (as every KV client creates them), so the one-deletion-per-
 * message way of jg_js_remove_subject is closed, and nats-server before
 * 2.9.18 replays this purge on a restarting replica as the removal of
 * everything before it (see the README). */
static void purge_next(struct purge_op *p)
{
    char subj[MAX_KEY_LEN + 300];
    if (p->next >= p->n) {
        purge_finish(p, JG_OK, "");
        return;
    }
    size_t i = p->next++;
    jg_subj_kv_key(p->bucket, p->items[i].key, subj, sizeof(subj));
    jg_js_remove_subject(p->app->nats, p->stream, subj, false, p->items[i].keep > 0, on_purged, p);
}

static void purge_item(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts)
{
    struct purge_op *p = s->ctx;
    if (op == JG_KV_PUT)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void *n = realloc(p->items, cap * sizeof(*p->items));
        if (!n)
            return;
        p->items = n;
        p->cap = cap;
    }
    p->items[p->n].key = strdup(key);
    if (!p->items[p->n].key)
        return;
    p->items[p->n].keep = p->older_than_ns > 0 && p->now_ns - ts < p->older_than_ns ? 1 : 0;
    p->n++;
}

static void purge_scanned(struct scan *s, jg_status st)
{
    struct purge_op *p = s->ctx;
    if (st != JG_OK) {
        purge_finish(p, st, "");
        return;
    }
    purge_next(p);
}

void jg_kv_purge_deletes(struct jg_app *app, const char *bucket, int64_t older_than_ns,
                         jg_kv_done_fn fn, void *ctx)
{
    struct purge_op *p = calloc(1, sizeof(*p));
    if (!p || !(p->bucket = strdup(bucket))) {
        free(p);
        fn(ctx, JG_ERR_NOMEM, "");
        return;
    }
    p->app = app;
    p->older_than_ns = older_than_ns;
    p->now_ns = jg_realtime_ns();
    p->fn = fn;
    p->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, p->stream, sizeof(p->stream));
    scan_start(app, bucket, NULL, purge_item, purge_scanned, p);
}

/* --- markers for every selected key ------------------------------------- */

#define MARK_WINDOW 32

struct mark_op {
    struct jg_app *app;
    char *bucket;
    char **filters, **prefixes, **scope;
    bool match_here;
    enum jg_kv_op op;
    char **keys;                 /* the current keys selected, in scan order */
    size_t n, cap, next, inflight, done;
    uint64_t revision;           /* the newest marker written */
    bool stopped;
    bool pumping;                /* in mark_next: a write answered at once must not re-enter */
    jg_status st;
    char *failed_key;
    jg_kv_mark_fn fn;
    void *ctx;
};

static void mark_free(struct mark_op *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
    jg_strv_free(m->filters);
    jg_strv_free(m->prefixes);
    jg_strv_free(m->scope);
    free(m->failed_key);
    free(m->bucket);
    free(m);
}

static void mark_finish(struct mark_op *m)
{
    char detail[JG_KV_MAX_KEY_LEN + 200] = "";
    if (m->st != JG_OK)
        snprintf(detail, sizeof(detail),
                 "%zu of %zu keys done; stopped at '%s' (%s); repeat the request to finish",
                 m->done, m->n, m->failed_key ? m->failed_key : "", jg_status_title(m->st));
    m->fn(m->ctx, m->st, m->done, m->revision, detail);
    mark_free(m);
}

static void mark_next(struct mark_op *m);

struct mark_one {
    struct mark_op *m;
    size_t index;
};

static void on_marked(void *ctx, jg_status st, uint64_t revision)
{
    struct mark_one *one = ctx;
    struct mark_op *m = one->m;
    size_t i = one->index;
    free(one);
    m->inflight--;
    if (st == JG_OK) {
        m->done++;
        if (revision > m->revision)
            m->revision = revision;
    } else if (!m->stopped) {
        m->stopped = true;
        m->st = st;
        m->failed_key = strdup(m->keys[i]);
    }
    mark_next(m);
}

/* Starts writes up to the window; finishes when none is left.  A write can
 * answer before jg_kv_write returns (NATS disconnected): its on_marked comes
 * back here while the loop below runs, and only the loop may finish m. */
static void mark_next(struct mark_op *m)
{
    if (m->pumping)
        return;
    m->pumping = true;
    while (!m->stopped && m->next < m->n && m->inflight < MARK_WINDOW) {
        struct mark_one *one = malloc(sizeof(*one));
        if (!one) {
            m->stopped = true;
            m->st = JG_ERR_NOMEM;
            m->failed_key = strdup(m->keys[m->next]);
            break;
        }
        one->m = m;
        one->index = m->next++;
        m->inflight++;
        struct jg_kv_write w = {.op = m->op, .expect = JG_KV_EXPECT_ANY};
        jg_kv_write(m->app, m->bucket, m->keys[one->index], NULL, 0, &w, on_marked, one);
    }
    m->pumping = false;
    if (m->inflight == 0 && (m->stopped || m->next >= m->n))
        mark_finish(m);
}

static void mark_item(struct scan *s, const char *key, enum jg_kv_op op, int64_t ts)
{
    struct mark_op *m = s->ctx;
    (void)ts;
    if (op != JG_KV_PUT || m->st != JG_OK)
        return;
    if (m->match_here ? !jg_kv_selected(m->filters, m->prefixes, m->scope, key)
                      : !jg_auth_scope_allows(m->scope, key))
        return;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        void *nk = realloc(m->keys, cap * sizeof(*m->keys));
        if (!nk) {
            m->st = JG_ERR_NOMEM;
            return;
        }
        m->keys = nk;
        m->cap = cap;
    }
    if (!(m->keys[m->n] = strdup(key))) {
        m->st = JG_ERR_NOMEM;
        return;
    }
    m->n++;
}

static void mark_scanned(struct scan *s, jg_status st)
{
    struct mark_op *m = s->ctx;
    if (st != JG_OK || m->st != JG_OK) {
        m->fn(m->ctx, st != JG_OK ? st : m->st, 0, 0,
              "nothing deleted: the keys could not be listed; repeat the request");
        mark_free(m);
        return;
    }
    mark_next(m);
}

void jg_kv_mark_selected(struct jg_app *app, const char *bucket, char *const *filters,
                         char *const *prefixes, char *const *scope, bool purge, jg_kv_mark_fn fn,
                         void *ctx)
{
    char fbuf[JG_KV_MAX_KEY_LEN + 8];
    struct mark_op *m = calloc(1, sizeof(*m));
    if (!m || !(m->bucket = strdup(bucket)) || (filters && !(m->filters = jg_strv_dup(filters))) ||
        (prefixes && !(m->prefixes = jg_strv_dup(prefixes))) ||
        (scope && !(m->scope = jg_strv_dup(scope)))) {
        if (m)
            mark_free(m);
        fn(ctx, JG_ERR_NOMEM, 0, 0, "");
        return;
    }
    m->app = app;
    m->op = purge ? JG_KV_PURGE : JG_KV_DEL;
    m->fn = fn;
    m->ctx = ctx;
    const char *sf = jg_kv_server_filter(m->filters, m->prefixes, fbuf, sizeof(fbuf));
    m->match_here = !sf && ((m->filters && m->filters[0]) || (m->prefixes && m->prefixes[0]));
    scan_start(app, bucket, sf, mark_item, mark_scanned, m);
}
