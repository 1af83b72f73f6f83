/* msgget.c - the one read routine of a stored message (see msgget.h).
 *
 * The nats-server 2.9.10 workarounds of reads, all here:
 *
 * W1 (ask_replicas) A stream leader without messages a quorum stored.
 *    nats-server 2.9.10 can leave a replica without messages (a catchup
 *    after a restart that skips them; later servers no longer show it, no
 *    server issue or fixed version is known to us), and that replica can
 *    become the leader: it answers "no message found" (10037) for what the
 *    other replicas hold.  Reproduced by tests/cluster/leader_faults
 *    (stream leaders killed and restarted under writes).  A leader's "no
 *    message" on a replicated stream with direct gets is asked again of
 *    the replicas by direct get, up to JG_NATS_REPLICA_TRIES times while
 *    they say "no message" too; the first message found is the answer.  A
 *    direct get is answered by the replica on the server it was published
 *    on: the first ask goes to the server of the main connection, the next
 *    ones to the other servers in turn (jg_nats_request_via), so with every
 *    server of a 3-node cluster in 'nats' each replica is asked once.
 *
 * W2 (recheck) A direct get to a one-replica stream being deleted goes
 *    unanswered on nats-server 2.9.10 (no "no responders"), and the
 *    deletion advisory can reach jetgate after the read.  Reproduced by
 *    the tests "a GET racing a bucket deleted by another NATS client" in
 *    tests/integration/kv_buckets.test.mjs and "a read racing a bucket
 *    deleted by another NATS client" in tests/integration/obj_store.test.mjs.
 *    The first unanswered read of a one-replica stream asks for the stream
 *    info (jg_buckets_recheck), answered by the JetStream API: the bucket
 *    is gone (JG_ERR_BUCKET_NOT_FOUND at once) or the read is sent again.
 *
 * W3 (policy retry) While a stream leader is elected, reads go unanswered,
 *    find no responders or get "JetStream temporarily unavailable"; KV
 *    reads send the read again in slices of the request timeout until its
 *    deadline (tests/cluster/leader_faults), and a KV leader read is sent
 *    again as soon as the new leader announces itself (jg_nats_request_leader,
 *    tests/cluster/failover).  Not a server defect, but the same loop. */
#include "autoconfig.h"
#include "nats/msgget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "util.h"
#include "nats/buckets.h"
#include "nats/subjects.h"

/* What each reader does; see enum jg_msgget_policy. */
static const struct policy {
    const char *name;          /* for the debug log */
    bool retry;                /* W3: resend unanswered reads in slices until the deadline */
    bool recheck;              /* W2 for direct gets of one-replica streams */
    bool recheck_leader;       /* W2 for leader reads of one-replica streams too */
    bool status_408_missing;   /* a direct 408 is "no message" like a 404 */
    bool each_request;         /* each request the configured timeout, no overall deadline */
    jg_status unanswered;      /* at the deadline after the recheck */
} policies[] = {
    [JG_MSGGET_KV] = {"kv", true, true, true, true, false, JG_ERR_NATS_UNAVAILABLE},
    [JG_MSGGET_META] = {"obj meta", false, true, false, true, false, JG_ERR_NATS_TIMEOUT},
    [JG_MSGGET_CHUNK] = {"obj chunk", false, false, false, false, true, JG_ERR_NATS_TIMEOUT},
};

void jg_stored_msg_clear(struct jg_stored_msg *m)
{
    if (!m)
        return;
    jg_nats_msg_release(m->msg);
    free(m->buf);
    free(m->hdrs);
    free(m->subject_buf);
    memset(m, 0, sizeof(*m));
    m->data = "";
}

void jg_stored_msg_from_direct(natsMsg *msg, struct jg_stored_msg *m)
{
    const char *seq = jg_nats_msg_header(msg, "Nats-Sequence");
    const char *ts = jg_nats_msg_header(msg, "Nats-Time-Stamp");
    memset(m, 0, sizeof(*m));
    m->msg = msg;
    m->subject = jg_nats_msg_header(msg, "Nats-Subject");
    if (!seq || jg_u64_parse(seq, &m->seq) != JG_OK)
        m->seq = 0;
    if (ts)
        jg_time_parse_rfc3339(ts, &m->time_ns);
    m->data = natsMsg_GetData(msg);
    m->len = (size_t)natsMsg_GetDataLength(msg);
    if (!m->data)
        m->data = "";
}

