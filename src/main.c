/* main.c - start-up and shutdown: arguments -> config -> log -> NATS ->
 * HTTP; then wait for signals; on SIGTERM/SIGINT stop in reverse order. */
#include "autoconfig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "app.h"
#include "auth.h"
#include "config.h"
#include "http/router.h"
#include "http/server.h"
#include "http/tls.h"
#include "log.h"
#include "loop.h"
#include "nats/buckets.h"
#include "nats/js.h"
#include "obj/janitor.h"
#include "watch/watch.h"
#include "nats/conn.h"
#include "util.h"

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void on_reconnect(void *ctx)
{
    struct jg_app *app = ctx;
    jg_buckets_clear(app->buckets);
}

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* Is the listen address loopback only? */
static bool listen_is_loopback(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
           strncmp(listen, "localhost:", 10) == 0;
}

/* Puts a into force in place of app->auth (takes a's reference). */
static void install_tokens(struct jg_app *app, struct jg_auth *a)
{
    struct jg_auth *old;
    pthread_mutex_lock(&app->auth_lock);
    old = app->auth;
    app->auth = a;
    pthread_mutex_unlock(&app->auth_lock);
    jg_auth_unref(old);
    if (jg_auth_count(a))
        jg_info("auth: %zu token(s) loaded", jg_auth_count(a));
}

/* Would a listener on cfg->listen serve anyone without tokens?  Logs why
 * when it would and the configuration does not allow it. */
static bool open_access_refused(const struct jg_config *cfg, const struct jg_auth *a)
{
    if (jg_auth_count(a) > 0 || listen_is_loopback(cfg->listen) || cfg->allow_open_access)
        return false;
    jg_err("refusing to listen on %s without tokens: set tokens_file, or "
           "allow_open_access = true to serve anyone who can connect",
           cfg->listen);
    return true;
}

/* `jetgate --hash-token`: reads a token from standard input and prints the
 * secret-hash field of a tokens_file line for it. */
static int hash_token(void)
{
    char line[1024];
    if (!fgets(line, sizeof(line), stdin)) {
        fprintf(stderr, "jetgate: --hash-token reads the token from standard input\n");
        return 2;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *h = jg_auth_hash_token(line);
    explicit_bzero(line, sizeof(line));
    if (!h)
        return 1;
    printf("%s\n", h);
    free(h);
    return 0;
}

/* SIGHUP: read the configuration again (same file, environment and
 * flags) and apply what can change while running.  The reload is all or
 * nothing: a configuration with errors, a tokens file that cannot be read
 * or parsed, or one that would leave a listener that is not loopback
 * without tokens keeps everything in force, and is counted. */
static void reload(struct jg_app *app, int argc, char **argv)
{
    struct jg_config next = {0};
    struct jg_auth *tokens = NULL;
    int exit_code;
    enum jg_log_level level;

    notify("RELOADING=1");
    if (jg_config_load(&next, argc, argv, &exit_code) != JG_OK) {
        jg_err("reload: configuration has errors; keeping the running one");
        goto refused;
    }
    if (jg_auth_load(next.tokens_file, &tokens) != JG_OK) {
        jg_err("reload: tokens file '%s' cannot be read or has errors; keeping the running "
               "configuration and tokens", next.tokens_file ? next.tokens_file : "");
        goto refused;
    }
    /* listen and allow_open_access need a restart: the running ones count */
    if (open_access_refused(&app->cfg, tokens)) {
        jg_err("reload: the new tokens file has no tokens; keeping the running configuration "
               "and tokens");
        goto refused;
    }
    int n = jg_config_apply_reload(&app->cfg, &next);
    install_tokens(app, tokens);
    tokens = NULL;
    if (app->cfg.tls_cert && app->cfg.tls_key &&
        jg_tls_load(app->cfg.tls_cert, app->cfg.tls_key) == JG_OK)
        jg_info("reload: TLS certificate loaded from '%s'", app->cfg.tls_cert);
    if (jg_log_level_parse(app->cfg.log_level, &level) == JG_OK)
        jg_log_set_level(level);
    jg_info("reload: done, %d option(s) changed", n);
    goto out;
refused:
    atomic_fetch_add(&app->reload_failures, 1);
out:
    jg_auth_unref(tokens);
    jg_config_free(&next);
    notify("READY=1");
}

/* Waits for in-flight requests to finish, at most the shutdown timeout. */
static void drain_requests(struct jg_app *app)
{
    int64_t deadline = jg_now_ms() + app->cfg.shutdown_timeout_ms;
    while (jg_http_active(app->http) > 0 && jg_now_ms() < deadline)
        usleep(20000);
    if (jg_http_active(app->http) > 0)
        jg_warn("shutdown: %lld request(s) still waiting for NATS; failing them",
                (long long)jg_http_active(app->http));
}

static int dump_routes(void)
{
    jg_routes_dump(stdout);
    return 0;
}

/* Commands that run instead of the daemon, as the only argument. */
static const struct {
    const char *flag;
    int (*run)(void);
} commands[] = {
    {"--hash-token", hash_token},
    {"--dump-routes", dump_routes},
};

/* Signals are taken synchronously by the main thread only. */
static void block_signals(sigset_t *sigs)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGTERM);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Tokens, event loop, NATS, bucket cache, watch engine, HTTP, janitor, in
 * that order; false when one of them cannot start (what started is in app,
 * *loop and *janitor for stop()). */
