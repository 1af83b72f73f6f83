/* reader.c - the chunk reader of the object store (see obj.h).
 *
 * Objects of more than SMALL_CHUNKS chunks are read through an ephemeral
 * pull consumer (filter: the object's chunk subject, AckNone, memory
 * storage, one replica, inactive_threshold CONSUMER_IDLE_NS) fed by
 * $JS.API.CONSUMER.MSG.NEXT requests {"batch":N,"expires":...} whose
 * deliveries come back through the reply multiplexer (a JG_NATS_STREAM sink,
 * routed by the consumer's name: jg_nats_sink_consumer_name()).  A pull
 * consumer rather than an ordered push consumer because the reader decides
 * exactly how many chunks are on their way: queued plus asked-for chunks
 * never exceed the window (WINDOW_BYTES, or an equal share of READAHEAD_BYTES
 * among the readers open when a pull is due; at most MAX_WINDOW chunks),
 * a pull is sent only when half of it is free, and a client that reads
 * slowly simply stops the pulls, with no flow-control round trip or
 * server-side buffer to drain.  Pulls carry no max_bytes: a request whose
 * byte budget runs out exactly ends without any status message, which
 * would leave the count of chunks on their way wrong.
 *
 * Anything unexpected on a consumer (a 408 with chunks still pending, a 409
 * such as "Consumer Deleted" or "Leadership Change", no responders, a gap
 * in the consumer sequence, no reply in time, a create that fails) makes
 * the reader delete the consumer and go on from the next chunk with single
 * requests {"seq":S,"next_by_subj":"$O.<b>.C.<nuid>"}: direct get, or the
 * stream leader's STREAM.MSG.GET on replicated buckets and buckets without
 * direct access.  That is also the whole path for small objects (one
 * request is cheaper than creating and deleting a consumer).  A consumer
 * always waits for the chunks it was asked for, so reading from a replica
 * that lags behind still sees every acknowledged chunk.  A consumer that saw
 * no pull for a request timeout (a client that stopped reading) is deleted
 * and a new one starts where the old one stopped when reading resumes; the
 * consumer is deleted as soon as the last chunk arrived or the reader is
 * freed, and inactive_threshold removes it if jetgate is gone.
 *
 * A range that does not start at byte 0 first finds the chunk holding its
 * first byte: chunk sizes vary between writers (and within an object written
 * by nats.go), so a headers-only consumer lists the chunks' sizes
 * (Nats-Msg-Size) and stream sequences until the running total passes the
 * start; the data then starts at that chunk's sequence.  Anything
 * unexpected there falls back to reading from the first chunk and dropping
 * the bytes before the range.
 *
 * For a full read the bytes are hashed as they arrive; the last chunk is
 * queued only once size, chunk count and digest are verified, so a client
 * never receives the end of an object that fails its check.
 *
 * The reader is reference-counted: the owner holds one reference, an
 * in-flight get, consumer create and open sink one each, a running callback
 * or wake call one. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "log.h"
#include "nats/conn.h"
#include "nats/msgget.h"
#include "util.h"
#include "nats/subjects.h"

#define SMALL_CHUNKS 2           /* at most this many chunks: single gets */
#define WINDOW_BYTES (4u << 20)  /* one reader's queued + asked-for bytes at most */
#define READAHEAD_BYTES (16u << 20) /* about, all open readers' windows together */
#define MIN_WINDOW 2
#define MAX_WINDOW 32
#define SCAN_BATCH 512           /* headers per pull while seeking */
#define CONSUMER_IDLE_NS 5000000000LL
#define IDLE_RESTART_MS 2000     /* no pull for this long: a fresh consumer */
#define IDLE_SINK_MS (3600 * 1000)

enum { M_GET, M_PULL };

struct rchunk {
    natsMsg *msg;        /* owner of data (direct get, consumer) */
    char *buf;           /* owner of data (leader get) */
    const char *data;
    size_t len;
};

