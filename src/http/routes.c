/* routes.c - the route table: one row per method and path, named by the
 * operationId that docs/openapi.yaml gives the same operation, with the
 * body it takes and the permission a token needs for it. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/router.h"
#include "auth.h"

const struct jg_route jg_routes[] = {
    {JG_GET, "/healthz", jg_h_healthz, "healthz", JG_BODY_NONE, JG_PERM_NONE},
    {JG_GET, "/readyz", jg_h_readyz, "readyz", JG_BODY_NONE, JG_PERM_NONE},
    {JG_GET, "/metrics", jg_h_metrics, "metrics", JG_BODY_NONE, JG_PERM_NONE},
    {JG_GET, "/v1/info", jg_h_info, "info", JG_BODY_NONE, JG_PERM_NONE},

    {JG_GET, "/v1/kv/{bucket}/{key*}", jg_h_kv_get, "kvGet", JG_BODY_NONE, JG_PERM_READ},
    {JG_HEAD, "/v1/kv/{bucket}/{key*}", jg_h_kv_get, "kvHead", JG_BODY_NONE, JG_PERM_READ},
    {JG_PUT, "/v1/kv/{bucket}/{key*}", jg_h_kv_put, "kvPut", JG_BODY_KV, JG_PERM_WRITE},
    {JG_POST, "/v1/kv/{bucket}/{key*}", jg_h_kv_create, "kvCreate", JG_BODY_KV, JG_PERM_WRITE},
    {JG_DELETE, "/v1/kv/{bucket}/{key*}", jg_h_kv_delete, "kvDelete", JG_BODY_NONE, JG_PERM_DELETE},

    {JG_GET, "/v1/kvm/buckets", jg_h_kvm_list, "kvBucketList", JG_BODY_NONE, JG_PERM_LIST},
    {JG_GET, "/v1/kvm/buckets/{bucket}", jg_h_kvm_status, "kvBucketStatus", JG_BODY_NONE, JG_PERM_READ},
    {JG_POST, "/v1/kvm/buckets/{bucket}", jg_h_kvm_create, "kvBucketCreate", JG_BODY_JSON, JG_PERM_ADMIN},
    {JG_PUT, "/v1/kvm/buckets/{bucket}", jg_h_kvm_put, "kvBucketPut", JG_BODY_JSON, JG_PERM_ADMIN},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}", jg_h_kvm_delete, "kvBucketDelete", JG_BODY_NONE, JG_PERM_ADMIN},
    {JG_GET, "/v1/kvm/buckets/{bucket}/keys", jg_h_kvm_keys, "kvKeyList", JG_BODY_NONE, JG_PERM_READ},
    {JG_GET, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_get, "kvmGet", JG_BODY_NONE, JG_PERM_READ},
    {JG_HEAD, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_get, "kvmHead", JG_BODY_NONE, JG_PERM_READ},
    {JG_PUT, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_put, "kvmPut", JG_BODY_KV, JG_PERM_WRITE},
    {JG_POST, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_create, "kvmCreate", JG_BODY_KV, JG_PERM_WRITE},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_delete, "kvmDelete", JG_BODY_NONE, JG_PERM_DELETE},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}/purge", jg_h_kvm_purge, "kvBucketPurgeDeletes", JG_BODY_NONE, JG_PERM_ADMIN},
    {JG_GET, "/v1/kvm/buckets/{bucket}/watch", jg_h_kv_watch, "kvWatch", JG_BODY_NONE, JG_PERM_WATCH},

    {JG_GET, "/v1/obj/{bucket}/{name*}", jg_h_obj_get, "objGet", JG_BODY_NONE, JG_PERM_READ},
    {JG_HEAD, "/v1/obj/{bucket}/{name*}", jg_h_obj_get, "objHead", JG_BODY_NONE, JG_PERM_READ},
    {JG_PUT, "/v1/obj/{bucket}/{name*}", jg_h_obj_put, "objPut", JG_BODY_STREAM, JG_PERM_WRITE},
    {JG_DELETE, "/v1/obj/{bucket}/{name*}", jg_h_obj_delete, "objDelete", JG_BODY_NONE, JG_PERM_DELETE},
    {JG_PATCH, "/v1/obj/{bucket}/{name*}", jg_h_obj_patch, "objPatch", JG_BODY_JSON, JG_PERM_WRITE},
    {JG_GET, "/v1/objm/buckets", jg_h_objm_list, "objBucketList", JG_BODY_NONE, JG_PERM_LIST},
    {JG_GET, "/v1/objm/buckets/{bucket}", jg_h_objm_status, "objBucketStatus", JG_BODY_NONE, JG_PERM_READ},
    {JG_POST, "/v1/objm/buckets/{bucket}", jg_h_objm_create, "objBucketCreate", JG_BODY_JSON, JG_PERM_ADMIN},
    {JG_PUT, "/v1/objm/buckets/{bucket}", jg_h_objm_put, "objBucketPut", JG_BODY_JSON, JG_PERM_ADMIN},
    {JG_DELETE, "/v1/objm/buckets/{bucket}", jg_h_objm_delete, "objBucketDelete", JG_BODY_NONE, JG_PERM_ADMIN},
    {JG_GET, "/v1/objm/buckets/{bucket}/keys", jg_h_objm_list_objects, "objList", JG_BODY_NONE, JG_PERM_READ},
    {JG_GET, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_get, "objmGet", JG_BODY_NONE, JG_PERM_READ},
    {JG_HEAD, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_get, "objmHead", JG_BODY_NONE, JG_PERM_READ},
    {JG_PUT, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_put, "objmPut", JG_BODY_STREAM, JG_PERM_WRITE},
    {JG_DELETE, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_delete, "objmDelete", JG_BODY_NONE, JG_PERM_DELETE},
    {JG_PATCH, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_patch, "objmPatch", JG_BODY_JSON, JG_PERM_WRITE},
    {JG_PUT, "/v1/objm/buckets/{bucket}/links/{name*}", jg_h_objm_link, "objLinkPut", JG_BODY_JSON, JG_PERM_WRITE},
    {JG_POST, "/v1/objm/buckets/{bucket}/seal", jg_h_objm_seal, "objBucketSeal", JG_BODY_NONE, JG_PERM_ADMIN},
    {JG_GET, "/v1/objm/buckets/{bucket}/watch", jg_h_obj_watch, "objWatch", JG_BODY_NONE, JG_PERM_WATCH},

    {0, NULL, NULL, NULL, JG_BODY_NONE, JG_PERM_NONE},
};
