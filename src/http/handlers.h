/* handlers.h - route handlers, one file per area: h_kv.c (keys),
 * h_kvm.c (KV buckets), h_obj.c (objects), h_objm.c (object buckets),
 * h_watch.c (watches), h_ops.c (health, readiness, metrics, info). */
#ifndef JG_HTTP_HANDLERS_H
#define JG_HTTP_HANDLERS_H

#include "http/request.h"

void jg_h_kv_get(struct jg_req *req);
void jg_h_kv_put(struct jg_req *req);
void jg_h_kv_create(struct jg_req *req);
void jg_h_kv_delete(struct jg_req *req);

void jg_h_kvm_list(struct jg_req *req);
void jg_h_kvm_status(struct jg_req *req);
void jg_h_kvm_create(struct jg_req *req);
void jg_h_kvm_put(struct jg_req *req);
void jg_h_kvm_delete(struct jg_req *req);
void jg_h_kvm_keys(struct jg_req *req);
void jg_h_kvm_purge(struct jg_req *req);
void jg_h_kvm_entries(struct jg_req *req);
void jg_h_kvm_entries_delete(struct jg_req *req);

/* h_obj.c: objects; h_objm.c: object buckets. */
void jg_h_obj_get(struct jg_req *req);    /* GET and HEAD, ?metaOnly, Range */
void jg_h_obj_put(struct jg_req *req);    /* JG_BODY_STREAM */
void jg_h_obj_delete(struct jg_req *req);
void jg_h_obj_patch(struct jg_req *req);
void jg_h_objm_list(struct jg_req *req);
void jg_h_objm_status(struct jg_req *req);
void jg_h_objm_create(struct jg_req *req);
void jg_h_objm_put(struct jg_req *req);
void jg_h_objm_delete(struct jg_req *req);
void jg_h_objm_list_objects(struct jg_req *req);
void jg_h_objm_link(struct jg_req *req);
void jg_h_objm_seal(struct jg_req *req);

/* h_watch.c: Server-Sent Events watches. */
void jg_h_kv_watch(struct jg_req *req);
void jg_h_obj_watch(struct jg_req *req);

void jg_h_healthz(struct jg_req *req);
void jg_h_readyz(struct jg_req *req);
void jg_h_metrics(struct jg_req *req);
void jg_h_info(struct jg_req *req);

/* detail.c: the default detail of a problem answer for st on a KV or an
 * object store route (the status's title when the table has none). */
enum jg_h_store { JG_H_KV, JG_H_OBJ };
const char *jg_h_detail(jg_status st, enum jg_h_store store);

/* Reads ?wait= (blocking reads): a duration with a unit, at most max_wait,
 * in ms into *ret_ms (0 when absent).  When bad, answers 400 and returns
 * its status. */
jg_status jg_h_wait_param(struct jg_req *req, int64_t *ret_ms);
/* The revision of an If-None-Match naming exactly one: "R" (R >= 0). */
bool jg_h_one_etag(const char *v, uint64_t *ret);

/* h_ui.c: the web console's files ("/ui" redirects to "/ui/"). */
void jg_h_ui(struct jg_req *req);

#endif
