/* consumer.c - a feed's consumer (see watch_int.h): an ordered push
 * consumer (ADR-17: ack none, flow control, idle heartbeat) delivering to
 * the feed's one subscription, created again from the last handled stream
 * sequence + 1 after a gap, a missed heartbeat, a reconnect, a pause or a
 * rollup that moved it past changes. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "nats/js.h"
#include "nats/subjects.h"
#include "util.h"

struct create_op {
    struct feed *f;
    uint64_t gen;
    char name[48];
    struct jg_nats_req nreq;
};

/* One per subscription: its message callback's closure, freed (with the
 * subscription) once libnats says no callback will follow. */
struct subctx {
    struct feed *f;
    natsSubscription *sub;
};

static void on_sub_complete(void *closure)
{
    struct subctx *sc = closure;
    natsSubscription_Destroy(sc->sub);
    jg_feed_unref(sc->f);
    free(sc);
}

static void publish_delete(struct feed *f, const char *name)
{
    char api[400];
    if (!name[0] || atomic_load(f->eng->stopping))
        return;
    jg_subj_api("CONSUMER.DELETE", f->stream, name, api, sizeof(api));
    jg_nats_publish(f->eng->nats, api, NULL, 0);
}

/* Drops the server-side consumer; messages it still sends are ignored by
 * name (feed->lock). */
void jg_consumer_drop(struct feed *f)
{
    f->gen++;
    publish_delete(f, f->name);
    f->name[0] = '\0';
    f->verifying = false;
    for (size_t i = 0; i < f->nheld; i++)
        natsMsg_Destroy(f->held[i].m);
    f->nheld = 0;
}

/* Drops the consumer and the subscription (feed->lock). */
void jg_consumer_unsubscribe(struct feed *f)
{
    jg_consumer_drop(f);
    if (f->sub) {
        /* destroyed by on_sub_complete once its callbacks are over */
        natsSubscription_Unsubscribe(f->sub);
        f->sub = NULL;
    }
}

static char *consumer_config(struct feed *f, const char *deliver, const char *name)
{
    cJSON *req = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(req, "config");
    char when[40];
    cJSON_AddStringToObject(req, "stream_name", f->stream);
    cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddStringToObject(cfg, "deliver_subject", deliver);
    switch (f->policy) {
    case P_LAST_PER_SUBJECT:
        cJSON_AddStringToObject(cfg, "deliver_policy", "last_per_subject");
        break;
    case P_ALL:
        cJSON_AddStringToObject(cfg, "deliver_policy", "all");
        break;
    case P_FROM_SEQ:
        cJSON_AddStringToObject(cfg, "deliver_policy", "by_start_sequence");
        cJSON_AddNumberToObject(cfg, "opt_start_seq", (double)(f->last_seq + 1));
        break;
    case P_FROM_TIME:
        jg_time_rfc3339(f->start_ns, when);
        cJSON_AddStringToObject(cfg, "deliver_policy", "by_start_time");
        cJSON_AddStringToObject(cfg, "opt_start_time", when);
        break;
    }
    cJSON_AddStringToObject(cfg, "ack_policy", "none");
    cJSON_AddNumberToObject(cfg, "max_deliver", 1);
    cJSON_AddStringToObject(cfg, "filter_subject", f->filter_subject);
    cJSON_AddStringToObject(cfg, "replay_policy", "instant");
    cJSON_AddBoolToObject(cfg, "flow_control", true);
    cJSON_AddNumberToObject(cfg, "idle_heartbeat", (double)HB_NS);
    if (f->headers_only)
        cJSON_AddBoolToObject(cfg, "headers_only", true);
    cJSON_AddBoolToObject(cfg, "mem_storage", true);
    cJSON_AddNumberToObject(cfg, "num_replicas", 1);
    cJSON_AddNumberToObject(cfg, "inactive_threshold", (double)INACTIVE_NS);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return body;
}


