/* config.c - the option table and its loaders (see config.h). */
#include "autoconfig.h"
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define OFF(f) offsetof(struct jg_config, f)
#define DAY_MS (24LL * 3600 * 1000)

const struct jg_option jg_options[] = {
    {"config", JG_OPT_STRING, OFF(config_file), NULL, 0, 0, "FILE",
     "config file (name = value lines); also -c", false, false},
    {"listen", JG_OPT_STRING, OFF(listen), "127.0.0.1:8080", 0, 0, "ADDR:PORT",
     "HTTP listen address ([::1]:8080 for IPv6)", false, false},
    {"listen_unix", JG_OPT_STRING, OFF(listen_unix), NULL, 0, 0, "PATH",
     "also serve plain HTTP on this Unix socket (access by file permissions)", false, false},
    {"listen_unix_mode", JG_OPT_STRING, OFF(listen_unix_mode), "0660", 0, 0, "MODE",
     "permissions of the listen_unix socket file (octal)", false, false},
    {"nats", JG_OPT_STRING, OFF(nats), "nats://127.0.0.1:4222", 0, 0, "URL[,URL...]",
     "NATS server URLs, comma-separated", false, false},
    {"nats_user", JG_OPT_STRING, OFF(nats_user), NULL, 0, 0, "USER", "NATS user name", false, false},
    {"nats_password", JG_OPT_STRING, OFF(nats_password), NULL, 0, 0, "PASSWORD",
     "NATS password", true, false},
    {"nats_token", JG_OPT_STRING, OFF(nats_token), NULL, 0, 0, "TOKEN", "NATS token", true, false},
    {"nats_creds", JG_OPT_STRING, OFF(nats_creds), NULL, 0, 0, "FILE",
     "NATS credentials file (JWT and nkey seed)", false, false},
    {"nats_nkey", JG_OPT_STRING, OFF(nats_nkey), NULL, 0, 0, "PUBKEY",
     "NATS nkey public key (with nats_nkey_seed)", false, false},
    {"nats_nkey_seed", JG_OPT_STRING, OFF(nats_nkey_seed), NULL, 0, 0, "FILE",
     "file holding the nkey seed", false, false},
    {"nats_tls", JG_OPT_BOOL, OFF(nats_tls), "false", 0, 0, "BOOL",
     "require TLS to NATS", false, false},
    {"nats_tls_ca", JG_OPT_STRING, OFF(nats_tls_ca), NULL, 0, 0, "FILE",
     "CA certificates for the NATS server", false, false},
    {"nats_tls_cert", JG_OPT_STRING, OFF(nats_tls_cert), NULL, 0, 0, "FILE",
     "client certificate for NATS", false, false},
    {"nats_tls_key", JG_OPT_STRING, OFF(nats_tls_key), NULL, 0, 0, "FILE",
     "client key for NATS", false, false},
    {"nats_reconnect_wait", JG_OPT_DURATION, OFF(nats_reconnect_wait_ms), "250ms", 10, 60000,
     "DURATION", "first reconnect delay; doubles up to 5s, forever", false, false},
    {"request_timeout", JG_OPT_DURATION, OFF(request_timeout_ms), "5s", 10, 600000,
     "DURATION", "how long to wait for NATS before 504 nats_timeout", false, true},
    {"shutdown_timeout", JG_OPT_DURATION, OFF(shutdown_timeout_ms), "10s", 0, 600000,
     "DURATION", "on SIGTERM, how long in-flight requests may finish", false, true},
    {"idle_timeout", JG_OPT_DURATION, OFF(idle_timeout_ms), "60s", 1000, DAY_MS,
     "DURATION", "close HTTP connections idle this long; also the most a request line may take",
     false, true},
    {"request_deadline", JG_OPT_DURATION, OFF(request_deadline_ms), "30s", 1000, DAY_MS,
     "DURATION", "a request's headers and body must arrive within this of its request line "
     "(slow clients are cut off)", false, true},
    {"min_upload_rate", JG_OPT_SIZE, OFF(min_upload_rate), "4KiB", 0, 1LL << 30, "SIZE",
     "an object upload whose body comes slower than this many bytes a second over "
     "upload_rate_window is cut off (0 = never)", false, true},
    {"upload_rate_window", JG_OPT_DURATION, OFF(upload_rate_window_ms), "30s", 1000, DAY_MS,
     "DURATION", "the time over which min_upload_rate is averaged (time jetgate waits for NATS "
     "does not count)", false, true},
    {"max_connections", JG_OPT_INT, OFF(max_connections), "4096", 1, 1000000, "N",
     "HTTP connections at once; more are closed at once", false, true},
    {"max_connections_per_ip", JG_OPT_INT, OFF(max_connections_per_ip), "0", 0, 1000000, "N",
     "HTTP connections per client address (0 = no limit)", false, false},
    {"max_header_size", JG_OPT_SIZE, OFF(max_header_size), "16KiB", 4096, 1 << 20, "SIZE",
     "request line (414 beyond) and headers (431 beyond)", false, false},
    {"max_kv_body", JG_OPT_SIZE, OFF(max_kv_body), "1MiB", 0, 64LL << 20, "SIZE",
     "KV value body (413 beyond)", false, true},
    {"max_json_body", JG_OPT_SIZE, OFF(max_json_body), "64KiB", 64, 16LL << 20, "SIZE",
     "JSON request body (413 beyond)", false, true},
    {"max_inflight", JG_OPT_INT, OFF(max_inflight), "65536", 1, 10000000, "N",
     "NATS requests in flight at once (429 beyond)", false, true},
    {"watch_keepalive", JG_OPT_DURATION, OFF(watch_keepalive_ms), "15s", 100, DAY_MS,
     "DURATION", "SSE keepalive comment interval", false, true},
    {"watch_progress", JG_OPT_DURATION, OFF(watch_progress_ms), NULL, 0, DAY_MS, "DURATION",
     "a watch stream that sent no event this long sends a progress event with the revision it "
     "is complete up to (0 = never; default: as watch_keepalive)", false, true},
    {"max_watchers", JG_OPT_INT, OFF(max_watchers), "10000", 1, 1000000, "N",
     "watch streams open at once (429 beyond)", false, true},
    {"max_watchers_per_ip", JG_OPT_INT, OFF(max_watchers_per_ip), "0", 0, 1000000, "N",
     "watch streams per client address (0 = no limit; 429 beyond)", false, true},
    {"max_watchers_per_token", JG_OPT_INT, OFF(max_watchers_per_token), "0", 0, 1000000, "N",
     "watch streams per bearer token (0 = no limit; 429 beyond)", false, true},
    {"watch_queue_bytes", JG_OPT_SIZE, OFF(watch_queue_bytes), "1MiB", 4096, 1LL << 30, "SIZE",
     "events queued for one slow watch client before it gets 'overflow'", false, true},
    {"max_wait", JG_OPT_DURATION, OFF(max_wait_ms), "5m", 1, DAY_MS, "DURATION",
     "longest 'wait' of a blocking read (400 beyond)", false, true},
    {"max_held_reads", JG_OPT_INT, OFF(max_held_reads), "10000", 1, 1000000, "N",
     "blocking reads held at once (429 beyond)", false, true},
    {"max_entries_reads", JG_OPT_INT, OFF(max_entries_reads), "64", 1, 100000, "N",
     "bulk reads of KV entries (/entries) at once (429 beyond)", false, true},
    {"max_entries_keys", JG_OPT_INT, OFF(max_entries_keys), "256", 1, 100000, "N",
     "keys one bulk read may name with key= (400 beyond)", false, true},
    {"entries_timeout", JG_OPT_DURATION, OFF(entries_timeout_ms), "5m", 1000, DAY_MS,
     "DURATION", "the longest a bulk read of KV entries may stream (cut off beyond)", false, true},
    {"log_level", JG_OPT_LEVEL, OFF(log_level), "info", 0, 0, "LEVEL",
     "error, warn, info or debug", false, true},
    {"obj_janitor_interval", JG_OPT_DURATION, OFF(obj_janitor_interval_ms), "10m", 0, DAY_MS,
     "DURATION", "how often orphan object chunks are looked for (0 = never)", false, true},
    {"obj_janitor_age", JG_OPT_DURATION, OFF(obj_janitor_age_ms), "1h", 0, 30 * DAY_MS,
     "DURATION", "orphan chunks younger than this are left alone (uploads in progress)", false, true},
    {"access_log", JG_OPT_BOOL, OFF(access_log), "false", 0, 0, "BOOL",
     "log one line per request (no query strings, no secrets)", false, true},
    {"tokens_file", JG_OPT_STRING, OFF(tokens_file), NULL, 0, 0, "FILE",
     "bearer tokens and their rules (see jetgate.conf(5)); none = open access", false, true},
    {"allow_open_access", JG_OPT_BOOL, OFF(allow_open_access), "false", 0, 0, "BOOL",
     "allow a listener that is not loopback without tokens", false, false},
    {"metrics_public", JG_OPT_BOOL, OFF(metrics_public), "false", 0, 0, "BOOL",
     "serve /metrics without a token when tokens are configured", false, true},
    {"ui", JG_OPT_BOOL, OFF(ui), "true", 0, 0, "BOOL",
     "serve the web console at /ui/ (public page; its API calls need a token)", false, true},
    {"cors_origins", JG_OPT_STRING, OFF(cors_origins), NULL, 0, 0, "ORIGIN[,ORIGIN...]",
     "browser origins allowed to call the API (CORS); '*' for any", false, false},
    {"tls_cert", JG_OPT_STRING, OFF(tls_cert), NULL, 0, 0, "FILE",
     "serve HTTPS with this PEM certificate chain (reloaded on SIGHUP)", false, true},
    {"tls_key", JG_OPT_STRING, OFF(tls_key), NULL, 0, 0, "FILE",
     "the PEM private key of tls_cert (reloaded on SIGHUP)", true, true},
    {"tls_client_ca", JG_OPT_STRING, OFF(tls_client_ca), NULL, 0, 0, "FILE",
     "require client certificates signed by these CAs (mutual TLS)", false, false},
    {"tls_priorities", JG_OPT_STRING, OFF(tls_priorities), 
     /* GnuTLS's defaults without TLS 1.1, 1.0 and SSL 3 */
     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", 0, 0,
     "PRIORITIES", "GnuTLS priority string for HTTPS: protocol versions and ciphers "
     "(the default allows TLS 1.2 and 1.3 only)", false, false},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL, false, false},
};

