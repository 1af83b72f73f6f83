/* remove.c - removing the messages of one subject of a stream
 * (jg_js_remove_subject, see js.h).
 *
 * A stream with one replica: one filtered STREAM.PURGE.
 *
 * A replicated stream: never a purge (nats-server before 2.9.18 replays a
 * filtered purge on a restarting replica as the removal of every older
 * message), but one STREAM.MSG.DELETE (no_erase) per message.  The stream
 * leader names them: STREAM.MSG.GET {"seq":S,"next_by_subj":...} gives the
 * subject's next message, a deletion removes it, until the leader answers
 * "no message found".  That walk costs two round trips per message and
 * carries each message's whole payload, so once it has removed
 * REMOVE_WALK_FIRST messages (an object's chunks, not a meta subject's one
 * or two messages), a headers-only ephemeral pull consumer on the subject
 * (AckNone, memory storage, one replica, inactive_threshold REMOVE_IDLE_NS),
 * pulled REMOVE_BATCH at a time through a JG_NATS_STREAM sink, lists the
 * rest of the sequences, up to the num_pending it was created with, and up
 * to REMOVE_WINDOW deletions are in flight at once.  When the consumer is
 * done, or anything on it is unexpected (a create that fails, a status
 * other than a heartbeat, a gap in its sequence, no delivery in time), the
 * walk goes on where it stopped: the leader, not the consumer's replica,
 * has the last word on what is left.  With keep_last the walk is the whole
 * path (first the subject's last sequence, which stays).
 *
 * Every callback runs on the loop thread, one at a time, so the
 * operation needs no lock; it is freed once nothing of it is in flight.
 * Only the first request (a look, or the purge) may be sent from another
 * thread, and nothing touches the operation once it is out. */
#include "autoconfig.h"
#include "nats/js.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "nats/subjects.h"

#define REMOVE_WALK_FIRST 4          /* messages the walk removes before the consumer */
#define REMOVE_WINDOW 64             /* deletions in flight */
#define REMOVE_BATCH 256             /* sequences asked for per pull, and queued at most */
#define REMOVE_IDLE_NS 60000000000LL /* the consumer's inactive_threshold */

struct remove_op;

struct remove_slot {
    struct remove_op *op;
    bool busy;
    struct jg_nats_req req;
};

struct remove_op {
    struct jg_nats *nats;
    char *stream, *subject;
    bool keep_last;
    jg_js_count_fn fn;
    void *ctx;
    uint64_t count;  /* messages removed */
    jg_status err;   /* the first failure: nothing new is sent */

    /* the consumer listing the subject's sequences */
    bool listed;     /* tried once: never again */
    bool listing;    /* the consumer path is in use */
    bool creating;   /* its create is in flight */
    bool ready;      /* created, not deleted yet */
    bool sink_open;
    char cname[96];
    uint64_t total;  /* its num_pending when created */
    uint64_t seen;   /* deliveries */
    uint64_t pulled; /* asked for, not delivered */
    uint64_t cseq;   /* last consumer sequence */
    struct jg_nats_req creq, sink;
    uint64_t queue[REMOVE_BATCH]; /* sequences to delete, a ring */
    unsigned qhead, qlen;

    struct remove_slot slots[REMOVE_WINDOW];
    unsigned inflight;

    /* the look-and-delete walk */
    bool walk_busy;  /* its request is in flight on req */
    bool walk_done;
    uint64_t next;   /* where the next look (and the consumer) starts */
    uint64_t walked; /* messages the walk removed */
    uint64_t last;   /* with keep_last: the subject's last sequence, kept */
    struct jg_nats_req req;
};

static void maybe_finish(struct remove_op *op);
static void pump(struct remove_op *op);

static void list_end(struct remove_op *op);

/* Records the first failure; the consumer, if any, ends at once. */
static void set_err(struct remove_op *op, jg_status st)
{
    if (op->err == JG_OK)
        op->err = st;
    if (op->listing)
        list_end(op);
}

/* --- the consumer ------------------------------------------------------------- */

