/* loop.c - the event loop thread (see loop.h). */
#include "autoconfig.h"
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define MAX_FDS 8
#define MAX_HOOKS 4
#define MAX_SLEEP_MS 1000

struct slot {
    int fd;               /* -1 = free */
    jg_loop_fd_fn fn;
    void *ctx;
};

struct jg_loop {
    int epfd;
    int wakefd;
    pthread_mutex_t lock; /* guards slots */
    struct slot slots[MAX_FDS];
    struct {
        jg_loop_hook_fn fn;
        void *ctx;
    } hooks[MAX_HOOKS];
    int nhooks;
    void (*flush)(void *);
    void *flush_ctx;
    pthread_mutex_t tasks_lock; /* guards tasks, tasks_tail */
    struct jg_loop_task *tasks, **tasks_tail;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

jg_status jg_loop_new(struct jg_loop **ret_loop)
{
    struct jg_loop *l = calloc(1, sizeof(*l));
    struct epoll_event ev = {.events = EPOLLIN};
    if (!l)
        return JG_ERR_NOMEM;
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->tasks_lock, NULL);
    l->tasks_tail = &l->tasks;
    for (int i = 0; i < MAX_FDS; i++)
        l->slots[i].fd = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ev.data.fd = l->wakefd;
    if (l->epfd < 0 || l->wakefd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
        jg_err("loop: cannot set up epoll: %s", strerror(errno));
        jg_loop_free(l);
        return JG_ERR_INTERNAL;
    }
    *ret_loop = l;
    return JG_OK;
}

void jg_loop_free(struct jg_loop *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->tasks_lock);
    free(l);
}

jg_status jg_loop_add_hook(struct jg_loop *l, jg_loop_hook_fn fn, void *ctx)
{
    if (l->nhooks == MAX_HOOKS || l->started)
        return JG_ERR_INTERNAL;
    l->hooks[l->nhooks].fn = fn;
    l->hooks[l->nhooks].ctx = ctx;
    l->nhooks++;
    return JG_OK;
}

jg_status jg_loop_set_flush(struct jg_loop *l, void (*fn)(void *ctx), void *ctx)
{
    if (l->flush || l->started)
        return JG_ERR_INTERNAL;
    l->flush = fn;
    l->flush_ctx = ctx;
    return JG_OK;
}

jg_status jg_loop_add(struct jg_loop *l, int fd, uint32_t events, jg_loop_fd_fn fn, void *ctx)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    jg_status st = JG_ERR_INTERNAL;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < MAX_FDS; i++) {
        if (l->slots[i].fd == -1) {
            l->slots[i].fd = fd;
            l->slots[i].fn = fn;
            l->slots[i].ctx = ctx;
            st = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? JG_OK : JG_ERR_INTERNAL;
            if (st != JG_OK)
                l->slots[i].fd = -1;
            break;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return st;
}

jg_status jg_loop_mod(struct jg_loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? JG_OK : JG_ERR_INTERNAL;
}

void jg_loop_del(struct jg_loop *l, int fd)
{
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < MAX_FDS; i++) {
        if (l->slots[i].fd == fd) {
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            l->slots[i].fd = -1;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

void jg_loop_wake(struct jg_loop *l)
{
    uint64_t one = 1;
    if (write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        jg_debug("loop: wake failed: %s", strerror(errno));
}

bool jg_loop_on_thread(struct jg_loop *l)
{
    return l->started && pthread_equal(pthread_self(), l->thread);
}

void jg_loop_post(struct jg_loop *l, struct jg_loop_task *t, void (*fn)(void *), void *ctx)
{
    t->fn = fn;
    t->ctx = ctx;
    t->next = NULL;
    pthread_mutex_lock(&l->tasks_lock);
    *l->tasks_tail = t;
    l->tasks_tail = &t->next;
    pthread_mutex_unlock(&l->tasks_lock);
    jg_loop_wake(l);
}

/* Runs the tasks posted so far (loop thread). */
static void run_tasks(struct jg_loop *l)
{
    pthread_mutex_lock(&l->tasks_lock);
    struct jg_loop_task *t = l->tasks;
    l->tasks = NULL;
    l->tasks_tail = &l->tasks;
    pthread_mutex_unlock(&l->tasks_lock);
    while (t) {
        struct jg_loop_task *next = t->next; /* fn may free t */
        t->fn(t->ctx);
        t = next;
    }
}

static void *loop_main(void *arg)
{
    struct jg_loop *l = arg;
    struct epoll_event evs[MAX_FDS + 1];
    int64_t sleep_ms = 0;

    while (!atomic_load(&l->stop)) {
        int n = epoll_wait(l->epfd, evs, MAX_FDS + 1, (int)sleep_ms);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l->wakefd) {
                uint64_t v;
                while (read(l->wakefd, &v, sizeof(v)) > 0)
                    ;
                continue;
            }
            jg_loop_fd_fn fn = NULL;
            void *ctx = NULL;
            pthread_mutex_lock(&l->lock);
            for (int k = 0; k < MAX_FDS; k++) {
                if (l->slots[k].fd == fd) {
                    fn = l->slots[k].fn;
                    ctx = l->slots[k].ctx;
                    break;
                }
            }
            pthread_mutex_unlock(&l->lock);
            if (fn)
                fn(ctx, evs[i].events);
        }
        run_tasks(l);
        sleep_ms = MAX_SLEEP_MS;
        for (int h = 0; h < l->nhooks; h++) {
            int64_t want = l->hooks[h].fn(l->hooks[h].ctx);
            if (want >= 0 && want < sleep_ms)
                sleep_ms = want;
        }
        if (l->flush)
            l->flush(l->flush_ctx);
    }
    return NULL;
}

jg_status jg_loop_start(struct jg_loop *l)
{
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
        return JG_ERR_INTERNAL;
    l->started = true;
    return JG_OK;
}

void jg_loop_stop(struct jg_loop *l)
{
    if (!l || !l->started)
        return;
    atomic_store(&l->stop, true);
    jg_loop_wake(l);
    pthread_join(l->thread, NULL);
    l->started = false;
}
