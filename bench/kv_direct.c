/*
 * kv_direct: baseline for the jetgate KV benchmark.
 *
 * Talks to NATS JetStream KV directly with libnats, the way an application
 * that does not go through jetgate would. Every thread owns its own
 * natsConnection, jsCtx and kvStore handle and loops kvStore_Get or
 * kvStore_Put on random keys k0..k(N-1) until the duration ends.
 *
 * Output: one line of JSON on stdout, e.g.
 *   {"op":"get","threads":64,"ops":N,"seconds":S,"rate":R,
 *    "p50_ms":..,"p99_ms":..,"cpu_seconds":C,"errors":0}
 *
 * cpu_seconds is this process's user+sys CPU (getrusage) spent between the
 * moment all threads are connected and the moment the last one stops, so
 * connection set-up and teardown are not charged to the measured work.
 * Latency percentiles come from a log-linear histogram (about 3% resolution).
 *
 * Exit status: 0 on success; 1 if any NATS call failed (the message of the
 * first failure is printed on stderr); 2 on bad arguments.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nats/nats.h>

/* ---- histogram (nanoseconds, log-linear, 32 sub-buckets per power of 2) - */

#define SUB_BITS 5
#define SUB_COUNT (1 << SUB_BITS)
#define MAX_MSB 42 /* ~73 minutes; larger values are clamped */
#define HIST_SIZE ((MAX_MSB - SUB_BITS + 2) * SUB_COUNT)

typedef struct {
    uint64_t counts[HIST_SIZE];
    uint64_t total;
} histogram;

static int hist_index(uint64_t v)
{
    if (v < SUB_COUNT)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    if (msb > MAX_MSB)
        return HIST_SIZE - 1;
    int shift = msb - SUB_BITS;
    uint64_t top = v >> shift; /* in [SUB_COUNT, 2*SUB_COUNT) */
    return (shift + 1) * SUB_COUNT + (int)(top - SUB_COUNT);
}

/* Midpoint of the values that fall in bucket idx. */
static double hist_value(int idx)
{
    if (idx < SUB_COUNT)
        return (double)idx;
    int shift = idx / SUB_COUNT - 1;
    uint64_t top = (uint64_t)(idx % SUB_COUNT) + SUB_COUNT;
    double lo = (double)(top << shift);
    double width = (double)(UINT64_C(1) << shift);
    return lo + (width - 1.0) / 2.0;
}

static void hist_record(histogram *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    h->total++;
}

