/* limits.c - connection accounting and limits: one clock per connection
 * (idle, request and linger deadlines, the upload rate floor), the count
 * of open connections against max_connections, and the reaper thread that
 * cuts connections over their limits.  Clocks are kept in libmicrohttpd's
 * socket context and guarded by the server's clock_lock. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

static struct conn_clock *clock_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The body of a streamed upload starts to flow (any thread). */
void jg_http_upload_clock_start(struct jg_http *h, struct MHD_Connection *conn)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    c->mode = CLOCK_UPLOAD;
    c->since_ms = jg_now_ms();
    c->up_bytes = 0;
    c->up_paused_ms = 0;
    c->up_pause_since = 0;
    pthread_mutex_unlock(&h->clock_lock);
}

/* n more bytes of an upload's body came in (loop thread). */
void jg_http_upload_clock_add(struct jg_http *h, struct MHD_Connection *conn, size_t n)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    if (c->mode == CLOCK_UPLOAD)
        c->up_bytes += n;
    pthread_mutex_unlock(&h->clock_lock);
}

/* jetgate paused the upload, or let it go on (any thread). */
void jg_http_upload_clock_pause(struct jg_http *h, struct MHD_Connection *conn, bool paused)
{
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    int64_t now = jg_now_ms();
    if (c->mode == CLOCK_UPLOAD && paused && !c->up_pause_since) {
        c->up_pause_since = now;
    } else if (c->mode == CLOCK_UPLOAD && !paused && c->up_pause_since) {
        c->up_paused_ms += now - c->up_pause_since;
        c->up_pause_since = 0;
    }
    pthread_mutex_unlock(&h->clock_lock);
}

/* Reaper: is this upload under min_upload_rate over its last window?
 * Starts the next window when it is not (clock_lock held). */
static bool upload_too_slow(struct conn_clock *c, int64_t now, int64_t rate, int64_t window)
{
    int64_t paused = c->up_paused_ms + (c->up_pause_since ? now - c->up_pause_since : 0);
    int64_t active = now - c->since_ms - paused;
    if (rate == 0 || active < window)
        return false;
    if ((double)c->up_bytes < (double)rate * (double)active / 1000.0)
        return true;
    c->since_ms = now;
    c->up_bytes = 0;
    c->up_paused_ms = 0;
    if (c->up_pause_since)
        c->up_pause_since = now;
    return false;
}

void jg_http_clock_set(struct jg_http *h, struct MHD_Connection *conn, int mode)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_clock *c = ci ? ci->socket_context : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    c->mode = mode;
    c->since_ms = jg_now_ms();
    pthread_mutex_unlock(&h->clock_lock);
}

void jg_http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct jg_http *h = cls;
    struct conn_clock *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof(*c));
        if (!c || !ci)
            return;
        c->fd = ci->connect_fd;
        c->mode = CLOCK_LINE;
        c->since_ms = jg_now_ms();
        pthread_mutex_lock(&h->clock_lock);
        if (++h->nconns > __atomic_load_n(&h->app->cfg.max_connections, __ATOMIC_RELAXED)) {
            /* over the limit: close at once rather than leave it waiting */
            shutdown(c->fd, SHUT_RDWR);
            c->mode = CLOCK_OFF;
            h->refused_conns++;
        }
        c->next = h->clocks;
        if (h->clocks)
            h->clocks->prev = c;
        h->clocks = c;
        pthread_mutex_unlock(&h->clock_lock);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    pthread_mutex_lock(&h->clock_lock);
    h->nconns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clocks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&h->clock_lock);
    free(c);
    *socket_context = NULL;
}

/* Cuts connections whose request has not arrived in time: libmicrohttpd's
 * own timeout is an idle timeout that every byte resets (slowloris). */
void *jg_http_reaper_main(void *arg)
{
    struct jg_http *h = arg;
    pthread_mutex_lock(&h->clock_lock);
    while (!h->reaper_stop) {
        int64_t deadline = __atomic_load_n(&h->app->cfg.request_deadline_ms, __ATOMIC_RELAXED);
        int64_t idle = __atomic_load_n(&h->app->cfg.idle_timeout_ms, __ATOMIC_RELAXED);
        int64_t rate = __atomic_load_n(&h->app->cfg.min_upload_rate, __ATOMIC_RELAXED);
        int64_t window = __atomic_load_n(&h->app->cfg.upload_rate_window_ms, __ATOMIC_RELAXED);
        int64_t now = jg_now_ms();
        for (struct conn_clock *c = h->clocks; c; c = c->next) {
            if (c->mode == CLOCK_UPLOAD) {
                if (c->fd >= 0 && upload_too_slow(c, now, rate, window)) {
                    shutdown(c->fd, SHUT_RDWR);
                    c->mode = CLOCK_OFF;
                    h->upload_rate_cuts++;
                }
                continue;
            }
            int64_t limit = c->mode == CLOCK_REQUEST  ? deadline
                            : c->mode == CLOCK_LINGER ? LINGER_MS
                                                      : idle;
            if (c->mode != CLOCK_OFF && now - c->since_ms > limit && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                if (c->mode != CLOCK_LINGER)
                    h->deadline_cuts++;
                c->mode = CLOCK_OFF;
            }
        }
        pthread_mutex_unlock(&h->clock_lock);
        jg_http_reap_gone_streams(h);
        jg_http_reap_gone_helds(h);
        pthread_mutex_lock(&h->clock_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!h->reaper_stop)
            pthread_cond_timedwait(&h->reaper_cond, &h->clock_lock, &ts);
    }
    pthread_mutex_unlock(&h->clock_lock);
    return NULL;
}

