/* entries.c - the current value of many keys in one read (see kv.h).
 *
 * A selector (filters and prefixes) is read through one ephemeral pull
 * consumer with deliver_policy last_per_subject (AckNone, memory storage,
 * one replica), the way the official clients' watch starts with the
 * initial values: the server hands over the last message of every
 * matching key in one stream, without a request per key.  Its deliveries
 * come back through the reply multiplexer (a JG_NATS_STREAM sink routed by
 * the consumer's name), so no thread waits on them.  Pulls are sent only
 * while the formatted text not yet taken by the reader is under
 * OUT_LOW bytes, and ask for at most BATCH messages and about BATCH_BYTES
 * of text (from the mean size of the entries so far): a client that reads
 * slowly stops the pulls, and memory stays bounded whatever the count (a
 * few MiB per read at most, max_entries_reads reads at once).  A pull
 * carries an expiry, so the server ends one it cannot fill (messages
 * removed meanwhile) with a 408 that counts what it still owed.
 * The read ends when the consumer delivered what it held when it was
 * created (its num_pending then), or a delivery says nothing is pending.
 *
 * Named keys (key=) are read with single gets (jg_kv_get), at most
 * GET_WINDOW in flight, answered in the order asked.
 *
 * The bucket's revision R is its stream's last sequence, asked before the
 * consumer is created or the first get is sent: every value read is at
 * least as new as R (nats-server 2.9 reads no snapshot at a revision).
 *
 * Everything runs on the loop thread; the reader is reference-counted: the
 * owner, each request in flight and the open sink hold one each. */
#include "autoconfig.h"
#include "kv/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "nats/conn.h"
#include "nats/buckets.h"
#include "nats/js.h"
#include "nats/subjects.h"
#include "util.h"

#define BATCH 512
#define OUT_LOW (64u << 10)
#define BATCH_BYTES (1u << 20)  /* text asked for by one pull (estimated) */
#define GET_WINDOW 32
#define IDLE_SINK_MS (3600 * 1000)

struct get_slot {
    struct jg_kv_entries *e;
    size_t index;
    bool done;
    jg_status st;
    struct jg_kv_entry *entry;
};

struct jg_kv_entries {
    struct jg_app *app;
    int refs;
    char *bucket;
    char stream[300];
    char prefix[300];       /* "$KV.<bucket>." */
    size_t prefix_len;
    char filter_subject[JG_KV_MAX_KEY_LEN + 300];
    char **filters, **prefixes, **keys, **scope;
    bool match_here, deleted, ndjson;
    int64_t deadline_ms;    /* the read ends by then (limit) */

    jg_kv_entries_fn started;
    void (*wake)(void *ctx);
    void *ctx;

    struct jg_nats_req lookup, info, creq, sink;
    bool started_sent, closed, failed, finished, waiting, sink_open, ready, creating;
    char cname[128];
    uint64_t revision;
    uint64_t expected, received, pulled, cseq;
    uint64_t count;          /* entries written */
    uint64_t out_total;      /* their bytes */

    /* named keys */
    size_t nkeys, next_get, next_out;
    struct get_slot slots[GET_WINDOW];

    struct jg_buf out;       /* formatted, not yet taken */
    size_t out_off;
    bool closed_array;
};

static void unref(struct jg_kv_entries *e)
{
    if (--e->refs > 0)
        return;
    for (size_t i = 0; i < GET_WINDOW; i++)
        jg_kv_entry_free(e->slots[i].entry);
    jg_buf_done(&e->out);
    jg_strv_free(e->filters);
    jg_strv_free(e->prefixes);
    jg_strv_free(e->keys);
    jg_strv_free(e->scope);
    free(e->bucket);
    free(e);
}

static int64_t timeout_ms(const struct jg_kv_entries *e)
{
    int64_t t = e->app->cfg.request_timeout_ms;
    return t > 0 ? t : 5000;
}

static size_t out_pending(const struct jg_kv_entries *e)
{
    return e->out.len - e->out_off;
}

static void wake(struct jg_kv_entries *e)
{
    if (e->waiting && !e->closed) {
        e->waiting = false;
        e->wake(e->ctx);
    }
}

