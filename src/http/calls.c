/* calls.c - the real kv/ and obj/ calls of the handlers (see calls.h). */
#include "autoconfig.h"
#include "http/calls.h"

const struct jg_h_calls jg_h_calls_real = {
    .kv_get = jg_kv_get,
    .kv_history = jg_kv_history,
    .kv_write = jg_kv_write,
    .obj_info_get = jg_obj_info_get,
    .obj_delete = jg_obj_delete,
    .obj_patch = jg_obj_patch,
    .obj_put_begin = jg_obj_put_begin,
    .obj_put_write = jg_obj_put_write,
    .obj_put_end = jg_obj_put_end,
    .obj_put_abort = jg_obj_put_abort,
    .obj_reader_new = jg_obj_reader_new,
    .obj_reader_read = jg_obj_reader_read,
    .obj_reader_error = jg_obj_reader_error,
    .obj_reader_free = jg_obj_reader_free,
    .kv_bucket_write = jg_kv_bucket_write,
    .kv_bucket_status = jg_kv_bucket_status,
    .kv_bucket_delete = jg_kv_bucket_delete,
    .kv_bucket_list = jg_kv_bucket_list,
    .kv_keys = jg_kv_keys,
    .kv_purge_deletes = jg_kv_purge_deletes,
    .obj_bucket_write = jg_obj_bucket_write,
    .obj_bucket_status = jg_obj_bucket_status,
    .obj_bucket_delete = jg_obj_bucket_delete,
    .obj_bucket_list = jg_obj_bucket_list,
    .obj_bucket_seal = jg_obj_bucket_seal,
    .obj_list = jg_obj_list,
    .obj_link = jg_obj_link,
};

const struct jg_h_calls *jg_h_calls = &jg_h_calls_real;
