/* routes.c - the route table: one row per method and path, named by the
 * operationId that docs/openapi.yaml gives the same operation, with the
 * body it takes, the permission a token needs for it and the names it
 * carries (enum jg_route_names): authorization (authz.c) reads nothing
 * else, so a new route is authorized by its row. */
#include "autoconfig.h"
#include "http/handlers.h"
#include "http/router.h"
#include "auth.h"

#include <stdio.h>

const struct jg_route jg_routes[] = {
    {JG_GET, "/healthz", jg_h_healthz, "healthz", JG_BODY_NONE, JG_PERM_NONE,
     JG_RN_PUBLIC},
    {JG_GET, "/readyz", jg_h_readyz, "readyz", JG_BODY_NONE, JG_PERM_NONE,
     JG_RN_PUBLIC},
    {JG_GET, "/metrics", jg_h_metrics, "metrics", JG_BODY_NONE, JG_PERM_NONE,
     JG_RN_METRICS},
    {JG_GET, "/v1/info", jg_h_info, "info", JG_BODY_NONE, JG_PERM_NONE,
     0},
    {JG_GET, "/ui", jg_h_ui, "uiRedirect", JG_BODY_NONE, JG_PERM_NONE,
     JG_RN_PUBLIC},
    {JG_GET, "/ui/{file*}", jg_h_ui, "uiFile", JG_BODY_NONE, JG_PERM_NONE,
     JG_RN_PUBLIC},

    {JG_GET, "/v1/kv/{bucket}/{key*}", jg_h_kv_get, "kvGet", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_HEAD, "/v1/kv/{bucket}/{key*}", jg_h_kv_get, "kvHead", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PUT, "/v1/kv/{bucket}/{key*}", jg_h_kv_put, "kvPut", JG_BODY_KV, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_POST, "/v1/kv/{bucket}/{key*}", jg_h_kv_create, "kvCreate", JG_BODY_KV, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_DELETE, "/v1/kv/{bucket}/{key*}", jg_h_kv_delete, "kvDelete", JG_BODY_NONE, JG_PERM_DELETE,
     JG_RN_BUCKET | JG_RN_KEY},

    {JG_GET, "/v1/kvm/buckets", jg_h_kvm_list, "kvBucketList", JG_BODY_NONE, JG_PERM_LIST,
     0},
    {JG_GET, "/v1/kvm/buckets/{bucket}", jg_h_kvm_status, "kvBucketStatus", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET},
    {JG_POST, "/v1/kvm/buckets/{bucket}", jg_h_kvm_create, "kvBucketCreate", JG_BODY_JSON, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_PUT, "/v1/kvm/buckets/{bucket}", jg_h_kvm_put, "kvBucketPut", JG_BODY_JSON, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}", jg_h_kvm_delete, "kvBucketDelete", JG_BODY_NONE, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_GET, "/v1/kvm/buckets/{bucket}/keys", jg_h_kvm_keys, "kvKeyList", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_SELECTOR},
    {JG_GET, "/v1/kvm/buckets/{bucket}/entries", jg_h_kvm_entries, "kvEntries", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_SELECTOR},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}/entries", jg_h_kvm_entries_delete, "kvEntriesDelete", JG_BODY_NONE,
     JG_PERM_DELETE, JG_RN_BUCKET | JG_RN_SELECTOR},
    {JG_GET, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_get, "kvmGet", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_HEAD, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_get, "kvmHead", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PUT, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_put, "kvmPut", JG_BODY_KV, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_POST, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_create, "kvmCreate", JG_BODY_KV, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}/keys/{key*}", jg_h_kv_delete, "kvmDelete", JG_BODY_NONE, JG_PERM_DELETE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_DELETE, "/v1/kvm/buckets/{bucket}/purge", jg_h_kvm_purge, "kvBucketPurgeDeletes", JG_BODY_NONE, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_GET, "/v1/kvm/buckets/{bucket}/watch", jg_h_kv_watch, "kvWatch", JG_BODY_NONE, JG_PERM_WATCH,
     JG_RN_BUCKET | JG_RN_SELECTOR},

    {JG_GET, "/v1/obj/{bucket}/{name*}", jg_h_obj_get, "objGet", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_HEAD, "/v1/obj/{bucket}/{name*}", jg_h_obj_get, "objHead", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PUT, "/v1/obj/{bucket}/{name*}", jg_h_obj_put, "objPut", JG_BODY_STREAM, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_DELETE, "/v1/obj/{bucket}/{name*}", jg_h_obj_delete, "objDelete", JG_BODY_NONE, JG_PERM_DELETE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PATCH, "/v1/obj/{bucket}/{name*}", jg_h_obj_patch, "objPatch", JG_BODY_JSON, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY | JG_RN_NEW_NAME},
    {JG_GET, "/v1/objm/buckets", jg_h_objm_list, "objBucketList", JG_BODY_NONE, JG_PERM_LIST,
     0},
    {JG_GET, "/v1/objm/buckets/{bucket}", jg_h_objm_status, "objBucketStatus", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET},
    {JG_POST, "/v1/objm/buckets/{bucket}", jg_h_objm_create, "objBucketCreate", JG_BODY_JSON, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_PUT, "/v1/objm/buckets/{bucket}", jg_h_objm_put, "objBucketPut", JG_BODY_JSON, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_DELETE, "/v1/objm/buckets/{bucket}", jg_h_objm_delete, "objBucketDelete", JG_BODY_NONE, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_GET, "/v1/objm/buckets/{bucket}/keys", jg_h_objm_list_objects, "objList", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_SELECTOR},
    {JG_GET, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_get, "objmGet", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_HEAD, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_get, "objmHead", JG_BODY_NONE, JG_PERM_READ,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PUT, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_put, "objmPut", JG_BODY_STREAM, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_DELETE, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_delete, "objmDelete", JG_BODY_NONE, JG_PERM_DELETE,
     JG_RN_BUCKET | JG_RN_KEY},
    {JG_PATCH, "/v1/objm/buckets/{bucket}/keys/{name*}", jg_h_obj_patch, "objmPatch", JG_BODY_JSON, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY | JG_RN_NEW_NAME},
    {JG_PUT, "/v1/objm/buckets/{bucket}/links/{name*}", jg_h_objm_link, "objLinkPut", JG_BODY_JSON, JG_PERM_WRITE,
     JG_RN_BUCKET | JG_RN_KEY | JG_RN_LINK_TARGET},
    {JG_POST, "/v1/objm/buckets/{bucket}/seal", jg_h_objm_seal, "objBucketSeal", JG_BODY_NONE, JG_PERM_ADMIN,
     JG_RN_BUCKET},
    {JG_GET, "/v1/objm/buckets/{bucket}/watch", jg_h_obj_watch, "objWatch", JG_BODY_NONE, JG_PERM_WATCH,
     JG_RN_BUCKET | JG_RN_SELECTOR},

    {0, NULL, NULL, NULL, JG_BODY_NONE, JG_PERM_NONE, 0},
};