static void on_created(void *ctx, jg_status st, natsMsg *msg)
{
    struct create_op *op = ctx;
    struct feed *f = op->f;
    struct wakes wk = {0};
    cJSON *json = NULL;
    int err = 0;
    char desc[256] = "";
    bool join = false, gone = false;

    if (st == JG_OK)
        st = jg_js_reply_json(msg, &json, &err, desc, sizeof(desc));
    pthread_mutex_lock(&f->lock);
    if (op->gen != f->gen || f->dead) {
        /* stale: the feed moved on (or ended) meanwhile */
        if (st == JG_OK)
            publish_delete(f, op->name);
        goto out;
    }
    f->creating = false;
    if (st != JG_OK) {
        jg_debug("watch: consumer on '%s' not created: %s", f->stream,
                 *desc ? desc : jg_status_title(st));
        if (st == JG_ERR_BUCKET_NOT_FOUND || err == 10059) {
            f->dead = true;
            jg_feed_fail_watchers(f, "bucket_not_found", &wk);
            jg_consumer_unsubscribe(f);
            gone = true;
        } else {
            /* timeout, disconnect, ...: the engine thread tries again */
            jg_consumer_drop(f);
            f->need_create = true;
        }
        goto out;
    }
    f->last_msg_ms = jg_now_ms();
    if (!f->init_done && !f->init_known) {
        const cJSON *np = cJSON_GetObjectItemCaseSensitive(json, "num_pending");
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(json, "delivered");
        const cJSON *cs = dl ? cJSON_GetObjectItemCaseSensitive(dl, "consumer_seq") : NULL;
        f->init_expected = (cJSON_IsNumber(np) ? (uint64_t)np->valuedouble : 0) +
                           (cJSON_IsNumber(cs) ? (uint64_t)cs->valuedouble : 0);
        f->init_known = true;
        bool was = f->init_done;
        jg_feed_init_check(f, &wk);
        join = !was && f->init_done;
    }
out:
    pthread_mutex_unlock(&f->lock);
    cJSON_Delete(json);
    jg_wakes_run(&wk);
    if (join)
        jg_ring_try_join(f);
    if (gone)
        /* the other feeds of the bucket may have heard nothing */
        jg_deleted_stream_gone(f->eng, f->stream);
    jg_feed_unref(f);
    free(op);
}

/* Subscribes a fresh inbox and asks for a consumer delivering to it
 * (feed->lock held).  On failure need_create stays set for the engine. */
void jg_consumer_create(struct feed *f)
{
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    struct create_op *op = NULL;
    struct subctx *sc = NULL;
    char *body = NULL;
    char api[400];

    f->need_create = true;
    if (f->dead || f->creating || !jg_engine_nats_usable(f->eng))
        return;
    if (natsInbox_Create(&inbox) != NATS_OK)
        goto out;
    op = calloc(1, sizeof(*op));
    if (!op)
        goto out;
    if (!f->sub) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            goto out;
        if (natsConnection_Subscribe(&sub, jg_nats_conn(f->eng->nats), (const char *)inbox,
                                     jg_feed_on_msg, f) != NATS_OK)
            goto out;
        jg_feed_ref(f); /* held by the subscription until it completes */
        sc->f = f;
        sc->sub = sub;
        if (natsSubscription_SetOnCompleteCB(sub, on_sub_complete, sc) != NATS_OK) {
            /* cannot know when callbacks stop: keep both forever */
            jg_warn("watch: no completion callback for a subscription");
        }
        sc = NULL;
        natsSubscription_SetPendingLimits(sub, -1, -1);
        f->sub = sub;
        snprintf(f->inbox, sizeof(f->inbox), "%s", (const char *)inbox);
    }
    f->gen++;
    f->paused = false;
    f->cseq = 0;
    f->init_received = 0;
    f->init_known = false;
    snprintf(op->name, sizeof(op->name), "jgw_%s", (const char *)inbox + 7);
    snprintf(f->name, sizeof(f->name), "%s", op->name);
    op->gen = f->gen;
    op->f = f;
    body = consumer_config(f, f->inbox, op->name);
    if (!body)
        goto out;
    jg_subj_js_api("CONSUMER.CREATE", f->stream, op->name, api, sizeof(api));
    jg_feed_ref(f);
    f->creating = true;
    f->last_msg_ms = jg_now_ms();
    jg_status st = jg_js_api(f->eng->nats, &op->nreq, api, body, 0, on_created, op);
    if (st != JG_OK) {
        f->creating = false;
        jg_feed_unref(f);
        goto out;
    }
    op = NULL;
    f->need_create = false;
    atomic_fetch_add(&f->eng->restarts, 1);
out:
    if (f->need_create)
        jg_consumer_drop(f);
    free(body);
    free(op);
    free(sc);
    natsInbox_Destroy(inbox);
}

/* Gap, lost heartbeat, reconnect: a new consumer from last_seq + 1
 * (feed->lock held). */
void jg_consumer_restart(struct feed *f, const char *why)
{
    if (f->dead)
        return;
    jg_debug("watch: consumer on '%s' restarts after %llu (%s)", f->stream,
             (unsigned long long)f->last_seq, why);
    jg_consumer_drop(f);
    f->creating = false;
    if (f->policy == P_LAST_PER_SUBJECT && !f->init_done) {
        /* the last values again, minus those already handled */
        f->skip_through = f->last_seq;
    } else if (f->policy != P_FROM_TIME || f->last_seq > 0 || f->init_done) {
        f->policy = P_FROM_SEQ;
    }
    jg_consumer_create(f);
}


