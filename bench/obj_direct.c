/*
 * obj_direct: the raw ceiling for the jetgate object store benchmark.
 *
 * Moves one object's worth of chunks through JetStream with libnats and
 * nothing else: no HTTP, no SHA-256 digest, no meta message.  The upload
 * publishes N chunks (128 KiB by default) to "$O.<bucket>.C.<nuid>" with
 * js_PublishAsync, at most --window chunks waiting for their JetStream
 * acknowledgement; it ends when every chunk is acknowledged.  The download
 * reads them back with an ordered push consumer (flow control handled by
 * libnats) until every chunk has arrived.  With --read both it also reads
 * them a second time with sequential direct gets ({"seq":S,
 * "next_by_subj":...}, one request at a time), the way jetgate's reader
 * fetches the chunks of small objects (larger ones come through a pull
 * consumer).  Afterwards the chunk subject is purged (unless --keep).
 *
 * The bucket stream "OBJ_<bucket>" is created with the nats.go object store
 * configuration (subjects "$O.<b>.C.>", "$O.<b>.M.>", discard new, rollup
 * and direct access allowed) when it does not exist yet.
 *
 * With --parallel N the same data is uploaded as N objects (one after the
 * other, under N nuids; up_* covers all of them), then read back by N
 * ordered consumers at once, each on a connection of its own in a thread of
 * its own; down_* is from the start of the first to the end of the last
 * (N * size bytes over that time), the rate N independent readers reach
 * together.  --read must be ordered then.
 *
 * The data comes from --file (read chunk by chunk with pread, so the whole
 * object is never in memory) or, without it, --size bytes of a generated
 * pattern.  --verify compares every byte read back with the source.
 *
 * Output: one line of JSON on stdout, e.g.
 *   {"size":S,"chunk":131072,"chunks":N,"window":W,"up_seconds":..,
 *    "up_mbps":..,"down_seconds":..,"down_mbps":..,"dget_seconds":..,
 *    "dget_mbps":..,"up_cpu_seconds":..,"down_cpu_seconds":..,"errors":0}
 * where *_mbps is in MB/s (10^6 bytes per second) and *_cpu_seconds is this
 * process's user+system CPU during that phase.  dget_* is null unless
 * --read both or --read direct.
 *
 * Exit status: 0 on success; 1 if any NATS call failed, a chunk was missing
 * or (with --verify) differed; 2 on bad arguments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <nats/nats.h>

/* ---- configuration ------------------------------------------------------ */

enum read_mode { READ_ORDERED, READ_DIRECT, READ_BOTH };

static struct {
    const char *url;
    const char *bucket;
    const char *file;
    int64_t size;
    int chunk;
    int window;
    enum read_mode read;
    int64_t timeout_ms;
    int parallel;
    bool verify;
    bool keep;
} cfg = {
    .url = "nats://127.0.0.1:4222",
    .bucket = "bench",
    .file = NULL,
    .size = -1,
    .chunk = 128 * 1024,
    .window = 32,
    .read = READ_ORDERED,
    .timeout_ms = 30000,
    .parallel = 1,
    .verify = false,
    .keep = false,
};

static int src_fd = -1;
static atomic_uint_fast64_t pub_errors;
static char first_pub_error[256];

/* ---- failure reporting -------------------------------------------------- */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("obj_direct: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void die_status(const char *what, natsStatus s)
{
    const char *last = nats_GetLastError(NULL);
    die("%s failed: %s%s%s", what, natsStatus_GetText(s), (last && *last) ? ": " : "",
        (last && *last) ? last : "");
}

#define CHECK(call)                              \
    do {                                         \
        natsStatus s_ = (call);                  \
        if (s_ != NATS_OK)                       \
            die_status(#call, s_);               \
    } while (0)

/* Runs on the libnats thread that reads publish acknowledgements. */
static void on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (atomic_fetch_add(&pub_errors, 1) == 0)
        snprintf(first_pub_error, sizeof(first_pub_error), "%s (error code %d): %s",
                 natsStatus_GetText(pae->Err), (int)pae->ErrCode,
                 pae->ErrText ? pae->ErrText : "");
}

/* ---- time helpers ------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds_now(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        die("getrusage: %s", strerror(errno));
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- source data -------------------------------------------------------- */

/* Fills buf with the len bytes of the object at offset off. */
static void source_read(char *buf, int64_t off, size_t len)
{
    if (src_fd >= 0) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = pread(src_fd, buf + done, len - done, (off_t)(off + (int64_t)done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                die("reading %s at offset %" PRId64 ": %s", cfg.file, off + (int64_t)done,
                    n == 0 ? "unexpected end of file" : strerror(errno));
            done += (size_t)n;
        }
        return;
    }
    /* A pattern that differs from chunk to chunk: 8-byte words holding
     * their own offset. */
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = (uint64_t)off + i;
        buf[i] = (char)(pos % 8 == 0 ? 0xA5 : (pos >> (8 * (pos % 8))) & 0xff);
    }
}

