/* event.c - the events of the watch engine (see watch_int.h): a change of
 * a KV key or of an object's meta formatted once as Server-Sent Events
 * bytes, control events, and the pure helpers of watch.h. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kv/kv.h"

struct ev *jg_ev_new(uint64_t seq, const char *key, bool is_del, const char *data, size_t len)
{
    size_t kl = key ? strlen(key) : 0;
    struct ev *e = malloc(sizeof(*e) + kl + 1 + len);
    if (!e)
        return NULL;
    atomic_init(&e->refs, 1);
    e->seq = seq;
    e->is_del = is_del;
    e->key = e->buf;
    if (kl)
        memcpy(e->key, key, kl);
    e->key[kl] = '\0';
    e->data = e->buf + kl + 1;
    memcpy(e->data, data, len);
    e->len = len;
    return e;
}

void jg_ev_ref(struct ev *e)
{
    atomic_fetch_add(&e->refs, 1);
}

void jg_ev_unref(struct ev *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}
bool jg_watch_key_wanted(char *const *filters, char *const *prefixes, bool exact_names,
                         const char *key)
{
    bool f_ok = !filters || !filters[0], p_ok = !prefixes || !prefixes[0];
    for (size_t i = 0; !f_ok && filters[i]; i++)
        f_ok = exact_names ? strcmp(filters[i], key) == 0 : jg_kv_filter_match(filters[i], key);
    for (size_t i = 0; !p_ok && prefixes[i]; i++)
        p_ok = strncmp(key, prefixes[i], strlen(prefixes[i])) == 0;
    return f_ok && p_ok;
}

jg_status jg_watch_sse_append(struct jg_buf *b, const char *event, uint64_t id, const char *data,
                              size_t len)
{
    jg_status st = JG_OK;
    if (event)
        st = jg_buf_printf(b, "event: %s\n", event);
    if (st == JG_OK && id)
        st = jg_buf_printf(b, "id: %llu\n", (unsigned long long)id);
    if (st == JG_OK)
        st = jg_buf_puts(b, "data: ");
    if (st == JG_OK)
        st = jg_buf_append(b, data, len);
    if (st == JG_OK)
        st = jg_buf_puts(b, "\n\n");
    return st;
}

struct ev *jg_ev_control(const char *event, uint64_t id, const char *fmt, ...)
{
    char data[256];
    struct jg_buf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(data, sizeof(data), fmt, ap);
    va_end(ap);
    jg_buf_init(&b);
    struct ev *e = NULL;
    if (jg_watch_sse_append(&b, event, id, data, strlen(data)) == JG_OK)
        e = jg_ev_new(0, NULL, false, b.data, b.len);
    jg_buf_done(&b);
    return e;
}

/* --- changes -------------------------------------------------------------------- */

/* The key or object name of a feed message's subject. */
static const char *msg_key(struct feed *f, const char *subj)
{
    if (strlen(subj) <= f->key_off)
        return NULL;
    return subj + f->key_off;
}

/* Builds the event for a KV message. */
struct ev *jg_ev_kv(struct feed *f, natsMsg *m, const struct jg_nats_ack *a)
{
    const char *key = msg_key(f, natsMsg_GetSubject(m));
    if (!key)
        return NULL;
    struct jg_kv_entry e = {0};
    const char *op = jg_nats_msg_header(m, "KV-Operation");
    e.bucket = f->bucket;
    e.key = (char *)key;
    e.revision = a->sseq;
    e.delta = a->pending;
    e.created_ns = a->ts_ns;
    e.op = op && strcmp(op, "DEL") == 0 ? JG_KV_DEL
           : op && strcmp(op, "PURGE") == 0 ? JG_KV_PURGE : JG_KV_PUT;
    e.value = natsMsg_GetData(m);
    e.value_len = (size_t)natsMsg_GetDataLength(m);
    cJSON *o = jg_kv_entry_json(&e);
    if (!o)
        return NULL;
    if (f->headers_only) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "value");
        const char *sz = jg_nats_msg_header(m, "Nats-Msg-Size");
        if (sz && e.op == JG_KV_PUT)
            cJSON_AddNumberToObject(o, "length", strtod(sz, NULL));
    }
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!json)
        return NULL;
    struct jg_buf b;
    jg_buf_init(&b);
    struct ev *ev = NULL;
    if (jg_watch_sse_append(&b, NULL, a->sseq, json, strlen(json)) == JG_OK)
        ev = jg_ev_new(a->sseq, key, e.op != JG_KV_PUT, b.data, b.len);
    jg_buf_done(&b);
    free(json);
    return ev;
}

/* Builds the event for an object meta message: the stored ObjectInfo with
 * mtime from the stored time and revision = stream sequence. */
struct ev *jg_ev_obj(struct feed *f, natsMsg *m, const struct jg_nats_ack *a)
{
    cJSON *o = cJSON_ParseWithLength(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    char when[40];
    jg_time_rfc3339(a->ts_ns, when);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "mtime");
    cJSON_AddStringToObject(o, "mtime", when);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "revision");
    cJSON_AddNumberToObject(o, "revision", (double)a->sseq);
    if (!cJSON_GetObjectItemCaseSensitive(o, "bucket"))
        cJSON_AddStringToObject(o, "bucket", f->bucket);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    bool deleted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted"));
    char *json = cJSON_PrintUnformatted(o);
    struct ev *ev = NULL;
    if (json) {
        struct jg_buf b;
        jg_buf_init(&b);
        if (jg_watch_sse_append(&b, NULL, a->sseq, json, strlen(json)) == JG_OK)
            ev = jg_ev_new(a->sseq, cJSON_IsString(name) ? name->valuestring : "", deleted, b.data,
                        b.len);
        jg_buf_done(&b);
        free(json);
    }
    cJSON_Delete(o);
    return ev;
}
