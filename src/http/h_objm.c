/* h_objm.c - HTTP handlers for object store buckets under /v1/objm/buckets. */
#include "autoconfig.h"
#include "http/handlers.h"

void jg_h_objm_list(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_status(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_create(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_put(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_delete(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_list_objects(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_link(struct jg_req *req) { jg_h_not_implemented(req); }
void jg_h_objm_seal(struct jg_req *req) { jg_h_not_implemented(req); }