/* ---- the benchmark ------------------------------------------------------ */

static void ensure_stream(jsCtx *js, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return;
    }
    if (s != NATS_NOT_FOUND)
        die_status("js_GetStreamInfo", s);

    char csubj[300], msubj[300];
    const char *subjects[2] = {csubj, msubj};
    snprintf(csubj, sizeof(csubj), "$O.%s.C.>", cfg.bucket);
    snprintf(msubj, sizeof(msubj), "$O.%s.M.>", cfg.bucket);
    jsStreamConfig sc;
    CHECK(jsStreamConfig_Init(&sc));
    sc.Name = stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 2;
    sc.Storage = js_FileStorage;
    sc.Replicas = 1;
    sc.Discard = js_DiscardNew;
    sc.AllowRollup = true;
    sc.AllowDirect = true;
    s = js_AddStream(&si, js, &sc, NULL, &jerr);
    if (s != NATS_OK)
        die_status("js_AddStream", s);
    jsStreamInfo_Destroy(si);
    fprintf(stderr, "obj_direct: created stream %s\n", stream);
}

/* Compares a received chunk with the source (--verify). */
static bool verify_chunk(char *scratch, int64_t off, const void *data, int len)
{
    source_read(scratch, off, (size_t)len);
    return memcmp(scratch, data, (size_t)len) == 0;
}

/* Reads the chunks of subj with an ordered consumer; returns the number of
 * errors (reported on stderr). */
static int ordered_read(jsCtx *js, const char *stream, const char *subj, uint64_t nchunks,
                        int64_t size, char *scratch)
{
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode jerr = 0;
    uint64_t got = 0;
    int64_t bytes = 0;
    int errors = 0;
    CHECK(jsSubOptions_Init(&so));
    so.Stream = stream;
    so.Ordered = true;
    natsStatus s = js_SubscribeSync(&sub, js, subj, NULL, &so, &jerr);
    if (s != NATS_OK)
        die_status("js_SubscribeSync (ordered consumer)", s);
    CHECK(natsSubscription_SetPendingLimits(sub, -1, -1));
    while (got < nchunks) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, sub, cfg.timeout_ms);
        if (s != NATS_OK) {
            fprintf(stderr, "obj_direct: ordered read stopped after %" PRIu64 " of %" PRIu64
                    " chunks: %s\n", got, nchunks, natsStatus_GetText(s));
            errors++;
            break;
        }
        int len = natsMsg_GetDataLength(m);
        if (cfg.verify && !verify_chunk(scratch, bytes, natsMsg_GetData(m), len)) {
            fprintf(stderr, "obj_direct: chunk %" PRIu64 " differs from the source\n", got);
            errors++;
        }
        bytes += len;
        got++;
        natsMsg_Destroy(m);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (got == nchunks && bytes != size) {
        fprintf(stderr, "obj_direct: ordered read got %" PRId64 " bytes, want %" PRId64 "\n",
                bytes, size);
        errors++;
    }
    return errors;
}

/* --parallel: one reader with a connection of its own. */
struct preader {
    pthread_t thread;
    const char *stream;
    char subj[400];
    uint64_t nchunks;
    int64_t size;
    int errors;
    uint64_t end_ns;
};

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static int start_ready, start_go;

