/* handlers.h - route handlers, one file per area: h_kv.c (keys),
 * h_kvm.c (KV buckets), h_ops.c (health, readiness, metrics, info). */
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

void jg_h_healthz(struct jg_req *req);
void jg_h_readyz(struct jg_req *req);
void jg_h_metrics(struct jg_req *req);
void jg_h_info(struct jg_req *req);

/* Not yet served: answers 501 with a problem body. */
void jg_h_not_implemented(struct jg_req *req);

#endif
