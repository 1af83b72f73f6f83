/* scan.c - last-message-per-subject scans on worker threads (see scan.h). */
#include "autoconfig.h"
#include "nats/scan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "nats/js.h"
#include "nats/subjects.h"

#define MAX_WORKERS 16

static atomic_int workers;

static char *consumer_request(const char *stream, const char *deliver, const char *filter,
                              bool headers_only)
{
    cJSON *req = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(req, "config");
    cJSON_AddStringToObject(req, "stream_name", stream);
    cJSON_AddStringToObject(cfg, "deliver_subject", deliver);
    cJSON_AddStringToObject(cfg, "deliver_policy", "last_per_subject");
    cJSON_AddStringToObject(cfg, "ack_policy", "none");
    cJSON_AddNumberToObject(cfg, "max_deliver", 1);
    cJSON_AddStringToObject(cfg, "filter_subject", filter);
    cJSON_AddStringToObject(cfg, "replay_policy", "instant");
    if (headers_only)
        cJSON_AddBoolToObject(cfg, "headers_only", true);
    cJSON_AddBoolToObject(cfg, "mem_storage", true);
    cJSON_AddNumberToObject(cfg, "num_replicas", 1);
    cJSON_AddNumberToObject(cfg, "inactive_threshold", 30e9);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return body;
}

static jg_status wait_status(struct jg_nats *n, natsStatus ns)
{
    return ns == NATS_TIMEOUT && jg_nats_connected(n) ? JG_ERR_NATS_TIMEOUT
                                                      : JG_ERR_NATS_UNAVAILABLE;
}

jg_status jg_scan_last_per_subject(struct jg_nats *n, const char *stream, const char *filter,
                                   bool headers_only, int64_t timeout_ms, jg_scan_fn fn, void *ctx)
{
    natsConnection *nc = jg_nats_conn(n);
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    natsMsg *reply = NULL;
    char api[400], consumer[128] = "", desc[256] = "";
    char *body = NULL;
    cJSON *json = NULL;
    uint64_t expected = 0, received = 0;
    jg_status st = JG_ERR_NOMEM;

    if (!jg_nats_connected(n))
        return JG_ERR_NATS_UNAVAILABLE;
    if (natsInbox_Create(&inbox) != NATS_OK)
        goto out;
    if (natsConnection_SubscribeSync(&sub, nc, (const char *)inbox) != NATS_OK ||
        natsSubscription_SetPendingLimits(sub, -1, -1) != NATS_OK) {
        st = JG_ERR_NATS_UNAVAILABLE;
        goto out;
    }
    body = consumer_request(stream, (const char *)inbox, filter, headers_only);
    if (!body)
        goto out;
    jg_subj_api("CONSUMER.CREATE", stream, NULL, api, sizeof(api));
    natsStatus ns = natsConnection_RequestString(&reply, nc, api, body, timeout_ms);
    if (ns != NATS_OK) {
        st = wait_status(n, ns);
        goto out;
    }
    st = jg_js_reply_json(reply, &json, NULL, desc, sizeof(desc));
    reply = NULL;
    if (st != JG_OK) {
        jg_debug("scan: consumer on '%s' not created: %s", stream, desc);
        goto out;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(json, "name");
    const cJSON *np = cJSON_GetObjectItemCaseSensitive(json, "num_pending");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(json, "delivered");
    const cJSON *cs = dl ? cJSON_GetObjectItemCaseSensitive(dl, "consumer_seq") : NULL;
    if (cJSON_IsString(name))
        snprintf(consumer, sizeof(consumer), "%s", name->valuestring);
    expected = (cJSON_IsNumber(np) ? (uint64_t)np->valuedouble : 0) +
               (cJSON_IsNumber(cs) ? (uint64_t)cs->valuedouble : 0);
    while (received < expected) {
        natsMsg *m = NULL;
        ns = natsSubscription_NextMsg(&m, sub, timeout_ms);
        if (ns != NATS_OK) {
            st = wait_status(n, ns);
            goto out;
        }
        struct jg_nats_ack a;
        if (!jg_nats_msg_status(m) && jg_nats_ack_parse(natsMsg_GetReply(m), &a)) {
            received++;
            fn(ctx, m, a.sseq, a.ts_ns);
            if (a.pending == 0)
                received = expected;
        }
        natsMsg_Destroy(m);
    }
    st = JG_OK;
out:
    if (consumer[0]) {
        jg_subj_api("CONSUMER.DELETE", stream, consumer, api, sizeof(api));
        natsConnection_Publish(nc, api, NULL, 0);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    natsMsg_Destroy(reply);
    cJSON_Delete(json);
    free(body);
    return st;
}

struct job {
    void (*fn)(void *);
    void *arg;
};

static void *job_main(void *p)
{
    struct job j = *(struct job *)p;
    free(p);
    j.fn(j.arg);
    atomic_fetch_sub(&workers, 1);
    return NULL;
}

jg_status jg_scan_spawn(void (*fn)(void *arg), void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    struct job *j;
    if (atomic_fetch_add(&workers, 1) >= MAX_WORKERS) {
        atomic_fetch_sub(&workers, 1);
        return JG_ERR_TOO_MANY_REQUESTS;
    }
    j = malloc(sizeof(*j));
    if (!j) {
        atomic_fetch_sub(&workers, 1);
        return JG_ERR_NOMEM;
    }
    j->fn = fn;
    j->arg = arg;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(j);
        atomic_fetch_sub(&workers, 1);
        return JG_ERR_INTERNAL;
    }
    return JG_OK;
}
