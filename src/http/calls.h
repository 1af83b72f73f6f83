/* calls.h - the asynchronous calls the key and object handlers (h_kv.c,
 * h_obj.c) and the bucket handlers (h_kvm.c, h_objm.c; but for the
 * streamed bulk reads and deletions of entries) make into kv/ and obj/,
 * in one table: the daemon uses the real
 * ones (calls.c), the handlers' unit tests (tests/unit/check_handlers.c)
 * put in their own and answer them without NATS.  Each entry has the
 * signature of the function it stands for (kv/kv.h, obj/obj.h), and
 * calls back the same way: on the loop thread. */
#ifndef JG_HTTP_CALLS_H
#define JG_HTTP_CALLS_H

#include "kv/kv.h"
#include "obj/obj.h"

struct jg_h_calls {
    void (*kv_get)(struct jg_app *app, const char *bucket, const char *key, uint64_t revision,
                   jg_kv_get_fn fn, void *ctx);
    void (*kv_history)(struct jg_app *app, const char *bucket, const char *key,
                       jg_kv_history_fn fn, void *ctx);
    void (*kv_write)(struct jg_app *app, const char *bucket, const char *key, const void *value,
                     size_t len, const struct jg_kv_write *w, jg_kv_write_fn fn, void *ctx);
    void (*obj_info_get)(struct jg_app *app, const char *bucket, const char *name,
                         jg_obj_info_fn fn, void *ctx);
    void (*obj_delete)(struct jg_app *app, const char *bucket, const char *name,
                       jg_obj_edit_fn fn, void *ctx);
    void (*obj_patch)(struct jg_app *app, const char *bucket, const char *name,
                      const cJSON *patch, jg_obj_edit_fn fn, void *ctx);
    void (*obj_put_begin)(struct jg_app *app, const struct jg_obj_put_opts *opts,
                          const struct jg_obj_put_events *ev, void *ctx,
                          struct jg_obj_put **ret);
    size_t (*obj_put_write)(struct jg_obj_put *p, const void *data, size_t len);
    void (*obj_put_end)(struct jg_obj_put *p);
    void (*obj_put_abort)(struct jg_obj_put *p);
    jg_status (*obj_reader_new)(struct jg_app *app, const struct jg_bucket_info *binfo,
                                const struct jg_obj_info *info, uint64_t start, uint64_t len,
                                void (*wake)(void *), void (*release)(void *), void *ctx,
                                struct jg_obj_reader **ret);
    long (*obj_reader_read)(struct jg_obj_reader *r, char *buf, size_t max);
    const char *(*obj_reader_error)(struct jg_obj_reader *r);
    void (*obj_reader_free)(struct jg_obj_reader *r);
    /* buckets (kv and obj alike) */
    void (*kv_bucket_write)(struct jg_app *app, const char *bucket, const char *body, size_t len,
                            bool update, jg_bucketm_fn fn, void *ctx);
    void (*kv_bucket_status)(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
    void (*kv_bucket_delete)(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
    void (*kv_bucket_list)(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn,
                           void *ctx);
    void (*kv_keys)(struct jg_app *app, const char *bucket, char **filters, char **prefixes,
                    char *const *scope, jg_kv_keys_fn fn, void *ctx);
    void (*kv_purge_deletes)(struct jg_app *app, const char *bucket, int64_t older_than_ns,
                             jg_kv_done_fn fn, void *ctx);
    void (*obj_bucket_write)(struct jg_app *app, const char *bucket, const char *body,
                             size_t len, bool update, jg_bucketm_fn fn, void *ctx);
    void (*obj_bucket_status)(struct jg_app *app, const char *bucket, jg_bucketm_fn fn,
                              void *ctx);
    void (*obj_bucket_delete)(struct jg_app *app, const char *bucket, jg_bucketm_fn fn,
                              void *ctx);
    void (*obj_bucket_list)(struct jg_app *app, jg_bucketm_want_fn want, jg_bucketm_fn fn,
                            void *ctx);
    void (*obj_bucket_seal)(struct jg_app *app, const char *bucket, jg_bucketm_fn fn, void *ctx);
    void (*obj_list)(struct jg_app *app, const char *bucket, bool include_deleted,
                     jg_obj_want_fn want, jg_obj_list_fn fn, void *ctx);
    void (*obj_link)(struct jg_app *app, const char *bucket, const char *name,
                     const char *target_bucket, const char *target_name, jg_obj_edit_fn fn,
                     void *ctx);
};

/* The table the handlers call through: &jg_h_calls_real unless a test set
 * another before any request. */
extern const struct jg_h_calls *jg_h_calls;
extern const struct jg_h_calls jg_h_calls_real;

#endif