static void consumer_end(struct jg_kv_entries *e)
{
    char api[500];
    if (e->sink_open) {
        jg_nats_cancel(e->app->nats, &e->sink);
        e->sink_open = false;
        e->refs--;
    }
    if (e->ready && e->cname[0]) {
        jg_subj_api("CONSUMER.DELETE", e->stream, e->cname, api, sizeof(api));
        jg_nats_publish(e->app->nats, api, NULL, 0);
    }
    e->ready = false;
    if (!e->creating)
        e->cname[0] = '\0';
}

/* Before the answer started: the callback says why; after: the body is cut. */
static void fail(struct jg_kv_entries *e, jg_status st, const char *why)
{
    if (e->failed || e->finished)
        return;
    e->failed = true;
    consumer_end(e);
    if (!e->started_sent) {
        e->started_sent = true;
        if (!e->closed)
            e->started(e->ctx, st, 0);
        return;
    }
    jg_warn("kv: entries of '%s' cut short: %s", e->bucket, why);
    wake(e);
}

static void finish(struct jg_kv_entries *e)
{
    if (e->failed || e->finished)
        return;
    e->finished = true;
    consumer_end(e);
    wake(e);
}

static void start_answer(struct jg_kv_entries *e)
{
    if (e->started_sent)
        return;
    e->started_sent = true;
    if (!e->ndjson)
        jg_buf_append(&e->out, "[", 1);
    e->started(e->ctx, JG_OK, e->revision);
}

/* One entry's text, then a separator. */
static void emit_json(struct jg_kv_entries *e, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        fail(e, JG_ERR_NOMEM, "out of memory");
        return;
    }
    if (!e->ndjson && e->count > 0)
        jg_buf_append(&e->out, ",", 1);
    size_t before = e->out.len;
    jg_buf_puts(&e->out, text);
    e->out_total += e->out.len - before;
    if (e->ndjson)
        jg_buf_append(&e->out, "\n", 1);
    free(text);
    e->count++;
}

/* --- selectors: one consumer ------------------------------------------- */

static void on_sink(void *ctx, jg_status st, natsMsg *msg);

static void pull(struct jg_kv_entries *e)
{
    char api[500], body[100];
    if (!e->ready || e->pulled > 0 || e->failed || e->finished || e->closed ||
        out_pending(e) >= OUT_LOW)
        return;
    uint64_t left = e->expected - e->received;
    /* about BATCH_BYTES of text per pull, from the entries seen so far */
    uint64_t avg = e->count ? (e->out_total / e->count) + 1 : 256;
    uint64_t n = BATCH_BYTES / avg;
    if (n < 1)
        n = 1;
    if (n > BATCH)
        n = BATCH;
    if (n > left)
        n = left;
    if (n == 0) {
        finish(e);
        return;
    }
    jg_subj_api("CONSUMER.MSG.NEXT", e->stream, e->cname, api, sizeof(api));
    snprintf(body, sizeof(body), "{\"batch\":%llu,\"expires\":%lld}", (unsigned long long)n,
             (long long)timeout_ms(e) * 1000000LL);
    jg_status s = jg_nats_publish_reply(e->app->nats, api, e->sink.reply, body, strlen(body));
    if (s != JG_OK) {
        fail(e, s, jg_status_title(s));
        return;
    }
    e->pulled = n;
    e->sink.timeout_ms = timeout_ms(e) + 1000;
    jg_nats_touch(e->app->nats, &e->sink);
}

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_kv_entries *e = ctx;
    cJSON *json = NULL;
    char desc[200] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    e->creating = false;
    if (e->closed || e->failed || !e->sink_open) {
        e->ready = st == JG_OK; /* so that consumer_end deletes it */
        consumer_end(e);
    } else if (st != JG_OK) {
        e->cname[0] = '\0';
        fail(e, st, *desc ? desc : jg_status_title(st));
    } else {
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(json, "num_pending");
        e->expected = cJSON_IsNumber(np) ? (uint64_t)np->valuedouble : 0;
        e->ready = true;
        start_answer(e);
        if (e->expected == 0)
            finish(e);
        else
            pull(e);
    }
    cJSON_Delete(json);
    unref(e);
}

