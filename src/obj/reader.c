/* reader.c - the chunk reader of the object store (see obj.h).
 *
 * Chunks are fetched one request at a time with
 * {"seq":S,"next_by_subj":"$O.<b>.C.<nuid>"} (direct get, or the stream
 * leader's STREAM.MSG.GET on replicated buckets and buckets without direct
 * access), each request sent as soon as the previous chunk arrived, while at
 * most AHEAD chunks wait to be sent: memory per reader stays at a few chunks
 * whatever the object size.  Chunks before the first wanted byte are
 * fetched and dropped (chunk sizes vary between writers, so their offsets
 * are only known by reading them).
 *
 * For a full read the bytes are hashed as they arrive; the last chunk is
 * queued only once size, chunk count and digest are verified, so a client
 * never receives the end of an object that fails its check.
 *
 * The reader is reference-counted: the owner holds one reference, an
 * in-flight fetch another, a running wake call a third. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "log.h"
#include "nats/conn.h"
#include "util.h"

#define AHEAD 4

struct rchunk {
    natsMsg *msg;        /* owner of data (direct get) */
    char *buf;           /* owner of data (leader get) */
    const char *data;
    size_t len;
};

struct jg_obj_reader {
    struct jg_app *app;
    pthread_mutex_t lock;
    int refs;
    char api[400];
    char subj[300];
    bool leader;
    uint64_t size, nchunks;
    bool verify;
    uint8_t want[32];
    bool have_want;
    uint64_t skip;          /* bytes still to drop before the range */
    uint64_t remaining;     /* bytes still to hand out */
    uint64_t need;          /* bytes to fetch: range end */
    uint64_t next_seq;
    uint64_t fetched, bytes_fetched;
    struct rchunk q[AHEAD];
    int qhead, qlen;
    size_t qoff;
    bool inflight, closed, waiting, failed;
    char err[200];
    struct sha256_ctx sha;
    struct jg_nats_req req;
    void (*wake)(void *);
    void (*release)(void *);
    void *ctx;
};