static void *preader_main(void *arg)
{
    struct preader *pr = arg;
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    char *scratch = cfg.verify ? malloc((size_t)cfg.chunk) : NULL;
    if (cfg.verify && scratch == NULL)
        die("out of memory");
    CHECK(natsOptions_Create(&opts));
    CHECK(natsOptions_SetURL(opts, cfg.url));
    CHECK(natsOptions_SetTimeout(opts, cfg.timeout_ms));
    CHECK(natsConnection_Connect(&nc, opts));
    natsOptions_Destroy(opts);
    jsOptions jo;
    CHECK(jsOptions_Init(&jo));
    jo.Wait = cfg.timeout_ms;
    CHECK(natsConnection_JetStream(&js, nc, &jo));
    /* every reader connected before the clock starts */
    pthread_mutex_lock(&start_lock);
    start_ready++;
    pthread_cond_broadcast(&start_cond);
    while (!start_go)
        pthread_cond_wait(&start_cond, &start_lock);
    pthread_mutex_unlock(&start_lock);
    pr->errors = ordered_read(js, pr->stream, pr->subj, pr->nchunks, pr->size, scratch);
    pr->end_ns = now_ns();
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    free(scratch);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: obj_direct [--url nats://127.0.0.1:4222] [--bucket bench]\n"
            "                  (--file PATH | --size BYTES) [--chunk 131072] [--window 32]\n"
            "                  [--read ordered|direct|both] [--timeout-ms 30000]\n"
            "                  [--parallel N] [--verify] [--keep] [--version]\n"
            "\n"
            "Publishes the object as chunks to $O.<bucket>.C.<nuid> (async publishes,\n"
            "at most --window unacknowledged), reads them back (ordered consumer;\n"
            "--read direct: sequential direct gets; both: one after the other), purges\n"
            "the chunk subject (unless --keep) and prints one JSON line.\n"
            "--parallel N: N objects uploaded one after the other, read by N ordered\n"
            "consumers at once (a connection and thread each).\n");
}

static long long parse_ll(const char *name, const char *v, long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "obj_direct: --%s must be an integer in [%lld, %lld], got '%s'\n", name,
                lo, hi, v);
        exit(2);
    }
    return x;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"bucket", required_argument, NULL, 'b'},
        {"file", required_argument, NULL, 'f'},
        {"size", required_argument, NULL, 's'},
        {"chunk", required_argument, NULL, 'c'},
        {"window", required_argument, NULL, 'w'},
        {"read", required_argument, NULL, 'r'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"parallel", required_argument, NULL, 'P'},
        {"verify", no_argument, NULL, 'v'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': cfg.url = optarg; break;
        case 'b': cfg.bucket = optarg; break;
        case 'f': cfg.file = optarg; break;
        case 's': cfg.size = parse_ll("size", optarg, 0, INT64_C(1) << 50); break;
        case 'c': cfg.chunk = (int)parse_ll("chunk", optarg, 1, 64 * 1024 * 1024); break;
        case 'w': cfg.window = (int)parse_ll("window", optarg, 1, 100000); break;
        case 'r':
            if (strcmp(optarg, "ordered") == 0)
                cfg.read = READ_ORDERED;
            else if (strcmp(optarg, "direct") == 0)
                cfg.read = READ_DIRECT;
            else if (strcmp(optarg, "both") == 0)
                cfg.read = READ_BOTH;
            else {
                fprintf(stderr, "obj_direct: --read must be ordered, direct or both\n");
                exit(2);
            }
            break;
        case 'T': cfg.timeout_ms = parse_ll("timeout-ms", optarg, 1, 3600000); break;
        case 'P': cfg.parallel = (int)parse_ll("parallel", optarg, 1, 256); break;
        case 'v': cfg.verify = true; break;
        case 'k': cfg.keep = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("obj_direct (libnats %s)\n", nats_GetVersion()); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "obj_direct: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
    if (cfg.parallel > 1 && cfg.read != READ_ORDERED) {
        fprintf(stderr, "obj_direct: --parallel needs --read ordered\n");
        exit(2);
    }
    if ((cfg.file == NULL) == (cfg.size < 0)) {
        fprintf(stderr, "obj_direct: give exactly one of --file and --size\n");
        usage(stderr);
        exit(2);
    }
}