static void entry_from_msg(struct jg_kv_entries *e, natsMsg *m, const struct jg_nats_ack *a)
{
    const char *subj = natsMsg_GetSubject(m);
    if (strlen(subj) <= e->prefix_len || strncmp(subj, e->prefix, e->prefix_len) != 0)
        return;
    const char *key = subj + e->prefix_len;
    enum jg_kv_op op = jg_kv_op_from_header(jg_nats_msg_header(m, "KV-Operation"));
    if (op != JG_KV_PUT && !e->deleted)
        return;
    if (e->match_here ? !jg_kv_selected(e->filters, e->prefixes, e->scope, key)
                      : !jg_auth_scope_allows(e->scope, key))
        return;
    struct jg_kv_entry ent = {
        .bucket = e->bucket,
        .key = (char *)key,
        .revision = a->sseq,
        .created_ns = a->ts_ns,
        .op = op,
        .value = natsMsg_GetData(m),
        .value_len = (size_t)natsMsg_GetDataLength(m),
    };
    if (!ent.value)
        ent.value = "";
    emit_json(e, jg_kv_entry_json(&ent));
}

static void on_sink(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_kv_entries *e = ctx;
    struct jg_nats_ack a;
    e->refs++;
    if (st != JG_OK) {
        /* the multiplexer ended the sink: no further call */
        if (e->sink_open) {
            e->sink_open = false;
            e->refs--;
        }
        fail(e, st, "no delivery within the request timeout");
        goto out;
    }
    if (e->closed || e->failed || e->finished || !e->ready) {
        jg_nats_msg_release(msg);
        goto out;
    }
    int status = jg_nats_msg_status(msg);
    if (status == 100) {
        jg_nats_touch(e->app->nats, &e->sink);
        jg_nats_msg_release(msg);
        goto out;
    }
    if (status) {
        const char *p = jg_nats_msg_header(msg, "Nats-Pending-Messages");
        uint64_t pending = 0;
        if (status == 408 && p && jg_u64_parse(p, &pending) == JG_OK && pending <= e->pulled) {
            /* a pull ended early: what it still owed will not come */
            e->pulled -= pending;
            if (e->pulled == 0) {
                /* the consumer holds less than it counted (removed
                 * messages): what came is all there is */
                finish(e);
            }
        } else {
            char why[160];
            const char *d = jg_nats_msg_header(msg, "Description");
            snprintf(why, sizeof(why), "status %d %s", status, d ? d : "");
            fail(e, JG_ERR_NATS_UNAVAILABLE, why);
        }
        jg_nats_msg_release(msg);
        goto out;
    }
    if (!jg_nats_ack_parse(natsMsg_GetReply(msg), &a) || a.cseq != e->cseq + 1 ||
        e->pulled == 0) {
        jg_nats_msg_release(msg);
        fail(e, JG_ERR_NATS_UNAVAILABLE, "unexpected delivery");
        goto out;
    }
    e->cseq = a.cseq;
    e->received++;
    if (--e->pulled == 0) {
        e->sink.timeout_ms = IDLE_SINK_MS;
    }
    jg_nats_touch(e->app->nats, &e->sink);
    entry_from_msg(e, msg, &a);
    jg_nats_msg_release(msg);
    if (a.pending == 0 || e->received >= e->expected)
        finish(e);
    else
        pull(e);
    wake(e);
out:
    unref(e);
}

