/*
 * entries_direct: baseline for the bulk-read benchmark (bench/entries.sh).
 *
 *   entries_direct --url URL --bucket B --load N --value-size S --prefix P
 *       creates the bucket (history 1) if needed and writes keys P0..P(N-1)
 *       of S bytes with async publishes (a window of acknowledgements);
 *   entries_direct --url URL --bucket B
 *       reads every key the way an application without jetgate would:
 *       kvStore_Keys, then kvStore_Get of each key, one after the other.
 *
 * Output of a read: one line of JSON on stdout,
 *   {"keys":N,"bytes":B,"seconds":S,"keys_seconds":K}
 * (keys_seconds: the kvStore_Keys part).  Exit status 0, or 1 when a NATS
 * call failed (its message on stderr), 2 on bad arguments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, natsStatus s)
{
    fprintf(stderr, "entries_direct: %s: %s (%s)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *url = "nats://127.0.0.1:4222", *bucket = "bench", *prefix = "bench.";
    long load = 0, value_size = 100;
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},       {"bucket", required_argument, NULL, 'b'},
        {"load", required_argument, NULL, 'l'},      {"value-size", required_argument, NULL, 's'},
        {"prefix", required_argument, NULL, 'p'},    {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'b': bucket = optarg; break;
        case 'l': load = atol(optarg); break;
        case 's': value_size = atol(optarg); break;
        case 'p': prefix = optarg; break;
        default: return 2;
        }
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kvStore *kv = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, url);
    if (s != NATS_OK)
        return fail("connect", s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
        return fail("jetstream", s);
    if (load > 0) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = bucket;
        kc.History = 1;
        s = js_CreateKeyValue(&kv, js, &kc);
        if (s != NATS_OK && (s = js_KeyValue(&kv, js, bucket)) != NATS_OK)
            return fail("bucket", s);
        char *val = malloc((size_t)value_size);
        memset(val, 'v', (size_t)value_size);
        for (long i = 0; i < load; i++) {
            char subj[512];
            snprintf(subj, sizeof(subj), "$KV.%s.%s%ld", bucket, prefix, i);
            if ((s = js_PublishAsync(js, subj, val, (int)value_size, NULL)) != NATS_OK)
                return fail("publish", s);
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK)
            return fail("publish complete", s);
        free(val);
    } else {
        if ((s = js_KeyValue(&kv, js, bucket)) != NATS_OK)
            return fail("bucket", s);
        double t0 = now_s();
        kvKeysList list = {0};
        if ((s = kvStore_Keys(&list, kv, NULL)) != NATS_OK)
            return fail("keys", s);
        double t1 = now_s();
        long long bytes = 0;
        for (int i = 0; i < list.Count; i++) {
            kvEntry *e = NULL;
            if ((s = kvStore_Get(&e, kv, list.Keys[i])) != NATS_OK)
                return fail("get", s);
            bytes += kvEntry_ValueLen(e);
            kvEntry_Destroy(e);
        }
        double t2 = now_s();
        printf("{\"keys\":%d,\"bytes\":%lld,\"seconds\":%.3f,\"keys_seconds\":%.3f}\n", list.Count,
               bytes, t2 - t0, t1 - t0);
        kvKeysList_Destroy(&list);
    }
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
