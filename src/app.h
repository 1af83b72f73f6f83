/* app.h - the process-wide objects every layer reaches: configuration,
 * NATS connection, bucket cache, watch engine and HTTP server.  One instance lives in
 * main.c; handlers get it through their request. */
#ifndef JG_APP_H
#define JG_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"

struct jg_nats;
struct jg_buckets;
struct jg_http;
struct jg_auth;
struct jg_watch_engine;

struct jg_app {
    struct jg_config cfg;
    struct jg_nats *nats;
    struct jg_buckets *buckets;
    struct jg_http *http;
    struct jg_watch_engine *watch; /* the watch engine (src/watch/) */
    atomic_bool shutting_down;
    int64_t started_ns;
    /* the token set in force; replaced on reload (auth_lock) */
    pthread_mutex_t auth_lock;
    struct jg_auth *auth;
    /* SIGHUP reloads refused (configuration or tokens kept) */
    atomic_uint_fast64_t reload_failures;
};

#endif
