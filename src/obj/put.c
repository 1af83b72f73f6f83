/* put.c - the streaming put session of the object store (see obj.h).
 *
 * Data arrives through jg_obj_put_write() on the loop thread, is cut into
 * chunks and published to "$O.<b>.C.<nuid>" with at most WINDOW chunks
 * unacknowledged; acknowledgements arrive on the loop thread.  The
 * meta message is the commit point; after it the previous version's chunks
 * are purged.  Any failure before the commit purges the new chunks, so the
 * previous version stays the visible one and nothing is left behind.
 * The meta message carries a Nats-Msg-Id (the client's Idempotency-Key, or
 * one of this upload's own) and is sent again when NATS does not answer in
 * time, so a leader election costs a retry, not the upload.  Once it has
 * been sent, its chunks are never purged on failure: a message that is only
 * late would otherwise land pointing at nothing.  If its outcome stays
 * unknown the client gets 504 and the chunks wait for the janitor.
 *
 * One mutex guards the session.  Callbacks to the owner (wake, done) are
 * made without it held.  Data offered before the start checks are done
 * (bucket, previous version, preconditions) is refused for now and wake
 * follows.  The phase only moves forward:
 * STARTING -> STREAMING -> COMMITTING -> FINISHED -> DONE, or from STREAMING
 * or COMMITTING -> FAILING -> CLEANING -> FINISHED -> DONE. */
#include "autoconfig.h"
#include "obj/obj.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/sha2.h>

#include "log.h"
#include "nats/buckets.h"
#include "nats/conn.h"
#include "util.h"
#include "nats/subjects.h"

#define WINDOW 6

enum phase { PH_STARTING, PH_STREAMING, PH_COMMITTING, PH_FAILING, PH_CLEANING, PH_FINISHED, PH_DONE };
enum action { A_NONE, A_WAKE, A_DONE, A_PURGE_NEW, A_META };
enum recheck { RECHECK_UNKNOWN, RECHECK_412, RECHECK_DUP };

struct slot {
    struct jg_nats_req r;
    struct jg_obj_put *p;
    bool used;
};

struct jg_obj_put {
    struct jg_app *app;
    pthread_mutex_t lock;
    struct jg_obj_put_events ev;
    void *ctx;
    /* request */
    char *bucket, *name, *description, *if_match, *msg_id;
    cJSON *headers;
    uint64_t chunk_req;
    int64_t declared;
    bool has_digest;
    uint8_t want[32];
    enum jg_obj_cond cond;
    /* bucket and previous version */
    struct jg_bucket_info binfo;
    struct jg_nats_req lookup;
    struct jg_obj_info *old;
    /* new version */
    char nuid[23];
    char chunk_subj[300];
    uint64_t chunk_size;
    char *buf;
    size_t buf_len;
    struct sha256_ctx sha;
    char digest[54];
    uint64_t total, chunks;
    struct slot slots[WINDOW + 2];
    int outstanding;
    /* state */
    enum phase phase;
    jg_status err;
    char detail[256];
    jg_status final_st;
    bool ended, aborted, short_pending, dup;
    struct jg_obj_info *result;
    /* commit */
    char own_msg_id[40];     /* Nats-Msg-Id of the meta when the client gave none */
    int64_t commit_deadline; /* meta attempts stop here */
    bool meta_sent;          /* a meta message may be stored: never purge the new chunks */
    enum recheck recheck;    /* what a stored meta of another upload means */
};