int jg_msgget_hop(const struct jg_msgget *g)
{
    return g->tries > 0 ? g->hop + g->tries - 1 : 0;
}

static bool time_left(const struct jg_msgget *g)
{
    return jg_now_ms() + 10 < g->deadline_ms;
}

static void finish(struct jg_msgget *g, jg_status st, struct jg_stored_msg *m)
{
    JG_ASSERT_LOOP_THREAD(g->nats);
    g->fn(g->ctx, st, m); /* last: the callback may free g */
}

static void on_reply(void *ctx, jg_status st, natsMsg *msg);

/* The request of this attempt: the leader's STREAM.MSG.GET, or a direct
 * get (the subject's last message as "DIRECT.GET.<stream>.<subject>"). */
static void build(struct jg_msgget *g)
{
    bool last = g->seq == 0 && !g->next;
    g->body[0] = '\0';
    if (!g->leader && last) {
        jg_subj_api("DIRECT.GET", g->stream, g->subject, g->subj, sizeof(g->subj));
        return;
    }
    jg_subj_api(g->leader ? "STREAM.MSG.GET" : "DIRECT.GET", g->stream, NULL, g->subj,
                sizeof(g->subj));
    if (last)
        snprintf(g->body, sizeof(g->body), "{\"last_by_subj\":\"%s\"}", g->subject);
    else if (g->next)
        snprintf(g->body, sizeof(g->body), "{\"seq\":%llu,\"next_by_subj\":\"%s\"}",
                 (unsigned long long)g->seq, g->subject);
    else
        snprintf(g->body, sizeof(g->body), "{\"seq\":%llu}", (unsigned long long)g->seq);
}

/* Whether W2 applies to the next unanswered read. */
static bool may_recheck(const struct jg_msgget *g)
{
    const struct policy *p = &policies[g->policy];
    return p->recheck && g->single && !g->rechecked && (!g->leader || p->recheck_leader);
}

static jg_status send_read(struct jg_msgget *g)
{
    const struct policy *p = &policies[g->policy];
    int64_t t = 0; /* each_request: the configured request timeout */
    if (!p->each_request) {
        int64_t left = g->deadline_ms - jg_now_ms();
        /* a slice of the request timeout: for W3, or to leave time for W2 */
        int64_t slice = g->request_timeout_ms / 4;
        if (slice < 250)
            slice = 250;
        t = left;
        if ((p->retry || may_recheck(g)) && t > slice)
            t = slice;
        if (t < 10)
            t = 10;
    }
    build(g);
    /* failover: a KV read of the leader is sent again to a new one at once */
    if (g->leader && p->retry)
        return jg_nats_request_leader(g->nats, &g->req, g->stream, g->subj, NULL, g->body,
                                      strlen(g->body), 0, t, on_reply, g);
    return jg_nats_request_via(g->nats, g->leader ? 0 : jg_msgget_hop(g), &g->req, g->subj, g->body,
                               strlen(g->body), t, on_reply, g);
}

static void send_again(struct jg_msgget *g)
{
    jg_status st = send_read(g);
    if (st != JG_OK)
        finish(g, st, NULL);
}

/* W1: false when the replicas may not (or no longer) be asked. */
static bool ask_replicas(struct jg_msgget *g)
{
    if (!g->replicas || g->tries >= JG_NATS_REPLICA_TRIES || !time_left(g))
        return false;
    if (g->tries++ == 0)
        jg_debug("%s: the leader of '%s' has no '%s': asking its replicas",
                 policies[g->policy].name, g->stream, g->subject);
    else
        jg_debug("%s: no '%s' on the replica asked (try %d)", policies[g->policy].name, g->subject,
                 g->tries - 1);
    g->leader = false;
    send_again(g);
    return true;
}

static void rechecked(void *ctx, jg_status st, const struct jg_bucket_info *info)
{
    struct jg_msgget *g = ctx;
    (void)info;
    if (st == JG_ERR_BUCKET_NOT_FOUND) {
        finish(g, st, NULL);
        return;
    }
    if (time_left(g) && (!policies[g->policy].retry || jg_nats_connected(g->nats))) {
        send_again(g);
        return;
    }
    finish(g, policies[g->policy].unanswered, NULL);
}

/* A direct get's reply: headers Nats-Subject, Nats-Sequence,
 * Nats-Time-Stamp and the data. */
