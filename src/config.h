/* config.h - jetgate's options: one table is the single source of truth for
 * names, types, defaults, bounds and help.  Values come from, in increasing
 * precedence: built-in defaults, the config file, JETGATE_* environment
 * variables, command-line flags.  A bad value stops start-up with the file
 * and line (or the variable or flag) that holds it. */
#ifndef JG_CONFIG_H
#define JG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

struct jg_config {
    char *config_file;
    char *listen;
    char *listen_unix;
    char *listen_unix_mode;
    char *nats;
    char *nats_user;
    char *nats_password;
    char *nats_token;
    char *nats_creds;
    char *nats_nkey;
    char *nats_nkey_seed;
    bool nats_tls;
    char *nats_tls_ca;
    char *nats_tls_cert;
    char *nats_tls_key;
    int64_t nats_reconnect_wait_ms;
    int64_t request_timeout_ms;
    int64_t shutdown_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t request_deadline_ms;
    int64_t min_upload_rate;
    int64_t upload_rate_window_ms;
    int64_t max_connections;
    int64_t max_connections_per_ip;
    int64_t max_header_size;
    int64_t max_kv_body;
    int64_t max_json_body;
    int64_t max_inflight;
    int64_t watch_keepalive_ms;
    int64_t watch_progress_ms;   /* -1: as watch_keepalive_ms; 0: none */
    int64_t max_watchers;
    int64_t max_wait_ms;
    int64_t max_held_reads;
    int64_t max_entries_reads;
    int64_t max_entries_keys;
    int64_t entries_timeout_ms;
    int64_t max_watchers_per_ip;
    int64_t max_watchers_per_token;
    int64_t watch_queue_bytes;
    char *log_level;
    int64_t obj_janitor_interval_ms;
    int64_t obj_janitor_age_ms;
    bool access_log;
    char *tokens_file;
    bool allow_open_access;
    bool metrics_public;
    bool ui;
    char *cors_origins;
    char *tls_cert;
    char *tls_key;
    char *tls_client_ca;
    char *tls_priorities;
};

enum jg_opt_type { JG_OPT_STRING, JG_OPT_BOOL, JG_OPT_INT, JG_OPT_SIZE, JG_OPT_DURATION, JG_OPT_LEVEL };

struct jg_option {
    const char *name;       /* config-file name; flag is --name-with-dashes */
    enum jg_opt_type type;
    size_t offset;          /* into struct jg_config */
    const char *def;        /* default, as text; NULL = unset */
    int64_t min, max;       /* bounds for INT/SIZE/DURATION (ms for durations) */
    const char *arg;        /* placeholder in --help */
    const char *help;
    bool secret;            /* never printed */
    bool reload;            /* SIGHUP applies a new value without a restart */
};

/* The option table, terminated by a row with name == NULL. */
extern const struct jg_option jg_options[];

/* Loads defaults, then the file (from -c/--config, else JETGATE_CONFIG),
 * then the environment, then argv.  Handles --help and --version itself
 * (*ret_exit set to 0, nothing else done).  On error prints the reason to
 * stderr and returns JG_ERR_INVALID_CONFIG.  cfg must be zeroed or freshly
 * freed; free with jg_config_free(). */
jg_status jg_config_load(struct jg_config *cfg, int argc, char **argv, int *ret_exit);

/* Parses one config file into cfg (used by jg_config_load and unit tests). */
jg_status jg_config_parse_file(struct jg_config *cfg, FILE *f, const char *path);

/* Sets one option from text; where names the source for error messages. */
jg_status jg_config_set(struct jg_config *cfg, const char *name, const char *value, const char *where);

/* Applies all defaults. */
jg_status jg_config_defaults(struct jg_config *cfg);

/* Copies the reloadable options of next into cfg (numbers are stored in one
 * aligned write each, so concurrent readers see the old or the new value)
 * and reports every other option that differs, which needs a restart.
 * Returns how many options changed. */
int jg_config_apply_reload(struct jg_config *cfg, const struct jg_config *next);

/* Frees every string in cfg; NULL-safe; cfg is zeroed afterwards. */
void jg_config_free(struct jg_config *cfg);

/* Prints --help text generated from the table. */
void jg_config_usage(FILE *out);

#endif