static const struct jg_option *find_option(const char *name)
{
    for (const struct jg_option *o = jg_options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static jg_status parse_bool(const char *v, bool *ret)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return JG_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return JG_OK;
        }
    }
    return JG_ERR_INVALID_CONFIG;
}

jg_status jg_config_set(struct jg_config *cfg, const char *name, const char *value, const char *where)
{
    const struct jg_option *o = find_option(name);
    void *field;
    int64_t n = 0;
    jg_status st = JG_OK;

    if (!o) {
        fprintf(stderr, "jetgate: %s: unknown option '%s'\n", where, name);
        return JG_ERR_INVALID_CONFIG;
    }
    field = (char *)cfg + o->offset;
    switch (o->type) {
    case JG_OPT_STRING:
    case JG_OPT_LEVEL: {
        if (o->type == JG_OPT_LEVEL) {
            enum jg_log_level lv;
            if (jg_log_level_parse(value, &lv) != JG_OK) {
                st = JG_ERR_INVALID_CONFIG;
                break;
            }
        }
        char *copy = strdup(value);
        if (!copy)
            return JG_ERR_NOMEM;
        free(*(char **)field);
        *(char **)field = copy;
        return JG_OK;
    }
    case JG_OPT_BOOL:
        st = parse_bool(value, (bool *)field);
        break;
    case JG_OPT_INT: {
        uint64_t u;
        st = jg_u64_parse(value, &u);
        n = (int64_t)u;
        if (st == JG_OK && u > INT64_MAX)
            st = JG_ERR_INVALID_CONFIG;
        break;
    }
    case JG_OPT_SIZE:
        st = jg_size_parse(value, &n);
        break;
    case JG_OPT_DURATION:
        st = jg_duration_parse(value, &n);
        /* a bare number in a config means seconds would be surprising:
         * require a unit unless it is 0 */
        if (st == JG_OK && strspn(value, "0123456789") == strlen(value) && n != 0)
            st = JG_ERR_INVALID_CONFIG;
        n /= 1000000;
        break;
    }
    if (st == JG_OK && o->type != JG_OPT_BOOL && (n < o->min || n > o->max)) {
        fprintf(stderr, "jetgate: %s: option '%s' out of range (%lld..%lld%s)\n", where, name,
                (long long)o->min, (long long)o->max, o->type == JG_OPT_DURATION ? " ms" : "");
        return JG_ERR_INVALID_CONFIG;
    }
    if (st != JG_OK) {
        fprintf(stderr, "jetgate: %s: bad value for option '%s'%s%s%s\n", where, name,
                o->secret ? "" : " ('", o->secret ? "" : value, o->secret ? "" : "')");
        return JG_ERR_INVALID_CONFIG;
    }
    if (o->type != JG_OPT_BOOL)
        *(int64_t *)field = n;
    return JG_OK;
}