static void chunk_clear(struct rchunk *c)
{
    natsMsg_Destroy(c->msg);
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

/* Drops one reference (lock held; released here). */
static void unref_unlock(struct jg_obj_reader *r)
{
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    for (int i = 0; i < AHEAD; i++)
        chunk_clear(&r->q[i]);
    void (*release)(void *) = r->release;
    void *ctx = r->ctx;
    pthread_mutex_destroy(&r->lock);
    free(r);
    if (release)
        release(ctx);
}

static void fail_locked(struct jg_obj_reader *r, const char *why)
{
    if (!r->failed) {
        r->failed = true;
        snprintf(r->err, sizeof(r->err), "%s", why);
    }
}

static void on_chunk(void *ctx, jg_status st, natsMsg *msg);

/* Sends the next fetch if one is due (lock held). */
static void fetch_locked(struct jg_obj_reader *r)
{
    char body[400];
    if (r->inflight || r->closed || r->failed || r->fetched >= r->nchunks || r->qlen >= AHEAD ||
        (r->bytes_fetched >= r->need && r->fetched > 0))
        return;
    snprintf(body, sizeof(body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
             (unsigned long long)r->next_seq, r->subj);
    r->inflight = true;
    r->refs++;
    jg_status st = jg_nats_request(r->app->nats, &r->req, r->api, NULL, body, strlen(body), 0, 0,
                                   on_chunk, r);
    if (st != JG_OK) {
        r->inflight = false;
        r->refs--;
        fail_locked(r, jg_status_title(st));
    }
}

/* Reads one reply into c; JG_OK or a reason in why. */
static jg_status parse_chunk(struct jg_obj_reader *r, natsMsg *msg, struct rchunk *c,
                             uint64_t *seq, char *why, size_t wl)
{
    if (!r->leader) {
        int status = jg_nats_msg_status(msg);
        if (status) {
            snprintf(why, wl, status == 404 ? "chunks of the object are missing"
                                            : "chunk read failed (status %d)", status);
            natsMsg_Destroy(msg);
            return JG_ERR_INTERNAL;
        }
        const char *s = jg_nats_msg_header(msg, "Nats-Sequence");
        const char *subj = jg_nats_msg_header(msg, "Nats-Subject");
        if (!s || jg_u64_parse(s, seq) != JG_OK || !subj || strcmp(subj, r->subj) != 0) {
            snprintf(why, wl, "unexpected reply to a chunk read");
            natsMsg_Destroy(msg);
            return JG_ERR_INTERNAL;
        }
        c->msg = msg;
        c->data = natsMsg_GetData(msg);
        c->len = (size_t)natsMsg_GetDataLength(msg);
        if (!c->data)
            c->data = "";
        return JG_OK;
    }
    cJSON *json = NULL;
    int ecode = 0;
    char desc[200] = "";
    jg_status st = jg_js_reply_json(msg, &json, &ecode, desc, sizeof(desc));
    if (st != JG_OK) {
        snprintf(why, wl, ecode == 10037 ? "chunks of the object are missing" : "%s", desc);
        return st;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(m, "subject");
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(m, "seq");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    st = JG_ERR_INTERNAL;
    snprintf(why, wl, "unexpected reply to a chunk read");
    if (cJSON_IsString(subj) && strcmp(subj->valuestring, r->subj) == 0 && cJSON_IsNumber(sq)) {
        *seq = (uint64_t)sq->valuedouble;
        if (!cJSON_IsString(data)) {
            c->buf = strdup("");
            c->len = 0;
            st = c->buf ? JG_OK : JG_ERR_NOMEM;
        } else {
            st = jg_base64_decode(data->valuestring, strlen(data->valuestring), false, &c->buf,
                                  &c->len);
        }
        c->data = c->buf;
    }
    cJSON_Delete(json);
    return st;
}

static void on_chunk(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_obj_reader *r = ctx;
    struct rchunk c = {0};
    uint64_t seq = 0;
    char why[200] = "";

    if (st == JG_OK)
        st = parse_chunk(r, msg, &c, &seq, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "%s", jg_status_title(st));
    pthread_mutex_lock(&r->lock);
    r->inflight = false;
    if (r->closed || r->failed) {
        chunk_clear(&c);
        unref_unlock(r);
        return;
    }
    if (st != JG_OK) {
        fail_locked(r, why);
    } else {
        r->next_seq = seq + 1;
        r->fetched++;
        r->bytes_fetched += c.len;
        if (r->verify) {
            sha256_update(&r->sha, c.len, (const uint8_t *)c.data);
            if (r->bytes_fetched > r->size) {
                fail_locked(r, "the object's chunks hold more bytes than its size");
            } else if (r->fetched == r->nchunks) {
                uint8_t got[32];
                sha256_digest(&r->sha, sizeof(got), got);
                if (r->bytes_fetched != r->size)
                    fail_locked(r, "the object's chunks hold fewer bytes than its size");
                else if (r->have_want && memcmp(got, r->want, 32) != 0)
                    fail_locked(r, "the object's bytes do not match its digest");
            }
        } else if (r->fetched == r->nchunks && r->bytes_fetched < r->need) {
            fail_locked(r, "the object's chunks hold fewer bytes than its size");
        }
        if (r->failed) {
            chunk_clear(&c);
        } else if (c.len <= r->skip) {
            r->skip -= c.len;
            chunk_clear(&c);
        } else {
            c.data += r->skip;
            c.len -= (size_t)r->skip;
            r->skip = 0;
            r->q[(r->qhead + r->qlen) % AHEAD] = c;
            r->qlen++;
        }
        fetch_locked(r);
    }
    bool wake = r->waiting && (r->qlen > 0 || r->failed);
    if (wake) {
        r->waiting = false;
        r->refs++;
    }
    unref_unlock(r); /* the fetch's reference */
    if (!wake)
        return;
    r->wake(r->ctx);
    pthread_mutex_lock(&r->lock);
    unref_unlock(r);
}

long jg_obj_reader_read(struct jg_obj_reader *r, char *buf, size_t max)
{
    long ret;
    pthread_mutex_lock(&r->lock);
    if (r->failed) {
        ret = -2;
    } else if (r->remaining == 0) {
        ret = -1;
    } else if (r->qlen == 0) {
        if (!r->inflight && r->fetched >= r->nchunks) {
            fail_locked(r, "the object's chunks hold fewer bytes than its size");
            ret = -2;
        } else {
            r->waiting = true;
            fetch_locked(r);
            ret = r->failed ? -2 : 0;
        }
    } else {
        struct rchunk *c = &r->q[r->qhead];
        size_t n = c->len - r->qoff;
        if (n > max)
            n = max;
        if (n > r->remaining)
            n = (size_t)r->remaining;
        memcpy(buf, c->data + r->qoff, n);
        r->qoff += n;
        r->remaining -= n;
        if (r->qoff >= c->len) {
            chunk_clear(c);
            r->qhead = (r->qhead + 1) % AHEAD;
            r->qlen--;
            r->qoff = 0;
        }
        fetch_locked(r);
        ret = (long)n;
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

const char *jg_obj_reader_error(struct jg_obj_reader *r)
{
    return r->err;
}

void jg_obj_reader_free(struct jg_obj_reader *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->closed = true;
    for (int i = 0; i < AHEAD; i++)
        chunk_clear(&r->q[i]);
    r->qlen = 0;
    unref_unlock(r);
}

jg_status jg_obj_reader_new(struct jg_app *app, const struct jg_bucket_info *binfo,
                            const struct jg_obj_info *info, uint64_t start, uint64_t len,
                            void (*wake)(void *), void (*release)(void *), void *ctx,
                            struct jg_obj_reader **ret)
{
    char stream[300];
    if (!info->nuid || !*info->nuid || !info->bucket)
        return JG_ERR_INTERNAL;
    struct jg_obj_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return JG_ERR_NOMEM;
    pthread_mutex_init(&r->lock, NULL);
    r->app = app;
    r->refs = 1;
    r->leader = binfo->replicas > 1 || !binfo->allow_direct;
    jg_js_stream_name(JG_BUCKET_OBJ, binfo->name, stream, sizeof(stream));
    snprintf(r->api, sizeof(r->api), "$JS.API.%s.%s", r->leader ? "STREAM.MSG.GET" : "DIRECT.GET",
             stream);
    snprintf(r->subj, sizeof(r->subj), "$O.%s.C.%s", binfo->name, info->nuid);
    r->size = info->size;
    r->nchunks = info->chunks;
    r->verify = start == 0 && len == info->size;
    r->have_want = info->digest && jg_obj_digest_parse(info->digest, r->want) == JG_OK;
    r->skip = start;
    r->remaining = len;
    r->need = start + len;
    r->next_seq = 1;
    r->wake = wake;
    r->release = release;
    r->ctx = ctx;
    sha256_init(&r->sha);
    if (len > 0) {
        pthread_mutex_lock(&r->lock);
        fetch_locked(r);
        pthread_mutex_unlock(&r->lock);
    }
    *ret = r;
    return JG_OK;
}