static void consumer_start(struct jg_kv_entries *e)
{
    e->refs++;
    e->sink_open = true;
    jg_status st = jg_nats_sink_open(e->app->nats, &e->sink, timeout_ms(e) + 1000, on_sink, e);
    if (st != JG_OK) {
        e->sink_open = false;
        e->refs--;
        fail(e, st, jg_status_title(st));
        return;
    }
    jg_nats_sink_consumer_name(e->app->nats, &e->sink, "jge", e->cname, sizeof(e->cname));
    int64_t idle_ns = (e->deadline_ms - jg_now_ms() + 5000) * 1000000LL;
    cJSON *req = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(req, "config");
    cJSON_AddStringToObject(req, "stream_name", e->stream);
    cJSON_AddStringToObject(cfg, "name", e->cname);
    cJSON_AddStringToObject(cfg, "deliver_policy", "last_per_subject");
    cJSON_AddStringToObject(cfg, "ack_policy", "none");
    cJSON_AddNumberToObject(cfg, "max_deliver", 1);
    cJSON_AddStringToObject(cfg, "filter_subject", e->filter_subject);
    cJSON_AddStringToObject(cfg, "replay_policy", "instant");
    cJSON_AddBoolToObject(cfg, "mem_storage", true);
    cJSON_AddNumberToObject(cfg, "num_replicas", 1);
    cJSON_AddNumberToObject(cfg, "inactive_threshold", (double)idle_ns);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!body) {
        fail(e, JG_ERR_NOMEM, "out of memory");
        return;
    }
    e->refs++;
    e->creating = true;
    st = jg_js_stream_api(e->app->nats, &e->creq, "CONSUMER.CREATE", e->stream, e->cname, body, 0,
                          on_created, e);
    free(body);
    if (st != JG_OK) {
        e->creating = false;
        e->refs--;
        fail(e, st, jg_status_title(st));
    }
}

/* --- named keys: single gets ---------------------------------------------- */

static void gets_send(struct jg_kv_entries *e);

static void emit_slot(struct jg_kv_entries *e, struct get_slot *s)
{
    const char *key = e->keys[s->index];
    struct jg_kv_entry *ent = s->entry;
    if (s->st == JG_OK || (s->st == JG_ERR_KEY_NOT_FOUND && ent && e->deleted)) {
        emit_json(e, jg_kv_entry_json(ent));
    } else if (s->st == JG_ERR_KEY_NOT_FOUND) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "bucket", e->bucket);
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddBoolToObject(o, "missing", true);
        emit_json(e, o);
    } else {
        fail(e, s->st, jg_status_title(s->st));
    }
    jg_kv_entry_free(ent);
    s->entry = NULL;
    s->done = false;
}

/* Emits the finished gets in the order asked, while the reader keeps up. */
static void gets_drain(struct jg_kv_entries *e)
{
    while (!e->failed && e->next_out < e->next_get) {
        struct get_slot *s = &e->slots[e->next_out % GET_WINDOW];
        if (!s->done)
            break;
        emit_slot(e, s);
        e->next_out++;
    }
    if (!e->failed && e->next_out == e->nkeys)
        finish(e);
}

static void on_get(void *ctx, jg_status st, struct jg_kv_entry *ent)
{
    struct get_slot *s = ctx;
    struct jg_kv_entries *e = s->e;
    if (e->closed || e->failed) {
        jg_kv_entry_free(ent);
        unref(e);
        return;
    }
    s->done = true;
    s->st = st;
    s->entry = ent;
    gets_drain(e);
    gets_send(e);
    wake(e);
    unref(e);
}

static void gets_send(struct jg_kv_entries *e)
{
    while (!e->failed && !e->closed && e->next_get < e->nkeys &&
           e->next_get - e->next_out < GET_WINDOW && out_pending(e) < OUT_LOW) {
        struct get_slot *s = &e->slots[e->next_get % GET_WINDOW];
        s->e = e;
        s->index = e->next_get++;
        s->done = false;
        e->refs++;
        jg_kv_get(e->app, e->bucket, e->keys[s->index], 0, on_get, s);
        if (e->failed || e->closed)
            return;
    }
}

/* --- start ---------------------------------------------------------------- */

static void on_info(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_kv_entries *e = ctx;
    cJSON *json = NULL;
    char desc[200] = "";
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    if (e->closed) {
        /* nothing more */
    } else if (st != JG_OK) {
        fail(e, st == JG_ERR_NOT_FOUND ? JG_ERR_BUCKET_NOT_FOUND : st, desc);
    } else {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(json, "state");
        const cJSON *ls = state ? cJSON_GetObjectItemCaseSensitive(state, "last_seq") : NULL;
        e->revision = cJSON_IsNumber(ls) ? (uint64_t)ls->valuedouble : 0;
        if (e->keys) {
            start_answer(e);
            if (e->nkeys == 0)
                finish(e);
            else
                gets_send(e);
        } else {
            consumer_start(e);
        }
    }
    cJSON_Delete(json);
    unref(e);
}

