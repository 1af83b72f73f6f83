/* h_obj.c - HTTP handlers for objects: /v1/obj/{bucket}/{name} and its
 * alias /v1/objm/buckets/{bucket}/keys/{name}. */
#include "autoconfig.h"
#include "http/handlers.h"

void jg_h_obj_get(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_obj_put(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_obj_delete(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_obj_patch(struct jg_req *req) { jg_h_not_implemented(req); }