jg_status jg_config_defaults(struct jg_config *cfg)
{
    for (const struct jg_option *o = jg_options; o->name; o++) {
        /* a number without a default is -1 until set (its help says what
         * that means) */
        if (!o->def && o->type != JG_OPT_STRING && o->type != JG_OPT_LEVEL &&
            o->type != JG_OPT_BOOL)
            *(int64_t *)((char *)cfg + o->offset) = -1;
        if (o->def && jg_config_set(cfg, o->name, o->def, "default") != JG_OK)
            return JG_ERR_INTERNAL;
    }
    return JG_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

jg_status jg_config_parse_file(struct jg_config *cfg, FILE *f, const char *path)
{
    char line[4096], where[1100];
    int lineno = 0;

    while (fgets(line, sizeof(line), f)) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "jetgate: %s: line too long\n", where);
            return JG_ERR_INVALID_CONFIG;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *sep = s + strcspn(s, "= \t");
        if (*sep == '\0') {
            fprintf(stderr, "jetgate: %s: expected 'name = value'\n", where);
            return JG_ERR_INVALID_CONFIG;
        }
        char *name_end = sep;
        sep += strspn(sep, " \t");
        if (*sep == '=')
            sep++;
        *name_end = '\0';
        char *value = trim(sep);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        if (strcmp(s, "config") == 0) {
            fprintf(stderr, "jetgate: %s: 'config' cannot be set in a config file\n", where);
            return JG_ERR_INVALID_CONFIG;
        }
        if (jg_config_set(cfg, s, value, where) != JG_OK)
            return JG_ERR_INVALID_CONFIG;
    }
    return JG_OK;
}