static void on_bucket(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct jg_kv_entries *e = ctx;
    (void)info;
    if (e->closed) {
        unref(e);
        return;
    }
    if (st != JG_OK) {
        fail(e, st, jg_status_title(st));
        unref(e);
        return;
    }
    e->refs++;
    st = jg_js_stream_api(e->app->nats, &e->info, "STREAM.INFO", e->stream, NULL, NULL, 0, on_info,
                          e);
    if (st != JG_OK) {
        e->refs--;
        fail(e, st, jg_status_title(st));
    }
    unref(e);
}

jg_status jg_kv_entries_open(struct jg_app *app, const char *bucket,
                             const struct jg_kv_entries_query *q, jg_kv_entries_fn started,
                             void (*wakefn)(void *ctx), void *ctx, struct jg_kv_entries **ret)
{
    JG_ASSERT_LOOP_THREAD(app->nats);
    struct jg_kv_entries *e = calloc(1, sizeof(*e));
    if (!e)
        return JG_ERR_NOMEM;
    e->refs = 1;
    jg_buf_init(&e->out);
    if (!(e->bucket = strdup(bucket)) ||
        (q->filters && !(e->filters = jg_strv_dup(q->filters))) ||
        (q->prefixes && !(e->prefixes = jg_strv_dup(q->prefixes))) ||
        (q->keys && !(e->keys = jg_strv_dup(q->keys))) ||
        (q->scope && !(e->scope = jg_strv_dup(q->scope)))) {
        unref(e);
        return JG_ERR_NOMEM;
    }
    for (e->nkeys = 0; e->keys && e->keys[e->nkeys]; e->nkeys++)
        ;
    e->app = app;
    e->deleted = q->deleted;
    e->ndjson = q->ndjson;
    e->deadline_ms = jg_now_ms() + (q->max_ms > 0 ? q->max_ms : 300000);
    e->started = started;
    e->wake = wakefn;
    e->ctx = ctx;
    jg_js_stream_name(JG_BUCKET_KV, bucket, e->stream, sizeof(e->stream));
    e->prefix_len = jg_subj_kv_prefix(bucket, e->prefix, sizeof(e->prefix));
    char fbuf[JG_KV_MAX_KEY_LEN + 8];
    const char *sf = jg_kv_server_filter(e->filters, e->prefixes, fbuf, sizeof(fbuf));
    e->match_here = !sf && ((e->filters && e->filters[0]) || (e->prefixes && e->prefixes[0]));
    jg_subj_kv_key(bucket, sf ? sf : ">", e->filter_subject, sizeof(e->filter_subject));
    *ret = e;
    e->refs++;
    jg_buckets_lookup(app->buckets, JG_BUCKET_KV, bucket, &e->lookup, on_bucket, e);
    return JG_OK;
}

long jg_kv_entries_read(struct jg_kv_entries *e, char *buf, size_t max)
{
    if (e->failed)
        return -2;
    if (jg_now_ms() > e->deadline_ms) {
        jg_warn("kv: entries of '%s' cut short: over entries_timeout", e->bucket);
        fail(e, JG_ERR_NATS_TIMEOUT, "over the time limit");
        return -2;
    }
    if (out_pending(e) == 0 && e->finished && !e->ndjson && !e->closed_array) {
        jg_buf_append(&e->out, "]\n", 2);
        e->closed_array = true;
    }
    size_t n = out_pending(e);
    if (n == 0) {
        if (e->finished)
            return -1;
        e->waiting = true;
        return 0;
    }
    if (n > max)
        n = max;
    memcpy(buf, e->out.data + e->out_off, n);
    e->out_off += n;
    if (e->out_off == e->out.len) {
        e->out.len = 0;
        e->out_off = 0;
    }
    if (out_pending(e) < OUT_LOW) {
        if (e->keys) {
            gets_drain(e);
            gets_send(e);
        } else {
            pull(e);
        }
    }
    return (long)n;
}

uint64_t jg_kv_entries_count(const struct jg_kv_entries *e)
{
    return e->count;
}

void jg_kv_entries_close(struct jg_kv_entries *e)
{
    if (!e)
        return;
    e->closed = true;
    consumer_end(e);
    unref(e);
}