static const struct {
    unsigned flag;
    const char *name;
} perm_names[] = {
    {JG_PERM_READ, "read"},   {JG_PERM_WRITE, "write"}, {JG_PERM_DELETE, "delete"},
    {JG_PERM_WATCH, "watch"}, {JG_PERM_ADMIN, "admin"}, {JG_PERM_LIST, "list"},
}, rn_names[] = {
    {JG_RN_PUBLIC, "public"},   {JG_RN_METRICS, "metrics"},
    {JG_RN_BUCKET, "bucket"},   {JG_RN_KEY, "key"},
    {JG_RN_SELECTOR, "selector"}, {JG_RN_LINK_TARGET, "link_target"},
    {JG_RN_NEW_NAME, "new_name"},
};

void jg_routes_dump(FILE *out)
{
    for (const struct jg_route *r = jg_routes; r->pattern; r++) {
        char method[32];
        jg_methods_text(r->methods, method, sizeof(method));
        const char *perm = "token";
        for (size_t i = 0; i < sizeof(perm_names) / sizeof(perm_names[0]); i++)
            if (r->perm == perm_names[i].flag)
                perm = perm_names[i].name;
        fprintf(out, "%s\t%s\t%s\t%s\t", method, r->pattern, r->operation_id, perm);
        const char *sep = "";
        for (size_t i = 0; i < sizeof(rn_names) / sizeof(rn_names[0]); i++) {
            if (r->names & rn_names[i].flag) {
                fprintf(out, "%s%s", sep, rn_names[i].name);
                sep = ",";
            }
        }
        fprintf(out, "%s\n", *sep ? "" : "-");
    }
}