static void hist_merge(histogram *dst, const histogram *src)
{
    for (int i = 0; i < HIST_SIZE; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
}

/* Value (ns) at quantile q in [0,1]: the smallest bucket whose cumulative
 * count reaches ceil(q * total). */
static double hist_quantile(const histogram *h, double q)
{
    if (h->total == 0)
        return 0.0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (int i = 0; i < HIST_SIZE; i++) {
        cum += h->counts[i];
        if (cum >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_SIZE - 1);
}

/* ---- configuration ------------------------------------------------------ */

typedef enum { OP_GET, OP_PUT } op_kind;

static struct {
    const char *url;
    const char *bucket;
    op_kind op;
    int threads;
    double duration;
    int keys;
    int value_size;
    bool create;
    bool preload;
    int64_t timeout_ms;
} cfg = {
    .url = "nats://127.0.0.1:4222",
    .bucket = "bench",
    .op = OP_GET,
    .threads = 1,
    .duration = 10.0,
    .keys = 1000,
    .value_size = 100,
    .create = false,
    .preload = false,
    .timeout_ms = 5000,
};

static char **key_names;
static char *value_buf;

/* ---- failure reporting -------------------------------------------------- */

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];
static atomic_uint_fast64_t error_count;
static atomic_bool stop_now;

#define MAX_ERRORS 1000 /* stop the run early past this many failed ops */

static void note_error(const char *what, natsStatus s)
{
    uint64_t n = atomic_fetch_add(&error_count, 1) + 1;
    pthread_mutex_lock(&err_mu);
    if (first_error[0] == '\0') {
        const char *last = nats_GetLastError(NULL);
        snprintf(first_error, sizeof(first_error), "%s: %s%s%s", what,
                 natsStatus_GetText(s), (last && *last) ? ": " : "",
                 (last && *last) ? last : "");
    }
    pthread_mutex_unlock(&err_mu);
    if (n >= MAX_ERRORS)
        atomic_store(&stop_now, true);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kv_direct: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void die_status(const char *what, natsStatus s)
{
    const char *last = nats_GetLastError(NULL);
    die("%s failed: %s%s%s", what, natsStatus_GetText(s),
        (last && *last) ? ": " : "", (last && *last) ? last : "");
}

#define CHECK(call)                              \
    do {                                         \
        natsStatus s_ = (call);                  \
        if (s_ != NATS_OK)                       \
            die_status(#call, s_);               \
    } while (0)

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

/* ---- connection set-up -------------------------------------------------- */

typedef struct {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
} client;

static void client_open(client *c, bool allow_create)
{
    natsOptions *opts = NULL;
    jsOptions jo;

    memset(c, 0, sizeof(*c));
    CHECK(natsOptions_Create(&opts));
    CHECK(natsOptions_SetURL(opts, cfg.url));
    /* Without this libnats hands every request to a flusher thread that
     * waits about 1 ms, which caps one connection at ~1000 sequential
     * requests a second. */
    CHECK(natsOptions_SetSendAsap(opts, true));
    CHECK(natsOptions_SetTimeout(opts, cfg.timeout_ms));
    CHECK(natsOptions_SetName(opts, "jetgate-bench-kv_direct"));
    CHECK(natsConnection_Connect(&c->nc, opts));
    natsOptions_Destroy(opts);

    CHECK(jsOptions_Init(&jo));
    jo.Wait = cfg.timeout_ms;
    CHECK(natsConnection_JetStream(&c->js, c->nc, &jo));

    natsStatus s = js_KeyValue(&c->kv, c->js, cfg.bucket);
    if (s == NATS_NOT_FOUND && allow_create) {
        kvConfig kc;
        CHECK(kvConfig_Init(&kc));
        kc.Bucket = cfg.bucket;
        kc.History = 1;
        s = js_CreateKeyValue(&c->kv, c->js, &kc);
        if (s != NATS_OK)
            die_status("js_CreateKeyValue", s);
        fprintf(stderr, "kv_direct: created bucket %s (history 1)\n", cfg.bucket);
    } else if (s == NATS_NOT_FOUND) {
        die("bucket %s does not exist (use --create to create it)", cfg.bucket);
    } else if (s != NATS_OK) {
        die_status("js_KeyValue", s);
    }
}

static void client_close(client *c)
{
    kvStore_Destroy(c->kv);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
}

/* ---- worker threads ----------------------------------------------------- */

typedef struct {
    int id;
    client cl;
    histogram hist;
    uint64_t ops;
    uint64_t last_end_ns;
    pthread_t tid;
} worker;

static pthread_barrier_t ready_barrier, go_barrier;
static uint64_t deadline_ns; /* written before go_barrier, read after it */

static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(w->id + 1) * 0xBF58476D1CE4E5B9ull);
    uint64_t ops = 0, t_end = 0;

    client_open(&w->cl, false);
    pthread_barrier_wait(&ready_barrier);
    pthread_barrier_wait(&go_barrier);

    const uint64_t deadline = deadline_ns;
    uint64_t t0 = now_ns();
    while (t0 < deadline && !atomic_load_explicit(&stop_now, memory_order_relaxed)) {
        const char *key = key_names[xorshift64(&rng) % (uint64_t)cfg.keys];
        natsStatus s;
        if (cfg.op == OP_GET) {
            kvEntry *e = NULL;
            s = kvStore_Get(&e, w->cl.kv, key);
            if (s == NATS_OK)
                kvEntry_Destroy(e);
            else
                note_error(s == NATS_NOT_FOUND ? "kvStore_Get (key missing: run with --preload)"
                                               : "kvStore_Get", s);
        } else {
            uint64_t rev = 0;
            s = kvStore_Put(&rev, w->cl.kv, key, value_buf, cfg.value_size);
            if (s != NATS_OK)
                note_error("kvStore_Put", s);
        }
        t_end = now_ns();
        if (s == NATS_OK) {
            hist_record(&w->hist, t_end - t0);
            ops++;
        }
        t0 = t_end;
    }
    w->ops = ops;
    w->last_end_ns = t_end;
    return NULL;
}

/* ---- argument parsing --------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kv_direct [--url nats://127.0.0.1:4222] [--bucket bench] [--op get|put]\n"
            "                 [--threads N] [--duration SECONDS] [--keys 1000] [--value-size 100]\n"
            "                 [--timeout-ms 5000] [--create] [--preload] [--version]\n"
            "\n"
            "  --create    create the bucket (history 1) if it does not exist\n"
            "  --preload   write every key k0..k(keys-1) once before the timed run\n"
            "\n"
            "Prints one JSON line: op, threads, ops, seconds, rate, p50_ms, p99_ms,\n"
            "cpu_seconds (this process, user+sys, during the timed run), errors.\n");
}

static long parse_long(const char *name, const char *v, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "kv_direct: --%s must be an integer in [%ld, %ld], got '%s'\n", name, lo,
                hi, v);
        exit(2);
    }
    return x;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"bucket", required_argument, NULL, 'b'},
        {"op", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},
        {"keys", required_argument, NULL, 'k'},
        {"value-size", required_argument, NULL, 'v'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"create", no_argument, NULL, 'c'},
        {"preload", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': cfg.url = optarg; break;
        case 'b': cfg.bucket = optarg; break;
        case 'o':
            if (strcmp(optarg, "get") == 0)
                cfg.op = OP_GET;
            else if (strcmp(optarg, "put") == 0)
                cfg.op = OP_PUT;
            else {
                fprintf(stderr, "kv_direct: --op must be get or put, got '%s'\n", optarg);
                exit(2);
            }
            break;
        case 't': cfg.threads = (int)parse_long("threads", optarg, 1, 4096); break;
        case 'd': {
            char *end = NULL;
            errno = 0;
            cfg.duration = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(cfg.duration > 0) ||
                cfg.duration > 86400) {
                fprintf(stderr, "kv_direct: --duration must be a number of seconds > 0\n");
                exit(2);
            }
            break;
        }
        case 'k': cfg.keys = (int)parse_long("keys", optarg, 1, 100000000); break;
        case 'v': cfg.value_size = (int)parse_long("value-size", optarg, 0, 64 * 1024 * 1024); break;
        case 'T': cfg.timeout_ms = parse_long("timeout-ms", optarg, 1, 3600000); break;
        case 'c': cfg.create = true; break;
        case 'p': cfg.preload = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("kv_direct (libnats %s)\n", nats_GetVersion()); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "kv_direct: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    key_names = calloc((size_t)cfg.keys, sizeof(*key_names));
    value_buf = malloc((size_t)cfg.value_size + 1);
    if (key_names == NULL || value_buf == NULL)
        die("out of memory");
    for (int i = 0; i < cfg.keys; i++) {
        if (asprintf(&key_names[i], "k%d", i) < 0)
            die("out of memory");
    }
    for (int i = 0; i < cfg.value_size; i++)
        value_buf[i] = (char)('a' + i % 26);
    value_buf[cfg.value_size] = '\0';

    CHECK(nats_Open(-1));

    /* Set-up connection: binds (or creates) the bucket and preloads keys, and
     * fails early with a clear message before any worker starts. */
    {
        client setup;
        client_open(&setup, cfg.create);
        if (cfg.preload) {
            for (int i = 0; i < cfg.keys; i++) {
                uint64_t rev = 0;
                natsStatus s = kvStore_Put(&rev, setup.kv, key_names[i], value_buf, cfg.value_size);
                if (s != NATS_OK)
                    die_status("kvStore_Put (preload)", s);
            }
        }
        client_close(&setup);
    }

    worker *workers = calloc((size_t)cfg.threads, sizeof(*workers));
    if (workers == NULL)
        die("out of memory");
    if (pthread_barrier_init(&ready_barrier, NULL, (unsigned)cfg.threads + 1) != 0 ||
        pthread_barrier_init(&go_barrier, NULL, (unsigned)cfg.threads + 1) != 0)
        die("pthread_barrier_init failed");

    for (int i = 0; i < cfg.threads; i++) {
        workers[i].id = i;
        int rc = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
        if (rc != 0)
            die("pthread_create: %s", strerror(rc));
    }

    pthread_barrier_wait(&ready_barrier); /* every thread is connected */
    double cpu0 = cpu_seconds_now();
    uint64_t start = now_ns();
    deadline_ns = start + (uint64_t)(cfg.duration * 1e9);
    pthread_barrier_wait(&go_barrier);

    for (int i = 0; i < cfg.threads; i++) {
        int rc = pthread_join(workers[i].tid, NULL);
        if (rc != 0)
            die("pthread_join: %s", strerror(rc));
    }
    double cpu1 = cpu_seconds_now();

    histogram *all = calloc(1, sizeof(*all));
    if (all == NULL)
        die("out of memory");
    uint64_t ops = 0, end = start;
    for (int i = 0; i < cfg.threads; i++) {
        hist_merge(all, &workers[i].hist);
        ops += workers[i].ops;
        if (workers[i].last_end_ns > end)
            end = workers[i].last_end_ns;
    }
    double seconds = (double)(end - start) / 1e9;
    double rate = seconds > 0 ? (double)ops / seconds : 0.0;
    uint64_t errors = atomic_load(&error_count);

    printf("{\"op\":\"%s\",\"threads\":%d,\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%.1f,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_seconds\":%.3f,\"errors\":%" PRIu64 "}\n",
           cfg.op == OP_GET ? "get" : "put", cfg.threads, ops, seconds, rate,
           hist_quantile(all, 0.50) / 1e6, hist_quantile(all, 0.99) / 1e6, cpu1 - cpu0, errors);
    fflush(stdout);

    for (int i = 0; i < cfg.threads; i++)
        client_close(&workers[i].cl);
    pthread_barrier_destroy(&ready_barrier);
    pthread_barrier_destroy(&go_barrier);
    free(all);
    free(workers);
    for (int i = 0; i < cfg.keys; i++)
        free(key_names[i]);
    free(key_names);
    free(value_buf);
    nats_Close();

    if (errors > 0) {
        fprintf(stderr, "kv_direct: %" PRIu64 " operations failed; first: %s\n", errors,
                first_error);
        return 1;
    }
    return 0;
}
