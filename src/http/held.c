/* held.c - held requests: suspended requests that wait long (blocking
 * reads), listed so that the reaper thread can tell when their client
 * hangs up, which a suspended connection does not show otherwise. */
#include "autoconfig.h"
#include "http/server_int.h"

#include <stdlib.h>

#include "app.h"
#include "loop.h"

static void held_gone(void *ctx);

void jg_req_hold(struct jg_req *req, jg_close_fn gone)
{
    struct jg_sreq *s = srv(req);
    struct jg_http *h = s->http;
    s->held = true;
    s->held_gone = gone;
    if (atomic_load(&h->app->shutting_down)) {
        /* too late to wait: ended as soon as the handler returns */
        jg_req_ref(req);
        jg_loop_post(h->loop, &s->held_task, held_gone, req);
        return;
    }
    pthread_mutex_lock(&h->stream_lock);
    s->hprev = NULL;
    s->hnext = h->helds;
    if (h->helds)
        srv(h->helds)->hprev = req;
    h->helds = req;
    pthread_mutex_unlock(&h->stream_lock);
}

/* Off the list (stream lock held). */
static void unlist(struct jg_http *h, struct jg_sreq *s)
{
    if (s->hprev)
        srv(s->hprev)->hnext = s->hnext;
    else if (h->helds == &s->req)
        h->helds = s->hnext;
    else
        return; /* not listed */
    if (s->hnext)
        srv(s->hnext)->hprev = s->hprev;
    s->hnext = s->hprev = NULL;
}

void jg_req_unhold(struct jg_req *req)
{
    struct jg_sreq *s = srv(req);
    struct jg_http *h = s->http;
    if (!s->held)
        return;
    pthread_mutex_lock(&h->stream_lock);
    unlist(h, s);
    s->held = false;
    pthread_mutex_unlock(&h->stream_lock);
}

/* The client of a held request hung up (loop thread). */
static void held_gone(void *ctx)
{
    struct jg_req *req = ctx;
    struct jg_sreq *s = srv(req);
    if (s->held) {
        s->held = false;
        s->held_gone(req);
    }
    jg_req_unref(req);
}

void jg_http_reap_gone(struct jg_http *h, struct jg_req *list,
                       struct jg_req *(*next)(struct jg_req *), bool (*pick)(struct jg_req *),
                       void (*gone)(struct jg_http *, struct jg_req *))
{
    size_t n = 0, k = 0;
    for (struct jg_req *r = list; r; r = next(r))
        n += pick(r);
    if (n > h->reap_cap) {
        struct pollfd *p = realloc(h->reap_fds, n * sizeof(*p));
        struct jg_req **q = p ? realloc(h->reap_reqs, n * sizeof(*q)) : NULL;
        if (p)
            h->reap_fds = p;
        if (q)
            h->reap_reqs = q;
        if (p && q)
            h->reap_cap = n;
    }
    for (struct jg_req *r = list; r && k < h->reap_cap; r = next(r)) {
        if (!pick(r))
            continue;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(srv(r)->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || ci->connect_fd < 0)
            continue;
        h->reap_fds[k] = (struct pollfd){.fd = ci->connect_fd, .events = POLLRDHUP};
        h->reap_reqs[k++] = r;
    }
    if (k == 0 || poll(h->reap_fds, (nfds_t)k, 0) <= 0)
        return;
    for (size_t i = 0; i < k; i++)
        if (h->reap_fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
            gone(h, h->reap_reqs[i]);
}

static struct jg_req *held_next(struct jg_req *r)
{
    return srv(r)->hnext;
}

static bool held_any(struct jg_req *r)
{
    (void)r;
    return true;
}

static void held_hung_up(struct jg_http *h, struct jg_req *r)
{
    unlist(h, srv(r));
    jg_req_ref(r);
    jg_loop_post(h->loop, &srv(r)->held_task, held_gone, r);
}

void jg_http_reap_gone_helds(struct jg_http *h)
{
    pthread_mutex_lock(&h->stream_lock);
    jg_http_reap_gone(h, h->helds, held_next, held_any, held_hung_up);
    pthread_mutex_unlock(&h->stream_lock);
}

void jg_http_end_helds(struct jg_http *h)
{
    pthread_mutex_lock(&h->stream_lock);
    while (h->helds) {
        struct jg_req *r = h->helds;
        unlist(h, srv(r));
        jg_req_ref(r);
        jg_loop_post(h->loop, &srv(r)->held_task, held_gone, r);
    }
    pthread_mutex_unlock(&h->stream_lock);
}