static void put_free(struct jg_obj_put *p)
{
    free(p->bucket);
    free(p->name);
    free(p->description);
    free(p->if_match);
    free(p->msg_id);
    cJSON_Delete(p->headers);
    jg_obj_info_free(p->old);
    jg_obj_info_free(p->result);
    free(p->buf);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Records the first failure (lock held). */
static void set_err(struct jg_obj_put *p, jg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(struct jg_obj_put *p, jg_status st, const char *fmt, ...)
{
    va_list ap;
    if (p->err)
        return;
    p->err = st;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
    va_end(ap);
}

/* What to do next (lock held).  sync: called on the thread that feeds the
 * session, which may take done at once. */
static enum action decide(struct jg_obj_put *p, bool sync)
{
    if (p->phase == PH_STREAMING) {
        if (p->err) {
            p->phase = PH_FAILING;
        } else if (p->ended && p->outstanding == 0) {
            p->phase = PH_COMMITTING;
            return A_META;
        } else if (p->short_pending && p->outstanding < WINDOW && !sync) {
            p->short_pending = false;
            return A_WAKE;
        }
    }
    if (p->phase == PH_FAILING && p->outstanding == 0) {
        if (p->chunks > 0) {
            p->phase = PH_CLEANING;
            return A_PURGE_NEW;
        }
        p->phase = PH_FINISHED;
        p->final_st = p->err;
    }
    if (p->phase == PH_FINISHED && (p->short_pending || p->ended || p->aborted || sync)) {
        p->phase = PH_DONE;
        return A_DONE;
    }
    return A_NONE;
}

static void commit(struct jg_obj_put *p);
static void on_cleaned(void *ctx, jg_status st, uint64_t n);

static void deliver_done(struct jg_obj_put *p)
{
    jg_status st = p->final_st;
    p->ev.done(p->ctx, st, st == JG_OK ? "" : p->detail, st == JG_OK ? p->result : NULL);
    put_free(p);
}

static void act(struct jg_obj_put *p, enum action a)
{
    switch (a) {
    case A_WAKE:
        p->ev.wake(p->ctx);
        break;
    case A_DONE:
        deliver_done(p);
        break;
    case A_PURGE_NEW:
        jg_obj_purge_subject(p->app, p->bucket, p->chunk_subj, on_cleaned, p);
        break;
    case A_META:
        commit(p);
        break;
    case A_NONE:
        break;
    }
}

static void kick(struct jg_obj_put *p, bool sync)
{
    pthread_mutex_lock(&p->lock);
    enum action a = decide(p, sync);
    pthread_mutex_unlock(&p->lock);
    act(p, a);
}

/* --- chunks --------------------------------------------------------------- */

static void on_chunk_ack(void *ctx, jg_status st, natsMsg *msg)
{
    struct slot *s = ctx;
    struct jg_obj_put *p = s->p;
    JG_ASSERT_LOOP_THREAD(p->app->nats);
    cJSON *json = NULL;
    char desc[256] = "";

    if (st == JG_OK && jg_nats_msg_status(msg) == 503) {
        natsMsg_Destroy(msg);
        st = jg_buckets_no_responders(p->app->buckets, JG_BUCKET_OBJ, p->bucket);
        snprintf(desc, sizeof(desc), "%s", st == JG_ERR_BUCKET_NOT_FOUND
                                               ? "the bucket is gone"
                                               : "the bucket's stream has no leader right now");
    } else if (st == JG_OK) {
        st = jg_js_reply_json(msg, &json, NULL, desc, sizeof(desc));
    } else {
        snprintf(desc, sizeof(desc), "%s", jg_status_title(st));
    }
    cJSON_Delete(json);
    pthread_mutex_lock(&p->lock);
    s->used = false;
    p->outstanding--;
    if (st == JG_ERR_INSUFFICIENT_STORAGE)
        set_err(p, st, "the bucket has no room left for this object (%s)", desc);
    else if (st != JG_OK)
        set_err(p, st, "storing a chunk failed: %s", desc);
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}

/* Publishes the buffered chunk (lock held; released during the publish). */
static bool publish_locked(struct jg_obj_put *p)
{
    struct slot *s = NULL;
    for (size_t i = 0; i < sizeof(p->slots) / sizeof(p->slots[0]); i++) {
        if (!p->slots[i].used) {
            s = &p->slots[i];
            break;
        }
    }
    if (!s) {
        set_err(p, JG_ERR_INTERNAL, "no free chunk slot");
        return false;
    }
    s->used = true;
    s->p = p;
    p->outstanding++;
    p->chunks++;
    size_t n = p->buf_len;
    pthread_mutex_unlock(&p->lock);
    jg_status st = jg_nats_request(p->app->nats, &s->r, p->chunk_subj, NULL, p->buf, n,
                                   JG_NATS_WRITE, 0, on_chunk_ack, s);
    pthread_mutex_lock(&p->lock);
    if (st != JG_OK) {
        s->used = false;
        p->outstanding--;
        set_err(p, st, "cannot publish a chunk: %s", jg_status_title(st));
        return false;
    }
    p->buf_len = 0;
    return true;
}

size_t jg_obj_put_write(struct jg_obj_put *p, const void *data, size_t len)
{
    const char *d = data;
    size_t taken = 0;
    pthread_mutex_lock(&p->lock);
    if (p->phase == PH_STREAMING && !p->err) {
        for (;;) {
            if (p->buf_len == p->chunk_size) {
                if (p->outstanding >= WINDOW || !publish_locked(p))
                    break;
            }
            if (taken == len)
                break;
            size_t n = len - taken;
            if (n > p->chunk_size - p->buf_len)
                n = p->chunk_size - p->buf_len;
            memcpy(p->buf + p->buf_len, d + taken, n);
            sha256_update(&p->sha, n, (const uint8_t *)d + taken);
            p->buf_len += n;
            p->total += n;
            taken += n;
        }
    }
    if (taken == len) {
        pthread_mutex_unlock(&p->lock);
        return taken;
    }
    enum action a = A_NONE;
    if (p->phase != PH_STARTING && (p->phase != PH_STREAMING || p->err))
        a = decide(p, true);
    if (a != A_DONE)
        p->short_pending = true;
    pthread_mutex_unlock(&p->lock);
    act(p, a);
    return taken;
}

/* All data is in: last chunk, size and digest checks (lock held). */
static void finalize_locked(struct jg_obj_put *p)
{
    uint8_t sha[32];
    if (p->buf_len > 0)
        publish_locked(p);
    if (!p->err && p->declared >= 0 && (int64_t)p->total != p->declared)
        set_err(p, JG_ERR_INVALID_PARAMETER, "the body ended after %llu of %lld bytes",
                (unsigned long long)p->total, (long long)p->declared);
    sha256_digest(&p->sha, sizeof(sha), sha);
    jg_obj_digest_format(sha, p->digest);
    if (!p->err && p->has_digest && memcmp(sha, p->want, 32) != 0)
        set_err(p, JG_ERR_DIGEST_MISMATCH,
                "Content-Digest does not match the received bytes (they hash to %s)", p->digest);
}

void jg_obj_put_end(struct jg_obj_put *p)
{
    pthread_mutex_lock(&p->lock);
    p->ended = true;
    if (p->phase == PH_STREAMING && !p->err)
        finalize_locked(p);
    enum action a = decide(p, false);
    pthread_mutex_unlock(&p->lock);
    act(p, a);
}

void jg_obj_put_abort(struct jg_obj_put *p)
{
    pthread_mutex_lock(&p->lock);
    p->aborted = true;
    if (p->phase == PH_STREAMING || p->phase == PH_STARTING)
        set_err(p, JG_ERR_INVALID_PARAMETER, "the client left before the upload ended");
    enum action a = decide(p, true);
    pthread_mutex_unlock(&p->lock);
    act(p, a);
}

/* --- commit ------------------------------------------------------------------- */

static void finish(struct jg_obj_put *p, jg_status st)
{
    pthread_mutex_lock(&p->lock);
    p->phase = PH_FINISHED;
    p->final_st = st;
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}

static void fail_commit(struct jg_obj_put *p, jg_status st, const char *detail)
{
    pthread_mutex_lock(&p->lock);
    set_err(p, st, "%s", detail);
    p->phase = PH_FAILING;
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}

static void on_old_purged(void *ctx, jg_status st, uint64_t n)
{
    struct jg_obj_put *p = ctx;
    if (st != JG_OK)
        jg_warn("obj: purging the previous chunks of '%s' in '%s' failed: %s", p->name, p->bucket,
                jg_status_title(st));
    finish(p, JG_OK);
}

static void committed(struct jg_obj_put *p, uint64_t seq)
{
    p->result->revision = seq;
    p->result->stored_ns = jg_realtime_ns();
    const struct jg_obj_info *o = p->old;
    if (o && !o->deleted && !o->is_link && o->nuid && *o->nuid && strcmp(o->nuid, p->nuid) != 0) {
        char subj[300];
        jg_subj_obj_chunks(p->bucket, o->nuid, subj, sizeof(subj));
        jg_obj_purge_subject(p->app, p->bucket, subj, on_old_purged, p);
        return;
    }
    finish(p, JG_OK);
}

/* The outcome of the meta message is unknown (no answer in time, even to
 * the retries): it may still be stored, so the new chunks stay (the janitor
 * removes them if no meta message ever refers to them) and the client
 * hears 504 nats_timeout, which tells it the upload may or may not be
 * visible. */
static void leave_unknown(struct jg_obj_put *p)
{
    jg_warn("obj: the meta message of '%s' in '%s' was not confirmed in time; its chunks "
            "%s are kept (the upload may still appear, else the janitor removes them)",
            p->name, p->bucket, p->chunk_subj);
    pthread_mutex_lock(&p->lock);
    set_err(p, JG_ERR_NATS_TIMEOUT, "NATS did not confirm the meta message in time; the upload "
                                    "may or may not have been stored");
    p->phase = PH_FINISHED;
    p->final_st = p->err;
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}

/* Is the stored meta message this upload's own? */
static bool is_own(const struct jg_obj_put *p, jg_status st, const struct jg_obj_info *info)
{
    return st == JG_OK && info && info->nuid && strcmp(info->nuid, p->nuid) == 0 && !info->deleted;
}

static void duplicate(struct jg_obj_put *p);

/* After a meta message whose fate was unknown (no answer in time, or a
 * retry refused), the stored meta tells: this upload's own is committed;
 * another one means RECHECK_UNKNOWN: still unknown (a late message may
 * land), RECHECK_412: the retry's precondition failure was real (a
 * definitive answer settles the earlier attempts too), RECHECK_DUP: the
 * client's Idempotency-Key was used by another stored upload. */
static void on_recheck(void *ctx, jg_status st, struct jg_obj_info *info,
                       const struct jg_bucket_info *binfo)
{
    struct jg_obj_put *p = ctx;
    if (is_own(p, st, info)) {
        uint64_t seq = info->revision;
        jg_obj_info_free(info);
        committed(p, seq);
        return;
    }
    jg_obj_info_free(info);
    if (st != JG_OK || p->recheck == RECHECK_UNKNOWN)
        leave_unknown(p);
    else if (p->recheck == RECHECK_412)
        fail_commit(p, JG_ERR_PRECONDITION_FAILED, "the object changed during the upload");
    else
        duplicate(p);
}

static void recheck(struct jg_obj_put *p, enum recheck why)
{
    p->recheck = why;
    jg_obj_info_get(p->app, p->bucket, p->name, on_recheck, p);
}

static void on_dup_info(void *ctx, jg_status st, struct jg_obj_info *info,
                        const struct jg_bucket_info *binfo)
{
    struct jg_obj_put *p = ctx;
    if (st == JG_OK) {
        jg_obj_info_free(p->result);
        p->result = info;
        finish(p, JG_OK);
        return;
    }
    jg_obj_info_free(info);
    pthread_mutex_lock(&p->lock);
    p->err = st;
    snprintf(p->detail, sizeof(p->detail), "repeated upload: cannot read the stored version");
    pthread_mutex_unlock(&p->lock);
    finish(p, st);
}

static void on_cleaned(void *ctx, jg_status st, uint64_t n)
{
    struct jg_obj_put *p = ctx;
    if (st != JG_OK)
        jg_warn("obj: removing the chunks of a failed upload of '%s' in '%s' failed: %s", p->name,
                p->bucket, jg_status_title(st));
    if (p->dup) {
        /* the same Idempotency-Key was stored before: answer with that version */
        jg_obj_info_get(p->app, p->bucket, p->name, on_dup_info, p);
        return;
    }
    finish(p, p->err);
}

/* Another upload with the same Idempotency-Key is stored: answer with it,
 * and drop this upload's chunks. */
static void duplicate(struct jg_obj_put *p)
{
    pthread_mutex_lock(&p->lock);
    p->dup = true;
    p->phase = PH_CLEANING;
    pthread_mutex_unlock(&p->lock);
    act(p, A_PURGE_NEW);
}

static void meta_send(struct jg_obj_put *p);

static void on_committed(void *ctx, jg_status st, uint64_t seq)
{
    struct jg_obj_put *p = ctx;
    switch (st) {
    case JG_OK:
        committed(p, seq);
        return;
    case JG_ERR_NATS_TIMEOUT:
        /* lost or only late (a leader election): the same message again,
         * with the same Nats-Msg-Id, is stored at most once */
        p->meta_sent = true;
        if (jg_now_ms() + p->app->cfg.request_timeout_ms / 4 < p->commit_deadline) {
            meta_send(p);
            return;
        }
        recheck(p, RECHECK_UNKNOWN);
        return;
    case JG_ERR_OBJECT_EXISTS:
        if (!p->msg_id) {
            committed(p, seq); /* an earlier attempt of this upload was stored */
            return;
        }
        if (p->meta_sent) {
            recheck(p, RECHECK_DUP);
            return;
        }
        duplicate(p);
        return;
    default:
        if (p->meta_sent) {
            /* an earlier attempt may be the stored one */
            recheck(p, st == JG_ERR_PRECONDITION_FAILED ? RECHECK_412 : RECHECK_UNKNOWN);
            return;
        }
        fail_commit(p, st, st == JG_ERR_PRECONDITION_FAILED ? "the object changed during the upload"
                                                            : jg_status_title(st));
        return;
    }
}

static void meta_send(struct jg_obj_put *p)
{
    int64_t expect = -1;
    if (p->cond != JG_OBJ_COND_NONE)
        expect = p->old ? (int64_t)p->old->revision : 0;
    jg_obj_meta_write(p->app, p->bucket, p->result, expect, p->msg_id ? p->msg_id : p->own_msg_id,
                      on_committed, p);
}

static void commit(struct jg_obj_put *p)
{
    char when[40];
    struct jg_obj_info *i = calloc(1, sizeof(*i));
    if (!i || !(i->name = strdup(p->name)) || !(i->bucket = strdup(p->bucket)) ||
        !(i->nuid = strdup(p->nuid)) || !(i->digest = strdup(p->digest))) {
        jg_obj_info_free(i);
        fail_commit(p, JG_ERR_NOMEM, "out of memory");
        return;
    }
    if (p->description && *p->description)
        i->description = strdup(p->description);
    if (p->headers && p->headers->child)
        i->headers = cJSON_Duplicate(p->headers, true);
    i->max_chunk_size = (uint32_t)p->chunk_size;
    i->size = p->total;
    i->chunks = p->chunks;
    jg_time_rfc3339(jg_realtime_ns(), when);
    i->mtime = strdup(when);
    p->result = i;
    snprintf(p->own_msg_id, sizeof(p->own_msg_id), "jetgate-obj-%s", p->nuid);
    p->commit_deadline = jg_now_ms() + 2 * p->app->cfg.request_timeout_ms;
    meta_send(p);
}

/* --- start ---------------------------------------------------------------------- */

/* The put cannot start: done follows once the feeding side asks for it. */
static void start_fail(struct jg_obj_put *p, jg_status st, const char *detail)
{
    pthread_mutex_lock(&p->lock);
    set_err(p, st, "%s", detail);
    p->phase = PH_FINISHED;
    p->final_st = p->err;
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}


static void on_old(void *ctx, jg_status st, struct jg_obj_info *info,
                   const struct jg_bucket_info *binfo)
{
    struct jg_obj_put *p = ctx;
    if (st == JG_ERR_OBJECT_NOT_FOUND) {
        st = JG_OK;
        info = NULL;
    }
    if (st != JG_OK) {
        jg_obj_info_free(info);
        start_fail(p, st, jg_status_title(st));
        return;
    }
    p->old = info;
    bool live = info && !info->deleted;
    if (p->cond == JG_OBJ_COND_ABSENT && live) {
        start_fail(p, JG_ERR_PRECONDITION_FAILED, "the object exists (If-None-Match: *)");
        return;
    }
    if (p->cond == JG_OBJ_COND_DIGEST &&
        (!live || info->is_link || !jg_obj_etag_list_matches(p->if_match, info->digest, false))) {
        start_fail(p, JG_ERR_PRECONDITION_FAILED,
                   live ? "the object's digest is not the one in If-Match"
                        : "the object does not exist (If-Match)");
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->phase = PH_STREAMING;
    if (p->ended && !p->err)
        finalize_locked(p);
    pthread_mutex_unlock(&p->lock);
    kick(p, false);
}

static void on_bucket(void *ctx, jg_status st, const struct jg_bucket_info *binfo)
{
    struct jg_obj_put *p = ctx;
    char d[200];
    if (st != JG_OK) {
        start_fail(p, st, st == JG_ERR_BUCKET_NOT_FOUND ? "no such object bucket" : jg_status_title(st));
        return;
    }
    p->binfo = *binfo;
    if (binfo->sealed) {
        start_fail(p, JG_ERR_BUCKET_SEALED, "the bucket is sealed");
        return;
    }
    if (binfo->max_bytes > 0 && p->declared > binfo->max_bytes) {
        snprintf(d, sizeof(d), "the object (%lld bytes) is larger than the bucket's max_bytes (%lld)",
                 (long long)p->declared, (long long)binfo->max_bytes);
        start_fail(p, JG_ERR_PAYLOAD_TOO_LARGE, d);
        return;
    }
    uint64_t cs = p->chunk_req ? p->chunk_req : JG_OBJ_DEFAULT_CHUNK;
    int64_t mp = jg_nats_max_payload(p->app->nats);
    if (mp > 0 && cs > (uint64_t)mp)
        cs = (uint64_t)mp;
    if (binfo->max_msg_size > 0 && cs > (uint64_t)binfo->max_msg_size)
        cs = (uint64_t)binfo->max_msg_size;
    if (cs > UINT32_MAX)
        cs = UINT32_MAX;
    p->chunk_size = cs;
    if (!(p->buf = malloc(cs)) || jg_obj_nuid(p->nuid) != JG_OK) {
        start_fail(p, JG_ERR_NOMEM, "out of memory");
        return;
    }
    jg_subj_obj_chunks(p->bucket, p->nuid, p->chunk_subj, sizeof(p->chunk_subj));
    jg_obj_info_get(p->app, p->bucket, p->name, on_old, p);
}

void jg_obj_put_begin(struct jg_app *app, const struct jg_obj_put_opts *o,
                      const struct jg_obj_put_events *ev, void *ctx, struct jg_obj_put **ret)
{
    struct jg_obj_put *p = calloc(1, sizeof(*p));
    if (!p) {
        cJSON_Delete(o->headers);
        *ret = NULL;
        return;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->app = app;
    p->ev = *ev;
    p->ctx = ctx;
    p->headers = o->headers;
    p->bucket = strdup(o->bucket);
    p->name = strdup(o->name);
    p->description = o->description ? strdup(o->description) : NULL;
    p->if_match = o->if_match ? strdup(o->if_match) : NULL;
    p->msg_id = o->msg_id ? strdup(o->msg_id) : NULL;
    p->chunk_req = o->chunk_size;
    p->declared = o->declared_size;
    p->has_digest = o->has_digest;
    memcpy(p->want, o->digest, 32);
    p->cond = o->cond;
    sha256_init(&p->sha);
    *ret = p;
    if (!p->bucket || !p->name || (o->description && !p->description) ||
        (o->if_match && !p->if_match) || (o->msg_id && !p->msg_id)) {
        start_fail(p, JG_ERR_NOMEM, "out of memory");
        return;
    }
    jg_buckets_lookup(app->buckets, JG_BUCKET_OBJ, p->bucket, &p->lookup, on_bucket, p);
}