static void direct_reply(struct jg_msgget *g, natsMsg *msg, int status)
{
    struct jg_stored_msg m = {0};
    if (status == 404 || (status == 408 && policies[g->policy].status_408_missing)) {
        jg_nats_msg_release(msg);
        if (g->tries > 0 && ask_replicas(g))
            return;
        finish(g, JG_ERR_KEY_NOT_FOUND, NULL);
        return;
    }
    if (status) {
        g->status = status;
        jg_nats_msg_release(msg);
        finish(g, status == 503 ? JG_ERR_NATS_UNAVAILABLE : JG_ERR_INTERNAL, NULL);
        return;
    }
    jg_stored_msg_from_direct(msg, &m);
    finish(g, JG_OK, &m);
}

/* A leader's reply: {"message":{"subject","seq","time","hdrs","data"}},
 * headers and data in base64. */
static void leader_reply(struct jg_msgget *g, natsMsg *msg)
{
    struct jg_stored_msg m = {.data = ""};
    cJSON *json = NULL;
    jg_status st = jg_js_reply_json(msg, &json, NULL, g->desc, sizeof(g->desc));
    if (st == JG_ERR_KEY_NOT_FOUND) { /* 10037: W1 */
        if (ask_replicas(g))
            return;
        finish(g, st, NULL);
        return;
    }
    if (st == JG_ERR_NATS_UNAVAILABLE && policies[g->policy].retry && time_left(g)) {
        send_again(g); /* W3: "JetStream temporarily unavailable", no leader yet */
        return;
    }
    if (st != JG_OK) {
        g->error_reply = true;
        finish(g, st, NULL);
        return;
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(json, "message");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(o, "subject");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(o, "time");
    const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(o, "hdrs");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (cJSON_IsString(subj)) {
        m.subject = m.subject_buf = strdup(subj->valuestring);
        if (!m.subject_buf)
            st = JG_ERR_NOMEM;
    }
    if (cJSON_IsNumber(seq) && seq->valuedouble > 0 && seq->valuedouble < 1.8e19)
        m.seq = (uint64_t)seq->valuedouble;
    if (cJSON_IsString(time))
        jg_time_parse_rfc3339(time->valuestring, &m.time_ns);
    if (cJSON_IsString(hdrs) && jg_base64_decode(hdrs->valuestring, strlen(hdrs->valuestring),
                                                 false, &m.hdrs, &m.hdrs_len) != JG_OK) {
        m.hdrs = NULL; /* unreadable headers: as none */
        m.hdrs_len = 0;
    }
    if (st == JG_OK && cJSON_IsString(data)) {
        if (jg_base64_decode(data->valuestring, strlen(data->valuestring), false, &m.buf, &m.len) !=
            JG_OK)
            st = JG_ERR_INTERNAL;
        else if (m.buf)
            m.data = m.buf;
    }
    cJSON_Delete(json);
    if (st != JG_OK) {
        jg_stored_msg_clear(&m);
        finish(g, st, NULL);
        return;
    }
    finish(g, JG_OK, &m);
}

static void on_reply(void *ctx, jg_status st, natsMsg *msg)
{
    struct jg_msgget *g = ctx;
    int status = st == JG_OK ? jg_nats_msg_status(msg) : 0;
    bool unanswered = st == JG_ERR_NATS_TIMEOUT || status == 503; /* 503: no responders */

    if (unanswered && may_recheck(g)) { /* W2 */
        jg_nats_msg_release(msg);
        g->rechecked = true;
        jg_buckets_recheck(g->buckets, g->kind, g->bucket, &g->req, rechecked, g);
        return;
    }
    if (policies[g->policy].retry &&
        (unanswered || (st == JG_ERR_NATS_UNAVAILABLE && jg_nats_connected(g->nats)))) {
        jg_nats_msg_release(msg); /* W3 */
        if (time_left(g) && jg_nats_connected(g->nats)) {
            send_again(g);
            return;
        }
        finish(g, JG_ERR_NATS_UNAVAILABLE, NULL); /* 503 + Retry-After */
        return;
    }
    if (st != JG_OK) {
        finish(g, st, NULL);
        return;
    }
    if (g->leader)
        leader_reply(g, msg);
    else
        direct_reply(g, msg, status);
}

jg_status jg_msgget_start(struct jg_msgget *g)
{
    g->status = 0;
    g->error_reply = false;
    g->desc[0] = '\0';
    g->rechecked = false;
    g->deadline_ms = policies[g->policy].each_request ? INT64_MAX
                                                      : jg_now_ms() + g->request_timeout_ms;
    return send_read(g);
}
