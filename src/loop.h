/* loop.h - the event loop that carries the hot path.
 *
 * One thread waits on one epoll set holding libmicrohttpd's epoll fd and the
 * NATS socket (libnats runs in external event-loop mode), so a NATS reply is
 * read, matched to its request and turned into an HTTP response on the same
 * thread, without a hand-off between threads.  Modules register file
 * descriptors and a per-iteration hook; everything else of theirs stays
 * their own.  jg_loop_add/mod/del and jg_loop_wake are thread-safe; the
 * callbacks run on the loop thread. */
#ifndef JG_LOOP_H
#define JG_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

struct jg_loop;

/* An fd is ready: events are EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits. */
typedef void (*jg_loop_fd_fn)(void *ctx, uint32_t events);
/* Runs once per iteration after the ready fds were served; returns how
 * long (ms) the loop may sleep for this hook's sake (-1 = no limit). */
typedef int64_t (*jg_loop_hook_fn)(void *ctx);

jg_status jg_loop_new(struct jg_loop **ret_loop);
/* NULL-safe; the thread must have been stopped. */
void jg_loop_free(struct jg_loop *loop);

/* At most 4 hooks, run in the order added. */
jg_status jg_loop_add_hook(struct jg_loop *loop, jg_loop_hook_fn fn, void *ctx);

/* One function run at the end of every iteration, after the hooks, to
 * send what the iteration queued (the NATS writes of the handlers that
 * ran), so a request and its reply do not wait for another turn of the
 * loop.  At most one; before jg_loop_start. */
jg_status jg_loop_set_flush(struct jg_loop *loop, void (*fn)(void *ctx), void *ctx);

/* Registers fd with the events wanted (EPOLLIN, EPOLLOUT).  The slot
 * identified by (fn, ctx) is reused by jg_loop_mod/jg_loop_del. */
jg_status jg_loop_add(struct jg_loop *loop, int fd, uint32_t events, jg_loop_fd_fn fn, void *ctx);
jg_status jg_loop_mod(struct jg_loop *loop, int fd, uint32_t events);
void jg_loop_del(struct jg_loop *loop, int fd);

/* A function to run once on the loop thread, posted from any thread.  The
 * caller owns the storage, which must stay valid until fn runs. */
struct jg_loop_task {
    void (*fn)(void *ctx);
    void *ctx;
    struct jg_loop_task *next;
};
/* Runs fn(ctx) on the loop thread soon, after the ready descriptors of its
 * next turn, in the order posted (any thread).  Tasks still queued when
 * the loop stops never run. */
void jg_loop_post(struct jg_loop *loop, struct jg_loop_task *t, void (*fn)(void *), void *ctx);

/* Makes the loop run its hooks soon (any thread). */
void jg_loop_wake(struct jg_loop *loop);

/* Starts / stops (and joins) the loop thread. */
jg_status jg_loop_start(struct jg_loop *loop);
void jg_loop_stop(struct jg_loop *loop);

/* true on the loop thread. */
bool jg_loop_on_thread(struct jg_loop *loop);

#endif