struct jg_obj_reader {
    struct jg_app *app;
    pthread_mutex_t lock;
    int refs;
    char stream[300];
    char subj[300];
    bool leader;            /* single gets ask the stream leader */
    bool replicas_direct;   /* replicated with direct gets: see on_chunk */
    int hop;                /* the server the last direct get went to (jg_msgget_hop) */
    uint64_t size, nchunks;
    bool verify;
    uint8_t want[32];
    bool have_want;
    uint64_t start;         /* first wanted byte */
    uint64_t skip;          /* bytes still to drop before the range */
    uint64_t remaining;     /* bytes still to hand out */
    uint64_t need;          /* bytes to fetch: range end */
    uint64_t next_seq;
    uint64_t fetched, bytes_fetched; /* chunks (and their bytes) from the object's start */
    uint64_t est_chunk;     /* estimated chunk size */
    int window;             /* queued + asked-for chunks */
    struct rchunk q[MAX_WINDOW];
    struct rchunk held;     /* full read: the chunk completing the size, until verified */
    int qhead, qlen;
    size_t qoff;
    bool inflight, closed, waiting, failed;
    char err[200];
    struct sha256_ctx sha;
    struct jg_msgget get;    /* single get, policy JG_MSGGET_CHUNK */

    int mode;                /* M_GET, M_PULL */
    bool scan;               /* the consumer is the headers-only seek */
    bool creating;           /* consumer create in flight (creq) */
    bool ready;              /* consumer created; pulls may go */
    bool sink_open;          /* sink registered (its reference held) */
    char cname[128];         /* the consumer ("" none) */
    struct jg_nats_req creq;
    struct jg_nats_req sink;
    uint64_t pulled;         /* asked for and not yet delivered */
    uint64_t cseq;           /* deliveries of the current consumer */
    int64_t idle_ms;         /* when the last pull was answered in full */
    uint64_t scan_off;       /* bytes of the chunks seen by the seek */
    uint64_t scan_seen;      /* chunks seen by the seek */

    void (*wake)(void *);
    void (*release)(void *);
    void *ctx;
};

static atomic_int open_readers; /* made and not yet freed by their owner */

/* Sizes the window: WINDOW_BYTES, or less when many readers share
 * READAHEAD_BYTES, in chunks of the size to expect (lock held). */
static void window_update(struct jg_obj_reader *r)
{
    int n = atomic_load(&open_readers);
    uint64_t bytes = READAHEAD_BYTES / (uint64_t)(n > 0 ? n : 1);
    if (bytes > WINDOW_BYTES)
        bytes = WINDOW_BYTES;
    uint64_t w = bytes / r->est_chunk;
    r->window = w < MIN_WINDOW ? MIN_WINDOW : w > MAX_WINDOW ? MAX_WINDOW : (int)w;
}

