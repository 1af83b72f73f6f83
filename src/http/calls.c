/* calls.c - the real kv/ and obj/ calls of the key and object handlers
 * (see calls.h). */
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
};

const struct jg_h_calls *jg_h_calls = &jg_h_calls_real;