static void env_name(const char *opt, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "JETGATE_");
    for (const char *p = opt; *p && n + 1 < outlen; p++)
        out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static void flag_to_name(const char *flag, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = flag; *p && *p != '=' && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : *p;
    out[n] = '\0';
}

void jg_config_usage(FILE *out)
{
    fprintf(out, "Usage: jetgate [OPTION]...\n"
                 "HTTP/REST and Server-Sent Events gateway for NATS JetStream key-value\n"
                 "buckets and object stores.\n\n"
                 "Every option is also a config-file line 'name = value' and an environment\n"
                 "variable JETGATE_NAME; flags win over the environment, which wins over the file.\n\n");
    fprintf(out, "  -c, --config FILE\n      config file\n");
    for (const struct jg_option *o = jg_options; o->name; o++) {
        char flag[64];
        if (strcmp(o->name, "config") == 0)
            continue;
        size_t i = 0;
        for (const char *p = o->name; *p && i + 1 < sizeof(flag); p++)
            flag[i++] = *p == '_' ? '-' : *p;
        flag[i] = '\0';
        fprintf(out, "  --%s %s\n      %s", flag, o->arg, o->help);
        if (o->def)
            fprintf(out, " (default: %s)", o->def);
        fprintf(out, "\n");
    }
    fprintf(out, "  -h, --help\n      show this help\n  -V, --version\n      show the version\n");
}

/* The flags read before anything else. */
enum early_flag { EARLY_HELP, EARLY_VERSION, EARLY_CONFIG };
static const struct {
    const char *short_name, *long_name;
    enum early_flag what;
} early_flags[] = {
    {"-h", "--help", EARLY_HELP},
    {"-V", "--version", EARLY_VERSION},
    {"-c", "--config", EARLY_CONFIG},
};

/* Pass 1: --help and --version answer at once (*ret_exit 0); the config
 * file's name goes to *file. */
static jg_status early_pass(int argc, char **argv, const char **file, int *ret_exit)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0) {
            *file = argv[i] + 9;
            continue;
        }
        for (size_t k = 0; k < sizeof(early_flags) / sizeof(early_flags[0]); k++) {
            if (strcmp(argv[i], early_flags[k].short_name) != 0 &&
                strcmp(argv[i], early_flags[k].long_name) != 0)
                continue;
            switch (early_flags[k].what) {
            case EARLY_HELP:
                jg_config_usage(stdout);
                *ret_exit = 0;
                return JG_OK;
            case EARLY_VERSION:
                printf("jetgate %s (%s)\n", PACKAGE_VERSION, JG_BUILD_OPTIONS);
                *ret_exit = 0;
                return JG_OK;
            case EARLY_CONFIG:
                if (i + 1 >= argc) {
                    fprintf(stderr, "jetgate: %s needs a value\n", argv[i]);
                    return JG_ERR_INVALID_CONFIG;
                }
                *file = argv[++i];
                break;
            }
            break;
        }
    }
    return JG_OK;
}

static jg_status load_file(struct jg_config *cfg, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "jetgate: cannot open config file '%s': %s\n", file, strerror(errno));
        return JG_ERR_INVALID_CONFIG;
    }
    jg_status st = jg_config_parse_file(cfg, f, file);
    fclose(f);
    if (st != JG_OK)
        return st;
    return jg_config_set(cfg, "config", file, "argv") == JG_OK ? JG_OK : JG_ERR_INVALID_CONFIG;
}

