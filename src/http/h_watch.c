/* h_watch.c - HTTP handlers for watches (Server-Sent Events). */
#include "autoconfig.h"
#include "http/handlers.h"

void jg_h_kv_watch(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_obj_watch(struct jg_req *req) { jg_h_not_implemented(req); }
