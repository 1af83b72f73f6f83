/* limits.c - watcher places (see watch_int.h): every watcher holds one
 * place from jg_watch_reserve() until jg_watch_close(), counted against
 * max_watchers (open and reserved), max_watchers_per_ip (per client
 * address, an open hash of ADDR_SLOTS) and max_watchers_per_token (per
 * token, TOKEN_SLOTS of them), all under eng->lock. */
#include "autoconfig.h"
#include "watch/watch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- per-address counts (eng->lock) ---------------------------------------- */

static unsigned addr_hash(const char *a)
{
    uint32_t h = 2166136261u;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h & (ADDR_SLOTS - 1);
}

/* The slot of addr, or where it would go; NULL when the table is full. */
static struct addr_slot *addr_slot(struct jg_watch_engine *eng, const char *addr, bool insert)
{
    if (!eng->addrs && !(eng->addrs = calloc(ADDR_SLOTS, sizeof(*eng->addrs))))
        return NULL;
    unsigned h = addr_hash(addr);
    struct addr_slot *free_slot = NULL;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        struct addr_slot *s = &eng->addrs[(h + i) & (ADDR_SLOTS - 1)];
        if (s->addr[0] && strcmp(s->addr, addr) == 0)
            return s;
        if (!s->addr[0] && !free_slot)
            free_slot = s;
        if (!s->addr[0] && s->count == 0)
            break; /* never used: addr is not further on */
    }
    if (!insert || !free_slot)
        return NULL;
    snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
    free_slot->count = 0;
    return free_slot;
}

/* Slots emptied keep count -1 as a tombstone so that probing goes on. */
static void addr_put(struct jg_watch_engine *eng, const char *addr)
{
    struct addr_slot *s = addr && *addr ? addr_slot(eng, addr, false) : NULL;
    if (s && --s->count <= 0) {
        s->addr[0] = '\0';
        s->count = -1;
    }
}

/* --- per-token counts (eng->lock) ------------------------------------------ */

/* Counts a watcher of token; false over max.  *counted says whether it was
 * counted (no token, no limit or no free slot: not counted). */
static bool token_take(struct jg_watch_engine *eng, const void *token, int64_t max, bool *counted)
{
    int slot = -1;
    *counted = false;
    if (!token || max <= 0)
        return true;
    for (int i = 0; i < TOKEN_SLOTS; i++) {
        if (eng->tokens[i].token == token) {
            slot = i;
            break;
        }
        if (slot < 0 && eng->tokens[i].n == 0)
            slot = i;
    }
    if (slot < 0)
        return true;
    if (eng->tokens[slot].token != token) {
        eng->tokens[slot].token = token;
        eng->tokens[slot].n = 0;
    }
    if (eng->tokens[slot].n >= max)
        return false;
    eng->tokens[slot].n++;
    *counted = true;
    return true;
}

static void token_put(struct jg_watch_engine *eng, const void *token)
{
    for (int i = 0; token && i < TOKEN_SLOTS; i++) {
        if (eng->tokens[i].token == token && eng->tokens[i].n > 0) {
            eng->tokens[i].n--;
            break;
        }
    }
}

/* --- places ------------------------------------------------------------------ */

jg_status jg_watch_reserve(struct jg_watch_engine *eng, const char *addr, const void *token,
                           struct jg_watch_place *place, const char **ret_detail)
{
    jg_status st = JG_ERR_TOO_MANY_REQUESTS;
    bool counted = false;
    const char *addr_s = addr ? addr : "";
    int64_t per_token = __atomic_load_n(&eng->cfg->max_watchers_per_token, __ATOMIC_RELAXED);

    memset(place, 0, sizeof(*place));
    if (!jg_nats_connected(eng->nats)) {
        *ret_detail = "not connected to NATS; retry later";
        return JG_ERR_NATS_UNAVAILABLE;
    }
    pthread_mutex_lock(&eng->lock);
    if (!token_take(eng, token, per_token, &counted)) {
        *ret_detail = "too many watch streams open for this token";
        goto out;
    }
    *ret_detail = "too many watch streams open; retry later";
    if (eng->open + eng->reserved >= eng->cfg->max_watchers)
        goto out;
    if (*addr_s) {
        struct addr_slot *s = addr_slot(eng, addr_s, true);
        if (s && s->count < 0)
            s->count = 0;
        if (s && eng->cfg->max_watchers_per_ip > 0 && s->count >= eng->cfg->max_watchers_per_ip) {
            if (s->count == 0)
                addr_put(eng, addr_s);
            goto out;
        }
        if (s)
            s->count++;
    }
    eng->reserved++;
    snprintf(place->addr, sizeof(place->addr), "%s", addr_s);
    place->token = counted ? token : NULL;
    place->held = true;
    st = JG_OK;
    *ret_detail = NULL;
out:
    if (st != JG_OK && counted)
        token_put(eng, token);
    pthread_mutex_unlock(&eng->lock);
    return st;
}

void jg_limits_put(struct jg_watch_engine *eng, const char *addr, const void *token)
{
    addr_put(eng, addr);
    token_put(eng, token);
}

void jg_watch_unreserve(struct jg_watch_engine *eng, struct jg_watch_place *place)
{
    if (!place->held)
        return;
    place->held = false;
    pthread_mutex_lock(&eng->lock);
    eng->reserved--;
    jg_limits_put(eng, place->addr, place->token);
    pthread_mutex_unlock(&eng->lock);
}