/* Ends the consumer, if any: no delivery follows. */
static void list_end(struct remove_op *op)
{
    char api[600];
    if (op->sink_open) {
        jg_nats_cancel(op->nats, &op->sink);
        op->sink_open = false;
    }
    if (op->ready) {
        jg_subj_api("CONSUMER.DELETE", op->stream, op->cname, api, sizeof(api));
        jg_nats_publish(op->nats, api, NULL, 0);
        op->ready = false;
    }
    op->listing = false; /* on_created deletes a consumer still being created */
}

/* Something unexpected: the leader's walk finds what the consumer did not
 * hand over. */
static void list_abandon(struct remove_op *op, const char *why)
{
    jg_debug("js: removing '%s' from '%s' one message at a time: %s", op->subject, op->stream,
             why);
    list_end(op);
    op->qlen = 0;
}

static void pull(struct remove_op *op)
{
    char api[600], body[100];
    uint64_t left = op->total - op->seen - op->pulled;
    uint64_t room = REMOVE_BATCH - op->qlen - op->pulled;
    uint64_t n = left < room ? left : room;
    if (!op->ready || op->err != JG_OK || n == 0 || op->qlen + op->pulled > REMOVE_BATCH / 2)
        return;
    jg_subj_api("CONSUMER.MSG.NEXT", op->stream, op->cname, api, sizeof(api));
    snprintf(body, sizeof(body), "{\"batch\":%llu,\"expires\":%lld}", (unsigned long long)n,
             (long long)op->sink.timeout_ms * 1000000LL);
    jg_status st = jg_nats_publish_reply(op->nats, api, op->sink.reply, body, strlen(body));
    if (st != JG_OK) {
        list_abandon(op, jg_status_title(st));
        return;
    }
    op->pulled += n;
    jg_nats_touch(op->nats, &op->sink);
}

static void on_sink(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_op *op = ctx;
    struct jg_nats_ack a;
    char why[160];

    if (st != JG_OK) {
        op->sink_open = false; /* the multiplexer ended the sink */
        list_abandon(op, jg_status_title(st));
        goto out;
    }
    if (!op->ready) {
        jg_nats_msg_release(msg);
        goto out;
    }
    int status = jg_nats_msg_status(msg);
    if (status == 100) {
        jg_nats_touch(op->nats, &op->sink);
        jg_nats_msg_release(msg);
        goto out;
    }
    if (status) {
        const char *d = jg_nats_msg_header(msg, "Description");
        snprintf(why, sizeof(why), "status %d %s", status, d ? d : "");
        jg_nats_msg_release(msg);
        list_abandon(op, why);
        goto out;
    }
    bool ok = jg_nats_ack_parse(natsMsg_GetReply(msg), &a) && a.cseq == op->cseq + 1 &&
              strcmp(natsMsg_GetSubject(msg), op->subject) == 0 && op->pulled > 0 &&
              op->qlen < REMOVE_BATCH;
    jg_nats_msg_release(msg);
    if (!ok) {
        list_abandon(op, "unexpected delivery");
        goto out;
    }
    op->cseq = a.cseq;
    op->pulled--;
    op->seen++;
    op->queue[(op->qhead + op->qlen++) % REMOVE_BATCH] = a.sseq;
    jg_nats_touch(op->nats, &op->sink);
    if (op->seen >= op->total || a.pending == 0)
        list_end(op); /* all it held when created (fewer: some went meanwhile) */
out:
    pump(op);
}

static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_op *op = ctx;
    cJSON *json = NULL;
    char desc[200] = "", api[600];

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    op->creating = false;
    if (st == JG_OK && !op->listing) {
        /* abandoned meanwhile */
        jg_subj_api("CONSUMER.DELETE", op->stream, op->cname, api, sizeof(api));
        jg_nats_publish(op->nats, api, NULL, 0);
    } else if (st != JG_OK) {
        list_abandon(op, desc[0] ? desc : jg_status_title(st));
    } else {
        op->ready = true;
        op->total = (uint64_t)jg_js_num(json, "num_pending", 0);
        if (op->total == 0)
            list_end(op);
    }
    cJSON_Delete(json);
    pump(op);
}