static void fmt_rate(char *out, size_t cap, bool have, double secs, int64_t size)
{
    if (!have)
        snprintf(out, cap, "null");
    else
        snprintf(out, cap, "%.1f", secs > 0 ? (double)size / secs / 1e6 : 0.0);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    if (cfg.file != NULL) {
        struct stat st;
        src_fd = open(cfg.file, O_RDONLY | O_CLOEXEC);
        if (src_fd < 0 || fstat(src_fd, &st) != 0)
            die("%s: %s", cfg.file, strerror(errno));
        cfg.size = (int64_t)st.st_size;
    }
    const int64_t size = cfg.size;
    const uint64_t nchunks = (uint64_t)((size + cfg.chunk - 1) / cfg.chunk);
    char *buf = malloc((size_t)cfg.chunk);
    char *scratch = cfg.verify ? malloc((size_t)cfg.chunk) : NULL;
    if (buf == NULL || (cfg.verify && scratch == NULL))
        die("out of memory");

    CHECK(nats_Open(-1));

    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    CHECK(natsOptions_Create(&opts));
    CHECK(natsOptions_SetURL(opts, cfg.url));
    CHECK(natsOptions_SetTimeout(opts, cfg.timeout_ms));
    CHECK(natsOptions_SetName(opts, "jetgate-bench-obj_direct"));
    CHECK(natsConnection_Connect(&nc, opts));
    natsOptions_Destroy(opts);

    jsOptions jo;
    CHECK(jsOptions_Init(&jo));
    jo.Wait = cfg.timeout_ms;
    jo.PublishAsync.MaxPending = cfg.window;
    jo.PublishAsync.StallWait = cfg.timeout_ms;
    jo.PublishAsync.ErrHandler = on_pub_error;
    CHECK(natsConnection_JetStream(&js, nc, &jo));

    char stream[300], subj[400];
    snprintf(stream, sizeof(stream), "OBJ_%s", cfg.bucket);
    ensure_stream(js, stream);

    /* Fresh nuids, as the clients make them: an inbox without "_INBOX.". */
    const int np = cfg.parallel;
    struct preader *prs = calloc((size_t)np, sizeof(*prs));
    if (prs == NULL)
        die("out of memory");
    for (int k = 0; k < np; k++) {
        natsInbox *inbox = NULL;
        CHECK(natsInbox_Create(&inbox));
        snprintf(prs[k].subj, sizeof(prs[k].subj), "$O.%s.C.%s", cfg.bucket,
                 (const char *)inbox + 7);
        natsInbox_Destroy(inbox);
        prs[k].stream = stream;
        prs[k].nchunks = nchunks;
        prs[k].size = size;
    }
    snprintf(subj, sizeof(subj), "%s", prs[0].subj);

    int errors = 0;
    natsStatus s;

    /* ---- upload ---- */
    double cpu0 = cpu_seconds_now();
    uint64_t t0 = now_ns();
    for (int k = 0; k < np; k++) {
        for (uint64_t i = 0; i < nchunks; i++) {
            int64_t off = (int64_t)i * cfg.chunk;
            size_t len = (size_t)(size - off < cfg.chunk ? size - off : cfg.chunk);
            source_read(buf, off, len);
            s = js_PublishAsync(js, prs[k].subj, buf, (int)len, NULL);
            if (s != NATS_OK)
                die_status("js_PublishAsync", s);
        }
    }
    jsPubOptions po;
    CHECK(jsPubOptions_Init(&po));
    po.MaxWait = cfg.timeout_ms;
    s = js_PublishAsyncComplete(js, &po);
    if (s != NATS_OK)
        die_status("js_PublishAsyncComplete", s);
    uint64_t t1 = now_ns();
    double cpu1 = cpu_seconds_now();
    if (atomic_load(&pub_errors) > 0) {
        fprintf(stderr, "obj_direct: %" PRIuFAST64 " chunk publishes failed; first: %s\n",
                (uint_fast64_t)atomic_load(&pub_errors), first_pub_error);
        errors++;
    }

    /* ---- download: ordered consumer(s) ---- */
    double down_s = 0, down_cpu = 0;
    bool have_down = false;
    if (cfg.read != READ_DIRECT && errors == 0 && np == 1) {
        double c0 = cpu_seconds_now();
        uint64_t d0 = now_ns();
        errors += ordered_read(js, stream, subj, nchunks, size, scratch);
        uint64_t d1 = now_ns();
        down_cpu = cpu_seconds_now() - c0;
        down_s = (double)(d1 - d0) / 1e9;
        have_down = true;
    } else if (errors == 0) {
        for (int k = 0; k < np; k++)
            if (pthread_create(&prs[k].thread, NULL, preader_main, &prs[k]) != 0)
                die("pthread_create failed");
        pthread_mutex_lock(&start_lock);
        while (start_ready < np)
            pthread_cond_wait(&start_cond, &start_lock);
        double c0 = cpu_seconds_now();
        uint64_t d0 = now_ns(), d1 = d0;
        start_go = 1;
        pthread_cond_broadcast(&start_cond);
        pthread_mutex_unlock(&start_lock);
        for (int k = 0; k < np; k++) {
            pthread_join(prs[k].thread, NULL);
            errors += prs[k].errors;
            if (prs[k].end_ns > d1)
                d1 = prs[k].end_ns;
        }
        down_cpu = cpu_seconds_now() - c0;
        down_s = (double)(d1 - d0) / 1e9;
        have_down = true;
    }

    /* ---- download: sequential direct gets ---- */
    double dget_s = 0;
    bool have_dget = false;
    if (cfg.read != READ_ORDERED && errors == 0) {
        uint64_t seq = 1, got = 0;
        int64_t bytes = 0;
        uint64_t d0 = now_ns();
        while (got < nchunks) {
            natsMsg *m = NULL;
            jsDirectGetMsgOptions dg;
            CHECK(jsDirectGetMsgOptions_Init(&dg));
            dg.Sequence = seq;
            dg.NextBySubject = subj;
            s = js_DirectGetMsg(&m, js, stream, NULL, &dg);
            if (s != NATS_OK) {
                fprintf(stderr, "obj_direct: direct get after %" PRIu64 " of %" PRIu64
                        " chunks: %s\n", got, nchunks, natsStatus_GetText(s));
                errors++;
                break;
            }
            int len = natsMsg_GetDataLength(m);
            if (cfg.verify && !verify_chunk(scratch, bytes, natsMsg_GetData(m), len)) {
                fprintf(stderr, "obj_direct: chunk %" PRIu64 " differs from the source\n", got);
                errors++;
            }
            bytes += len;
            seq = natsMsg_GetSequence(m) + 1;
            got++;
            natsMsg_Destroy(m);
        }
        dget_s = (double)(now_ns() - d0) / 1e9;
        if (got == nchunks && bytes != size) {
            fprintf(stderr, "obj_direct: direct gets got %" PRId64 " bytes, want %" PRId64 "\n",
                    bytes, size);
            errors++;
        }
        have_dget = true;
    }

    /* ---- clean up the chunks ---- */
    for (int k = 0; k < np && !cfg.keep; k++) {
        jsOptions pjo;
        jsErrCode jerr = 0;
        CHECK(jsOptions_Init(&pjo));
        pjo.Stream.Purge.Subject = prs[k].subj;
        s = js_PurgeStream(js, stream, &pjo, &jerr);
        if (s != NATS_OK) {
            fprintf(stderr, "obj_direct: purging %s: %s (error code %d)\n", prs[k].subj,
                    natsStatus_GetText(s), (int)jerr);
            errors++;
        }
    }

    double up_s = (double)(t1 - t0) / 1e9;
    char up_r[32], down_r[32], dget_r[32], down_t[32], dget_t[32];
    fmt_rate(up_r, sizeof(up_r), true, up_s, size * np);
    fmt_rate(down_r, sizeof(down_r), have_down, down_s, size * np);
    fmt_rate(dget_r, sizeof(dget_r), have_dget, dget_s, size);
    if (have_down)
        snprintf(down_t, sizeof(down_t), "%.3f", down_s);
    else
        snprintf(down_t, sizeof(down_t), "null");
    if (have_dget)
        snprintf(dget_t, sizeof(dget_t), "%.3f", dget_s);
    else
        snprintf(dget_t, sizeof(dget_t), "null");
    printf("{\"size\":%" PRId64 ",\"parallel\":%d,\"chunk\":%d,\"chunks\":%" PRIu64 ",\"window\":%d,"
           "\"up_seconds\":%.3f,\"up_mbps\":%s,\"down_seconds\":%s,\"down_mbps\":%s,"
           "\"dget_seconds\":%s,\"dget_mbps\":%s,\"up_cpu_seconds\":%.3f,"
           "\"down_cpu_seconds\":%.3f,\"errors\":%d}\n",
           size, np, cfg.chunk, nchunks, cfg.window, up_s, up_r, down_t, down_r, dget_t, dget_r,
           cpu1 - cpu0, down_cpu, errors);
    fflush(stdout);

    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    free(buf);
    free(scratch);
    free(prs);
    if (src_fd >= 0)
        close(src_fd);
    return errors > 0 ? 1 : 0;
}
