/* upload.c - a streamed upload's body on its way to the handler: pieces
 * offered to on_body, the upload paused (its connection suspended) when the
 * handler takes less, and woken from any thread. */
#include "autoconfig.h"
#include "http/server_int.h"

void jg_http_upload_wake(struct jg_req *req)
{
    int expect = GATE_PAUSED;
    if (atomic_compare_exchange_strong(&srv(req)->upload_gate, &expect, GATE_RUNNING)) {
        jg_http_upload_clock_pause(srv(req)->http, srv(req)->conn, false);
        jg_http_resume_conn(srv(req)->http, srv(req)->conn);
        return;
    }
    expect = GATE_RUNNING;
    atomic_compare_exchange_strong(&srv(req)->upload_gate, &expect, GATE_WAKE);
}

/* Loop thread: on_body took less than offered. */
static void upload_pause(struct jg_req *req)
{
    int expect = GATE_RUNNING;
    MHD_suspend_connection(srv(req)->conn);
    jg_http_upload_clock_pause(srv(req)->http, srv(req)->conn, true);
    if (!atomic_compare_exchange_strong(&srv(req)->upload_gate, &expect, GATE_PAUSED)) {
        jg_http_upload_clock_pause(srv(req)->http, srv(req)->conn, false);
        /* woken already: carry on with the rest of the body */
        atomic_store(&srv(req)->upload_gate, GATE_RUNNING);
        jg_http_resume_conn(srv(req)->http, srv(req)->conn);
    }
}


void jg_req_read_body(struct jg_req *req, jg_body_fn on_body, jg_body_end_fn on_end)
{
    bool suspended = srv(req)->suspended;
    srv(req)->on_body = on_body;
    srv(req)->on_body_end = on_end;
    atomic_store(&srv(req)->state, ST_STREAM);
    jg_http_upload_clock_start(srv(req)->http, srv(req)->conn);
    if (suspended)
        jg_http_resume_conn(srv(req)->http, srv(req)->conn);
}

void jg_req_resume_upload(struct jg_req *req)
{
    jg_http_upload_wake(req);
}

bool jg_http_upload_piece(struct jg_http *h, struct jg_req *req, const char *data, size_t *size)
{
    size_t n = *size;
    size_t took = srv(req)->on_body(req, data, n);
    if (took > n)
        took = n;
    atomic_fetch_add(&h->bytes_in, took);
    jg_http_upload_clock_add(h, srv(req)->conn, took);
    *size = n - took;
    if (took < n && atomic_load(&srv(req)->state) == ST_STREAM) {
        upload_pause(req);
        return true;
    }
    if (atomic_load(&srv(req)->state) == ST_READY) {
        /* answered within on_body, before the end of the body: this piece
         * and the rest are read away (a piece left untaken without a pause
         * would never be offered again) */
        atomic_store(&srv(req)->state, ST_DISCARD);
        atomic_fetch_add(&h->bytes_in, n - took);
        jg_http_upload_clock_add(h, srv(req)->conn, n - took);
        srv(req)->discarded += n - took;
        *size = 0;
    }
    return false;
}