/* Opens the sink and asks for the consumer; false when neither went out. */
static bool list_start(struct remove_op *op)
{
    char body[1400];
    if (jg_nats_sink_open(op->nats, &op->sink, 0, on_sink, op) != JG_OK)
        return false;
    op->sink_open = true;
    op->listing = true;
    jg_nats_sink_consumer_name(op->nats, &op->sink, "jgd", op->cname, sizeof(op->cname));
    snprintf(body, sizeof(body),
             "{\"stream_name\":\"%s\",\"config\":{\"name\":\"%s\","
             "\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":%llu,"
             "\"ack_policy\":\"none\",\"max_deliver\":1,\"filter_subject\":\"%s\","
             "\"replay_policy\":\"instant\",\"mem_storage\":true,\"num_replicas\":1,"
             "\"headers_only\":true,\"inactive_threshold\":%lld}}",
             op->stream, op->cname, (unsigned long long)op->next, op->subject, REMOVE_IDLE_NS);
    op->creating = true;
    if (jg_js_stream_api(op->nats, &op->creq, "CONSUMER.CREATE", op->stream, op->cname, body, 0,
                         on_created, op) != JG_OK) {
        op->creating = false;
        list_end(op);
        return false;
    }
    return true;
}

/* --- deletions ------------------------------------------------------------------ */

static jg_status send_delete(struct remove_op *op, struct jg_nats_req *r, uint64_t seq,
                             jg_nats_reply_fn fn, void *ctx)
{
    char body[80];
    snprintf(body, sizeof(body), "{\"seq\":%llu,\"no_erase\":true}", (unsigned long long)seq);
    return jg_js_stream_api(op->nats, r, "STREAM.MSG.DELETE", op->stream, NULL, body,
                            JG_NATS_WRITE, fn, ctx);
}

/* The outcome of a deletion: JG_OK and *removed, or JG_OK without when the
 * message was gone already (another remover), or the failure. */
static jg_status delete_outcome(jg_status st, natsMsg *msg, bool *removed)
{
    cJSON *json = NULL;
    char desc[200] = "";
    int ecode = 0;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &ecode, desc, sizeof(desc));
    cJSON_Delete(json);
    *removed = st == JG_OK;
    if (ecode == 10057 && strcmp(desc, "no message found") == 0)
        st = JG_OK;
    return st;
}

static void on_deleted(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_slot *s = ctx;
    struct remove_op *op = s->op;
    bool removed;
    st = delete_outcome(st, msg, &removed);
    s->busy = false;
    op->inflight--;
    if (st != JG_OK)
        set_err(op, st);
    op->count += removed;
    pump(op);
}

static jg_status delete_send(struct remove_op *op, struct remove_slot *s, uint64_t seq)
{
    s->op = op;
    s->busy = true;
    op->inflight++;
    jg_status st = send_delete(op, &s->req, seq, on_deleted, s);
    if (st != JG_OK) {
        s->busy = false;
        op->inflight--;
    }
    return st;
}

/* --- the leader's walk ------------------------------------------------------------- */

static void on_walk_deleted(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_op *op = ctx;
    bool removed;
    op->walk_busy = false;
    st = delete_outcome(st, msg, &removed);
    if (st != JG_OK) {
        set_err(op, st);
    } else {
        op->count += removed;
        if (++op->walked >= REMOVE_WALK_FIRST && !op->keep_last && !op->listed) {
            op->listed = true;
            list_start(op); /* if it cannot start, the walk goes on */
        }
    }
    maybe_finish(op);
}

/* The reply to a look: the subject's next (or, first with keep_last, last)
 * message, or 10037 when there is none. */
static void on_looked(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_op *op = ctx;
    cJSON *json = NULL;
    int ecode = 0;
    op->walk_busy = false;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &ecode, NULL, 0);
    const cJSON *m = st == JG_OK ? cJSON_GetObjectItemCaseSensitive(json, "message") : NULL;
    uint64_t seq = (uint64_t)jg_js_num(m, "seq", 0);
    cJSON_Delete(json);
    if (st != JG_OK || seq == 0) {
        if (ecode == 10037)
            op->walk_done = true;
        else
            set_err(op, st != JG_OK ? st : JG_ERR_INTERNAL);
        goto out;
    }
    if (op->keep_last && !op->last) {
        op->last = seq; /* the next look starts the removal */
        goto out;
    }
    if (seq < op->next || (op->keep_last && seq >= op->last)) {
        if (seq < op->next)
            set_err(op, JG_ERR_INTERNAL);
        op->walk_done = true;
        goto out;
    }
    op->next = seq + 1;
    op->walk_busy = true;
    st = send_delete(op, &op->req, seq, on_walk_deleted, op);
    if (st != JG_OK) {
        op->walk_busy = false;
        set_err(op, st);
    }