/* JETGATE_<OPTION> for every option but config. */
static jg_status load_env(struct jg_config *cfg)
{
    char envn[160];
    for (const struct jg_option *o = jg_options; o->name; o++) {
        if (strcmp(o->name, "config") == 0)
            continue;
        env_name(o->name, envn, sizeof(envn));
        const char *v = getenv(envn);
        if (v && jg_config_set(cfg, o->name, v, envn) != JG_OK)
            return JG_ERR_INVALID_CONFIG;
    }
    return JG_OK;
}

/* The value of flag argv[*i] of option o: after '=', "true" for a bare
 * boolean flag, else the next argument (*i moves past it); NULL when
 * missing. */
static const char *flag_value(const struct jg_option *o, int argc, char **argv, int *i)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq)
        return eq + 1;
    if (o->type == JG_OPT_BOOL && (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0))
        return "true";
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* Pass 2: --<option>[=value] flags (the config file was pass 1's). */
static jg_status load_flags(struct jg_config *cfg, int argc, char **argv)
{
    char name[128];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "jetgate: unexpected argument '%s' (see --help)\n", a);
            return JG_ERR_INVALID_CONFIG;
        }
        flag_to_name(a + 2, name, sizeof(name));
        const struct jg_option *o = find_option(name);
        if (!o) {
            fprintf(stderr, "jetgate: unknown flag '%s' (see --help)\n", a);
            return JG_ERR_INVALID_CONFIG;
        }
        const char *v = flag_value(o, argc, argv, &i);
        if (!v) {
            fprintf(stderr, "jetgate: %s needs a value\n", a);
            return JG_ERR_INVALID_CONFIG;
        }
        if (strcmp(name, "config") != 0 && jg_config_set(cfg, name, v, a) != JG_OK)
            return JG_ERR_INVALID_CONFIG;
    }
    return JG_OK;
}

jg_status jg_config_load(struct jg_config *cfg, int argc, char **argv, int *ret_exit)
{
    const char *file = getenv("JETGATE_CONFIG");
    jg_status st;
    *ret_exit = -1;

    st = early_pass(argc, argv, &file, ret_exit);
    if (st != JG_OK || *ret_exit >= 0)
        return st;
    if (jg_config_defaults(cfg) != JG_OK)
        return JG_ERR_INVALID_CONFIG;
    if (file && *file && (st = load_file(cfg, file)) != JG_OK)
        return st;
    if ((st = load_env(cfg)) != JG_OK)
        return st;
    return load_flags(cfg, argc, argv);
}

void jg_config_free(struct jg_config *cfg)
{
    if (!cfg)
        return;
    for (const struct jg_option *o = jg_options; o->name; o++) {
        if (o->type == JG_OPT_STRING || o->type == JG_OPT_LEVEL) {
            char **p = (char **)((char *)cfg + o->offset);
            free(*p);
        }
    }
    memset(cfg, 0, sizeof(*cfg));
}

static bool option_equal(const struct jg_option *o, const struct jg_config *a,
                         const struct jg_config *b)
{
    const void *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
    switch (o->type) {
    case JG_OPT_STRING:
    case JG_OPT_LEVEL: {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
        return (!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0);
    }
    case JG_OPT_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    default:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    }
}

int jg_config_apply_reload(struct jg_config *cfg, const struct jg_config *next)
{
    int changed = 0;
    for (const struct jg_option *o = jg_options; o->name; o++) {
        if (strcmp(o->name, "config") == 0 || option_equal(o, cfg, next))
            continue;
        if (!o->reload) {
            jg_warn("reload: option '%s' changed but needs a restart; keeping the old value",
                    o->name);
            continue;
        }
        void *dst = (char *)cfg + o->offset;
        const void *src = (const char *)next + o->offset;
        switch (o->type) {
        case JG_OPT_STRING:
        case JG_OPT_LEVEL: {
            /* only main() reads string options after start-up; NULL is an
             * option removed from the file (unset again) */
            const char *val = *(char *const *)src;
            char *copy = val ? strdup(val) : NULL;
            if (val && !copy)
                continue;
            free(*(char **)dst);
            *(char **)dst = copy;
            break;
        }
        case JG_OPT_BOOL:
            *(bool *)dst = *(const bool *)src;
            break;
        default:
            __atomic_store_n((int64_t *)dst, *(const int64_t *)src, __ATOMIC_RELAXED);
            break;
        }
        jg_info("reload: option '%s' changed", o->name);
        changed++;
    }
    return changed;
}