static void chunk_clear(struct rchunk *c)
{
    jg_nats_msg_release(c->msg);
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
    for (int i = 0; i < MAX_WINDOW; i++)
        chunk_clear(&r->q[i]);
    chunk_clear(&r->held);
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

static bool done_locked(const struct jg_obj_reader *r)
{
    if (r->verify)
        return r->fetched >= r->nchunks;
    return r->fetched >= r->nchunks || (r->fetched > 0 && r->bytes_fetched >= r->need);
}

/* Wakes the owner when it waits and something happened (lock held; still
 * held on return, with the caller's reference keeping r alive). */
static void wake_locked(struct jg_obj_reader *r)
{
    if (!r->waiting || !(r->qlen > 0 || r->failed))
        return;
    r->waiting = false;
    pthread_mutex_unlock(&r->lock);
    r->wake(r->ctx);
    pthread_mutex_lock(&r->lock);
}

/* --- consumers --------------------------------------------------------------- */

static int64_t timeout_ms(struct jg_obj_reader *r)
{
    int64_t t = r->app->cfg.request_timeout_ms;
    return t > 0 ? t : 5000;
}

/* Ends the current consumer, if any: no delivery follows (lock held; the
 * caller holds a reference besides the sink's). */
static void consumer_end(struct jg_obj_reader *r)
{
    char api[500];
    if (r->sink_open) {
        jg_nats_cancel(r->app->nats, &r->sink);
        r->sink_open = false;
        r->refs--;
    }
    if (r->ready && r->cname[0]) {
        jg_subj_api("CONSUMER.DELETE", r->stream, r->cname, api, sizeof(api));
        jg_nats_publish(r->app->nats, api, NULL, 0);
    }
    r->ready = false;
    r->pulled = 0;
    if (!r->creating)
        r->cname[0] = '\0'; /* else on_created deletes it */
}

/* Something unexpected on the consumer: single gets from here on. */
static void consumer_abandon(struct jg_obj_reader *r, const char *why)
{
    jg_debug("obj: reading '%s' with single gets from sequence %llu: %s", r->subj,
             (unsigned long long)r->next_seq, why);
    consumer_end(r);
    r->mode = M_GET;
    if (r->scan) {
        /* no seek: from the first chunk, dropping the bytes before the range */
        r->scan = false;
        r->next_seq = 1;
        r->fetched = r->bytes_fetched = 0;
        r->skip = r->start;
    }
}

static void on_created(void *ctx, jg_status st, natsMsg *msg);
static void on_sink(void *ctx, jg_status st, natsMsg *msg);
static void fetch_locked(struct jg_obj_reader *r);

/* Registers a sink and asks for a consumer from next_seq (lock held). */
static void consumer_start(struct jg_obj_reader *r)
{
    char body[1200];
    r->refs++;
    r->sink_open = true;
    jg_status st = jg_nats_sink_open(r->app->nats, &r->sink, timeout_ms(r) + 1000, on_sink, r);
    if (st != JG_OK) {
        r->sink_open = false;
        r->refs--;
        consumer_abandon(r, jg_status_title(st));
        return;
    }
    jg_nats_sink_consumer_name(r->app->nats, &r->sink, "jgr", r->cname, sizeof(r->cname));
    r->cseq = 0;
    r->pulled = 0;
    snprintf(body, sizeof(body),
             "{\"stream_name\":\"%s\",\"config\":{\"name\":\"%s\","
             "\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":%llu,"
             "\"ack_policy\":\"none\",\"max_deliver\":1,\"filter_subject\":\"%s\","
             "\"replay_policy\":\"instant\",\"mem_storage\":true,\"num_replicas\":1,"
             "\"inactive_threshold\":%lld%s}}",
             r->stream, r->cname, (unsigned long long)(r->scan ? 1 : r->next_seq), r->subj,
             CONSUMER_IDLE_NS, r->scan ? ",\"headers_only\":true" : "");
    r->refs++;
    r->creating = true;
    st = jg_js_stream_api(r->app->nats, &r->creq, "CONSUMER.CREATE", r->stream, r->cname, body, 0,
                          on_created, r);
    if (st != JG_OK) {
        r->creating = false;
        r->refs--;
        consumer_abandon(r, jg_status_title(st));
    }
}

/* Sends a pull for n chunks (lock held). */
static void pull_locked(struct jg_obj_reader *r, uint64_t n)
{
    char api[500], body[100];
    jg_subj_api("CONSUMER.MSG.NEXT", r->stream, r->cname, api, sizeof(api));
    snprintf(body, sizeof(body), "{\"batch\":%llu,\"expires\":%lld}", (unsigned long long)n,
             (long long)timeout_ms(r) * 1000000LL);
    jg_status st = jg_nats_publish_reply(r->app->nats, api, r->sink.reply, body, strlen(body));
    if (st != JG_OK) {
        fail_locked(r, jg_status_title(st));
        return;
    }
    r->pulled += n;
    r->sink.timeout_ms = timeout_ms(r) + 1000;
    jg_nats_touch(r->app->nats, &r->sink);
}

/* Pulls data chunks if the window has room for half of it, or for all
 * that is still wanted (lock held, consumer ready). */
static void pull_data_locked(struct jg_obj_reader *r)
{
    window_update(r);
    uint64_t used = (uint64_t)r->qlen + r->pulled;
    if (used >= (uint64_t)r->window)
        return;
    uint64_t credit = (uint64_t)r->window - used;
    uint64_t left = r->nchunks - r->fetched - r->pulled; /* chunks not asked for */
    uint64_t want = left;
    if (!r->verify) {
        /* a range: about as many chunks as its end needs */
        uint64_t coming = r->bytes_fetched + r->pulled * r->est_chunk;
        want = coming >= r->need ? 0 : (r->need - coming + r->est_chunk - 1) / r->est_chunk;
        if (want > left)
            want = left;
    }
    if (want == 0)
        return;
    uint64_t min = (uint64_t)r->window / 2;
    if (min > want)
        min = want;
    if (credit < min)
        return;
    pull_locked(r, credit < want ? credit : want);
}

static void pull_scan_locked(struct jg_obj_reader *r)
{
    uint64_t left = r->nchunks - r->scan_seen;
    if (r->pulled == 0 && left > 0)
        pull_locked(r, left < SCAN_BATCH ? left : SCAN_BATCH);
}

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_obj_reader *r = ctx;
    cJSON *json = NULL;
    int ecode = 0;
    char desc[200] = "";
    char api[500];

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &ecode, desc, sizeof(desc));
    cJSON_Delete(json);
    pthread_mutex_lock(&r->lock);
    r->creating = false;
    if (!r->sink_open || r->closed || r->failed) {
        /* abandoned meanwhile */
        if (st == JG_OK && r->cname[0]) {
            jg_subj_api("CONSUMER.DELETE", r->stream, r->cname, api, sizeof(api));
            jg_nats_publish(r->app->nats, api, NULL, 0);
        }
        r->cname[0] = '\0';
    } else if (st != JG_OK) {
        consumer_abandon(r, *desc ? desc : jg_status_title(st));
    } else {
        r->ready = true;
        r->idle_ms = jg_now_ms();
        if (r->scan)
            pull_scan_locked(r);
    }
    fetch_locked(r);
    wake_locked(r);
    unref_unlock(r);
}