static bool start(struct jg_app *app, struct jg_loop **loop, struct jg_janitor **janitor)
{
    struct jg_auth *tokens = NULL;
    if (jg_auth_load(app->cfg.tokens_file, &tokens) != JG_OK)
        return false;
    install_tokens(app, tokens);
    if (open_access_refused(&app->cfg, app->auth))
        return false;
    if (jg_auth_count(app->auth) == 0 && !listen_is_loopback(app->cfg.listen))
        jg_warn("open access on %s: anyone who can connect may read and change every bucket",
                app->cfg.listen);
    if (jg_loop_new(loop) != JG_OK || jg_nats_new(&app->cfg, *loop, &app->nats) != JG_OK ||
        jg_buckets_new(app->nats, &app->cfg.request_timeout_ms, &app->buckets) != JG_OK)
        return false;
    jg_nats_on_reconnect(app->nats, on_reconnect, app);
    if (jg_watch_engine_new(&app->cfg, app->nats, &app->shutting_down, &app->watch) != JG_OK)
        return false;
    return jg_http_start(app, *loop, &app->http) == JG_OK && jg_loop_start(*loop) == JG_OK &&
           jg_janitor_start(app, janitor) == JG_OK;
}

/* Until SIGTERM or SIGINT: SIGHUP reloads; with a systemd watchdog, pings
 * it at half its interval while the loop thread answers. */
static void serve(struct jg_app *app, const sigset_t *sigs, int argc, char **argv)
{
    uint64_t watchdog_us = 0;
#ifdef HAVE_SYSTEMD
    if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
        watchdog_us = 0;
#endif
    for (;;) {
        struct timespec wait = {3600, 0};
        if (watchdog_us) {
            wait.tv_sec = (time_t)(watchdog_us / 2 / 1000000);
            wait.tv_nsec = (long)(watchdog_us / 2 % 1000000) * 1000;
        }
        int sig = sigtimedwait(sigs, NULL, &wait);
        if (sig < 0) {
            /* timeout: tell the watchdog the loop thread is alive */
            if (watchdog_us && jg_http_alive(app->http))
                notify("WATCHDOG=1");
            continue;
        }
        if (sig == SIGHUP) {
            jg_info("SIGHUP: reloading the configuration");
            reload(app, argc, argv);
            continue;
        }
        jg_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

/* The orderly end of serving: no new requests, event streams ended, the
 * running requests drained. */
static void quiesce(struct jg_app *app)
{
    notify("STOPPING=1");
    atomic_store(&app->shutting_down, true);
    jg_http_quiesce(app->http);
    jg_http_end_streams(app->http);
    drain_requests(app);
    jg_watch_shutdown(app->watch);
}

/* Stops and frees what start() started (any part may be missing). */
static void stop(struct jg_app *app, struct jg_loop *loop, struct jg_janitor *janitor)
{
    jg_janitor_stop(janitor);
    jg_buckets_stop(app->buckets);
    jg_watch_shutdown(app->watch);
    /* NATS first: failing its pending requests resumes every suspended
     * connection, which libmicrohttpd requires before it stops; the loop
     * runs until then to carry the replies and the flush. */
    jg_nats_shutdown(app->nats);
    jg_buckets_free(app->buckets);
    jg_loop_stop(loop);
    jg_http_stop(app->http);
    jg_nats_free(app->nats);
    jg_loop_free(loop);
    jg_auth_unref(app->auth);
    jg_config_free(&app->cfg);
}

int main(int argc, char **argv)
{
    static struct jg_app app;
    struct jg_loop *loop = NULL;
    struct jg_janitor *janitor = NULL;
    sigset_t sigs;
    int exit_code = -1, rc = 1;
    enum jg_log_level level;

    for (size_t i = 0; argc == 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].flag) == 0)
            return commands[i].run();
    pthread_mutex_init(&app.auth_lock, NULL);
    if (jg_config_load(&app.cfg, argc, argv, &exit_code) != JG_OK || exit_code >= 0) {
        jg_config_free(&app.cfg);
        return exit_code >= 0 ? exit_code : 2;
    }
    jg_log_level_parse(app.cfg.log_level, &level);
    jg_log_set_level(level);
    block_signals(&sigs);
    raise_fd_limit();
    app.started_ns = jg_realtime_ns();

    jg_info("jetgate %s starting (NATS %s, listen %s)", PACKAGE_VERSION, app.cfg.nats,
            app.cfg.listen);
    if (start(&app, &loop, &janitor)) {
        notify("READY=1");
        serve(&app, &sigs, argc, argv);
        quiesce(&app);
        rc = 0;
    }
    stop(&app, loop, janitor);
    if (rc == 0)
        jg_info("stopped");
    nats_CloseAndWait(2000); /* the library's threads end before exit */
    jg_watch_engine_free(app.watch); /* no feed callback can run any more */
    return rc;
}