out:
    maybe_finish(op);
}

/* Sends the walk's next look; false when it could not go out (op->err set).
 * Once it is out, op may be gone at any moment if this thread is not the
 * loop thread (the first look of a removal started elsewhere). */
static bool walk_look(struct remove_op *op)
{
    char body[600];
    if (op->keep_last && !op->last)
        snprintf(body, sizeof(body), "{\"last_by_subj\":\"%s\"}", op->subject);
    else
        snprintf(body, sizeof(body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
                 (unsigned long long)op->next, op->subject);
    op->walk_busy = true;
    jg_status st =
        jg_js_stream_api(op->nats, &op->req, "STREAM.MSG.GET", op->stream, NULL, body, 0, on_looked, op);
    if (st != JG_OK) {
        op->walk_busy = false;
        set_err(op, st);
        return false;
    }
    return true;
}

/* --- driving it -------------------------------------------------------------------- */

/* Sends queued deletions while the window has room and pulls more. */
static void pump(struct remove_op *op)
{
    for (unsigned i = 0; i < REMOVE_WINDOW && op->qlen && op->err == JG_OK; i++) {
        struct remove_slot *s = &op->slots[i];
        if (s->busy)
            continue;
        jg_status st = delete_send(op, s, op->queue[op->qhead]);
        if (st == JG_ERR_TOO_MANY_REQUESTS && op->inflight > 0)
            break; /* the daemon's cap on requests: again once one of ours is answered */
        if (st != JG_OK) {
            set_err(op, st);
            break;
        }
        op->qhead = (op->qhead + 1) % REMOVE_BATCH;
        op->qlen--;
    }
    pull(op);
    maybe_finish(op);
}

/* Once nothing is in flight: the walk's next step, or the end. */
static void maybe_finish(struct remove_op *op)
{
    if (op->listing || op->creating || op->sink_open || op->inflight > 0 || op->walk_busy)
        return;
    if (op->err == JG_OK && !op->walk_done && walk_look(op))
        return;
    if (op->err != JG_OK)
        jg_debug("js: removing '%s' from '%s' failed after %llu messages: %s", op->subject,
                 op->stream, (unsigned long long)op->count, jg_status_title(op->err));
    jg_js_count_fn fn = op->fn;
    void *fctx = op->ctx;
    jg_status st = op->err;
    uint64_t count = op->count;
    free(op->stream);
    free(op->subject);
    free(op);
    fn(fctx, st, count);
}

/* --- one purge ------------------------------------------------------------------- */

static void on_purged(void *ctx, jg_status st, natsMsg *msg)
{
    struct remove_op *op = ctx;
    cJSON *json = NULL;
    op->walk_busy = false;
    op->walk_done = true;
    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, NULL, NULL, 0);
    if (st == JG_OK)
        op->count = (uint64_t)jg_js_num(json, "purged", 0);
    else
        set_err(op, st);
    cJSON_Delete(json);
    maybe_finish(op);
}

void jg_js_remove_subject(struct jg_nats *n, const char *stream, const char *subject,
                          bool replicated, bool keep_last, jg_js_count_fn fn, void *ctx)
{
    struct remove_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->stream = strdup(stream)) || !(op->subject = strdup(subject))) {
        if (op)
            free(op->stream);
        free(op);
        fn(ctx, JG_ERR_NOMEM, 0);
        return;
    }
    op->nats = n;
    op->keep_last = keep_last;
    op->next = 1;
    op->fn = fn;
    op->ctx = ctx;
    if (replicated) {
        maybe_finish(op); /* the walk's first look */
        return;
    }
    char *body = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "filter", subject) &&
        cJSON_AddNumberToObject(o, "keep", keep_last ? 1 : 0))
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    op->walk_busy = true;
    jg_status st = body ? jg_js_stream_api(n, &op->req, "STREAM.PURGE", stream, NULL, body,
                                           JG_NATS_WRITE, on_purged, op)
                        : JG_ERR_NOMEM;
    free(body);
    if (st != JG_OK) {
        op->walk_busy = false;
        set_err(op, st);
        maybe_finish(op);
    }
}