/* --- chunks -------------------------------------------------------------------- */

/* Takes chunk c (stream sequence seq) into the hash and the queue (lock
 * held). */
static void accept_chunk(struct jg_obj_reader *r, struct rchunk *c, uint64_t seq)
{
    r->next_seq = seq + 1;
    r->fetched++;
    r->bytes_fetched += c->len;
    if (r->verify) {
        sha256_update(&r->sha, c->len, (const uint8_t *)c->data);
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
    if (!r->failed && r->qlen >= MAX_WINDOW)
        fail_locked(r, "more chunks arrived than were asked for");
    if (r->verify && !r->failed && r->fetched == r->nchunks && r->held.data) {
        /* verified: what was held back goes first */
        r->q[(r->qhead + r->qlen) % MAX_WINDOW] = r->held;
        r->qlen++;
        memset(&r->held, 0, sizeof(r->held));
    }
    if (r->failed || r->qlen >= MAX_WINDOW) {
        chunk_clear(c);
    } else if (r->verify && r->fetched < r->nchunks && r->bytes_fetched == r->size &&
               c->len > 0) {
        /* the size is complete before the chunk count: the end of the body
         * waits for the remaining (empty) chunks and the digest */
        chunk_clear(&r->held);
        r->held = *c;
    } else if (c->len <= r->skip) {
        r->skip -= c->len;
        chunk_clear(c);
    } else {
        c->data += r->skip;
        c->len -= (size_t)r->skip;
        r->skip = 0;
        r->q[(r->qhead + r->qlen) % MAX_WINDOW] = *c;
        r->qlen++;
    }
    if (done_locked(r))
        consumer_end(r);
}

/* A header of the seek: finds the chunk holding the range's first byte. */
static void scan_msg(struct jg_obj_reader *r, natsMsg *msg, uint64_t seq)
{
    const char *s = jg_nats_msg_header(msg, "Nats-Msg-Size");
    uint64_t sz;
    if (!s || jg_u64_parse(s, &sz) != JG_OK) {
        consumer_abandon(r, "a chunk header without Nats-Msg-Size");
        return;
    }
    if (r->start < r->scan_off + sz) {
        r->next_seq = seq;
        r->fetched = r->scan_seen;
        r->bytes_fetched = r->scan_off;
        r->skip = r->start - r->scan_off;
        consumer_end(r);
        r->scan = false;
        uint64_t rest = r->need - r->scan_off;
        if ((rest + r->est_chunk - 1) / r->est_chunk <= SMALL_CHUNKS ||
            r->nchunks - r->scan_seen <= SMALL_CHUNKS)
            r->mode = M_GET;
        jg_debug("obj: range of '%s' from byte %llu starts in chunk %llu (sequence %llu)",
                 r->subj, (unsigned long long)r->start, (unsigned long long)r->scan_seen + 1,
                 (unsigned long long)seq);
        return;
    }
    r->scan_off += sz;
    r->scan_seen++;
    if (r->scan_seen >= r->nchunks)
        fail_locked(r, "the object's chunks hold fewer bytes than its size");
    else
        pull_scan_locked(r);
}

/* Every pull answered: no deadline while the client reads (lock held). */
static void sink_idle(struct jg_obj_reader *r)
{
    r->idle_ms = jg_now_ms();
    r->sink.timeout_ms = IDLE_SINK_MS;
}

/* The multiplexer ended the sink with st: no cancel, no further call
 * (lock held). */
static void sink_ended(struct jg_obj_reader *r, jg_status st)
{
    if (r->sink_open) {
        r->sink_open = false;
        r->refs--;
    }
    if (st == JG_ERR_NATS_UNAVAILABLE)
        fail_locked(r, jg_status_title(st));
    else if (r->pulled == 0 && !r->scan && !r->creating)
        consumer_end(r); /* idle: a new consumer when reading resumes */
    else
        consumer_abandon(r, "no delivery within the request timeout");
}

/* A status message on the sink (not a heartbeat): a pull ended (lock
 * held). */
static void sink_status(struct jg_obj_reader *r, natsMsg *msg, int status)
{
    const char *d = jg_nats_msg_header(msg, "Description");
    const char *p = jg_nats_msg_header(msg, "Nats-Pending-Messages");
    uint64_t pending = 0;
    char why[120];
    if (p && jg_u64_parse(p, &pending) == JG_OK && pending <= r->pulled)
        r->pulled -= pending;
    else
        pending = 1;
    if (r->pulled == 0) {
        sink_idle(r);
        jg_nats_touch(r->app->nats, &r->sink);
    }
    if (status != 408 || pending != 0) {
        /* else a pull ended with nothing left owed */
        snprintf(why, sizeof(why), "status %d %s", status, d ? d : "");
        consumer_abandon(r, why);
    }
}

/* A delivery of the consumer: a chunk, or a header of the seek; takes msg
 * (lock held). */
static void sink_delivery(struct jg_obj_reader *r, natsMsg *msg)
{
    struct jg_nats_ack a;
    if (!jg_nats_ack_parse(natsMsg_GetReply(msg), &a) || a.cseq != r->cseq + 1 ||
        strcmp(natsMsg_GetSubject(msg), r->subj) != 0 || r->pulled == 0) {
        jg_nats_msg_release(msg);
        consumer_abandon(r, "unexpected delivery");
        return;
    }
    r->cseq = a.cseq;
    if (--r->pulled == 0)
        sink_idle(r);
    jg_nats_touch(r->app->nats, &r->sink);
    if (r->scan) {
        scan_msg(r, msg, a.sseq);
        jg_nats_msg_release(msg);
        return;
    }
    struct rchunk c = {0};
    c.msg = msg;
    c.data = natsMsg_GetData(msg);
    c.len = (size_t)natsMsg_GetDataLength(msg);
    if (!c.data)
        c.data = "";
    accept_chunk(r, &c, a.sseq);
}

/* The consumer's deliveries, routed by the multiplexer (loop thread). */
static void on_sink(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_obj_reader *r = ctx;
    int status = 0;

    JG_ASSERT_LOOP_THREAD(r->app->nats);
    pthread_mutex_lock(&r->lock);
    r->refs++;
    if (st != JG_OK) {
        sink_ended(r, st);
    } else if (r->closed || r->failed || !r->ready) {
        jg_nats_msg_release(msg);
    } else if ((status = jg_nats_msg_status(msg)) == 100) {
        jg_nats_touch(r->app->nats, &r->sink);
        jg_nats_msg_release(msg);
    } else if (status) {
        sink_status(r, msg, status);
        jg_nats_msg_release(msg);
    } else {
        sink_delivery(r, msg);
    }
    fetch_locked(r);
    wake_locked(r);
    unref_unlock(r);
}

/* --- single gets ----------------------------------------------------------------- */

static void on_chunk(void *ctx, jg_status st, struct jg_stored_msg *m);

/* Sends what is due: a get, a consumer, a pull (lock held). */
static void fetch_locked(struct jg_obj_reader *r)
{
    if (r->closed || r->failed || r->creating)
        return;
    if (r->mode == M_PULL && r->scan) {
        if (!r->sink_open)
            consumer_start(r);
        if (r->mode == M_PULL)
            return;
    }
    if (r->mode == M_PULL) {
        if (done_locked(r))
            return;
        if (r->sink_open && r->ready && r->pulled == 0 &&
            jg_now_ms() - r->idle_ms > IDLE_RESTART_MS) {
            /* the client paused: the server may drop an idle consumer, so
             * go on with a fresh one */
            consumer_end(r);
        }
        if (!r->sink_open) {
            if ((uint64_t)r->qlen * 2 <= (uint64_t)r->window) /* room for a batch */
                consumer_start(r);
            if (r->mode == M_PULL)
                return;
        } else {
            if (r->ready)
                pull_data_locked(r);
            return;
        }
    }
    if (r->inflight || done_locked(r) || r->qlen >= r->window)
        return;
    /* the leader's, or a direct get from any replica; once the leader
     * lacked a chunk (nats-server 2.9.10, see msgget.c), the rest comes
     * from the replicas, starting with the one that answered last */
    r->get = (struct jg_msgget){
        .nats = r->app->nats,
        .buckets = r->app->buckets,
        .kind = JG_BUCKET_OBJ,
        .stream = r->stream,
        .subject = r->subj,
        .seq = r->next_seq,
        .next = true,
        .leader = r->leader,
        .replicas = r->replicas_direct,
        .hop = r->hop,
        .tries = !r->leader && r->replicas_direct ? 1 : 0,
        .policy = JG_MSGGET_CHUNK,
        .request_timeout_ms = r->app->cfg.request_timeout_ms,
        .fn = on_chunk,
        .ctx = r,
    };
    r->inflight = true;
    r->refs++;
    jg_status st = jg_msgget_start(&r->get);
    if (st != JG_OK) {
        r->inflight = false;
        r->refs--;
        fail_locked(r, jg_status_title(st));
    }
}

/* Takes the chunk out of a read's reply; JG_OK or a reason in why. */
static jg_status take_chunk(struct jg_obj_reader *r, jg_status st, struct jg_stored_msg *m,
                            struct rchunk *c, uint64_t *seq, char *why, size_t wl)
{
    const struct jg_msgget *g = &r->get;
    if (st == JG_ERR_KEY_NOT_FOUND)
        snprintf(why, wl, "chunks of the object are missing");
    else if (st != JG_OK && g->status)
        snprintf(why, wl, "chunk read failed (status %d)", g->status);
    else if (st != JG_OK && g->error_reply)
        snprintf(why, wl, "%s", g->desc);
    else if (st != JG_OK)
        snprintf(why, wl, "%s", jg_status_title(st));
    if (st != JG_OK)
        return st;
    if (m->seq == 0 || !m->subject || strcmp(m->subject, r->subj) != 0) {
        snprintf(why, wl, "unexpected reply to a chunk read");
        jg_stored_msg_clear(m);
        return JG_ERR_INTERNAL;
    }
    *seq = m->seq;
    c->msg = m->msg;
    c->buf = m->buf;
    c->data = m->data;
    c->len = m->len;
    m->msg = NULL;
    m->buf = NULL;
    jg_stored_msg_clear(m);
    return JG_OK;
}

static void on_chunk(void *ctx, jg_status st, struct jg_stored_msg *m)
{
    struct jg_obj_reader *r = ctx;
    struct rchunk c = {0};
    JG_ASSERT_LOOP_THREAD(r->app->nats);
    uint64_t seq = 0;
    char why[200] = "";

    st = take_chunk(r, st, m, &c, &seq, why, sizeof(why));
    pthread_mutex_lock(&r->lock);
    r->inflight = false;
    if (!r->get.leader && r->leader)
        jg_debug("obj: the leader of '%s' lacks chunks of '%s': reading them from its replicas",
                 r->stream, r->subj);
    r->leader = r->get.leader;
    if (r->get.tries > 0)
        r->hop = jg_msgget_hop(&r->get);
    if (r->closed || r->failed) {
        chunk_clear(&c);
    } else if (st != JG_OK) {
        fail_locked(r, why);
    } else {
        accept_chunk(r, &c, seq);
        fetch_locked(r);
    }
    wake_locked(r);
    unref_unlock(r); /* the get's reference */
}

/* --- the owner's side ------------------------------------------------------------- */

long jg_obj_reader_read(struct jg_obj_reader *r, char *buf, size_t max)
{
    JG_ASSERT_LOOP_THREAD(r->app->nats);
    long ret;
    pthread_mutex_lock(&r->lock);
    if (r->failed) {
        ret = -2;
    } else if (r->remaining == 0) {
        ret = -1;
    } else if (r->qlen == 0) {
        bool busy = r->inflight || r->creating || r->pulled > 0 || r->scan;
        if (!busy && r->fetched >= r->nchunks) {
            fail_locked(r, "the object's chunks hold fewer bytes than its size");
            ret = -2;
        } else {
            r->waiting = true;
            fetch_locked(r);
            ret = r->failed ? -2 : 0;
        }
    } else {
        /* as many queued chunks as fit: one call per response block */
        size_t got = 0;
        while (r->qlen > 0 && got < max && r->remaining > 0) {
            struct rchunk *c = &r->q[r->qhead];
            size_t n = c->len - r->qoff;
            if (n > max - got)
                n = max - got;
            if (n > r->remaining)
                n = (size_t)r->remaining;
            memcpy(buf + got, c->data + r->qoff, n);
            got += n;
            r->qoff += n;
            r->remaining -= n;
            if (r->qoff >= c->len) {
                chunk_clear(c);
                r->qhead = (r->qhead + 1) % MAX_WINDOW;
                r->qlen--;
                r->qoff = 0;
            }
        }
        if (got == 0 && r->remaining == 0) {
            ret = -1;
        } else {
            if (got == 0) /* only empty chunks were queued */
                r->waiting = true;
            fetch_locked(r);
            ret = r->failed && got == 0 ? -2 : (long)got;
        }
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
    JG_ASSERT_LOOP_THREAD(r->app->nats);
    pthread_mutex_lock(&r->lock);
    r->closed = true;
    atomic_fetch_sub(&open_readers, 1);
    consumer_end(r);
    for (int i = 0; i < MAX_WINDOW; i++)
        chunk_clear(&r->q[i]);
    r->qlen = 0;
    unref_unlock(r);
}

jg_status jg_obj_reader_new(struct jg_app *app, const struct jg_bucket_info *binfo,
                            const struct jg_obj_info *info, uint64_t start, uint64_t len,
                            void (*wake)(void *), void (*release)(void *), void *ctx,
                            struct jg_obj_reader **ret)
{
    if (!info->nuid || !*info->nuid || !info->bucket)
        return JG_ERR_INTERNAL;
    struct jg_obj_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return JG_ERR_NOMEM;
    pthread_mutex_init(&r->lock, NULL);
    r->app = app;
    r->refs = 1;
    r->leader = binfo->replicas > 1 || !binfo->allow_direct;
    r->replicas_direct = binfo->replicas > 1 && binfo->allow_direct;
    jg_js_stream_name(JG_BUCKET_OBJ, binfo->name, r->stream, sizeof(r->stream));
    jg_subj_obj_chunks(binfo->name, info->nuid, r->subj, sizeof(r->subj));
    r->size = info->size;
    r->nchunks = info->chunks;
    r->verify = start == 0 && len == info->size;
    r->have_want = info->digest && jg_obj_digest_parse(info->digest, r->want) == JG_OK;
    r->start = start;
    r->skip = start;
    r->remaining = len;
    r->need = start + len;
    r->next_seq = 1;
    r->wake = wake;
    r->release = release;
    r->ctx = ctx;
    sha256_init(&r->sha);

    /* the window counts chunks of the largest size to expect */
    uint64_t est = r->nchunks ? (r->size + r->nchunks - 1) / r->nchunks : 1;
    if (info->max_chunk_size > est)
        est = info->max_chunk_size;
    int64_t maxp = jg_nats_max_payload(app->nats);
    if (maxp > 0 && est > (uint64_t)maxp)
        est = (uint64_t)maxp;
    r->est_chunk = est ? est : 1;
    atomic_fetch_add(&open_readers, 1);
    window_update(r);

    /* single gets when about SMALL_CHUNKS chunks from the first one hold
     * all that is wanted (a writer's shorter chunks only mean a few gets
     * more); else a consumer, after a seek when the range starts later */
    bool few = r->nchunks <= SMALL_CHUNKS || (!r->verify && r->need <= SMALL_CHUNKS * r->est_chunk);
    r->mode = few ? M_GET : M_PULL;
    r->scan = r->mode == M_PULL && start > 0;
    if (len > 0) {
        pthread_mutex_lock(&r->lock);
        fetch_locked(r);
        pthread_mutex_unlock(&r->lock);
    }
    *ret = r;
    return JG_OK;
}
