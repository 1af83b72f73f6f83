/* h_ui.c - the web console: the files of ui/ (compiled in, ui_files.h) at
 * /ui/, public, with a strict Content-Security-Policy; the page then calls
 * the API with the user's token like any client.  Option `ui` turns it
 * off (404). */
#include "autoconfig.h"
#include "http/handlers.h"

#include <string.h>

#include "http/ui_files.h"

/* Scripts, styles and requests only from jetgate itself; no inline script,
 * no frames, no plugins, no form posts elsewhere. */
#define UI_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "              \
    "img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct jg_ui_file *find_file(const char *name)
{
    for (const struct jg_ui_file *f = jg_ui_files; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* If-None-Match holds etag (or is "*"): a list of quoted tags, W/ allowed. */
static bool etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    if (!inm)
        return false;
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '*' || (strncmp(p, etag, n) == 0 && strchr(" \t,", p[n])))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

void jg_h_ui(struct jg_req *req)
{
    const struct jg_ui_file *f;
    struct jg_resp *resp = &req->resp;

    if (!req->app->cfg.ui) {
        jg_req_fail(req, JG_ERR_NOT_FOUND, "the web console is off (option ui)");
        return;
    }
    if (!req->key) { /* "/ui": the page's links are relative to "/ui/" */
        jg_resp_status(resp, 308);
        jg_resp_header(resp, "Location", "/ui/");
        jg_req_done(req);
        return;
    }
    f = find_file(*req->key ? req->key : "index.html");
    if (!f) {
        jg_req_fail(req, JG_ERR_NOT_FOUND, "no such file in the web console");
        return;
    }
    jg_resp_header(resp, "ETag", "%s", f->etag);
    jg_resp_header(resp, "Cache-Control", "no-cache");
    jg_resp_header(resp, "Content-Security-Policy", "%s", UI_CSP);
    jg_resp_header(resp, "X-Content-Type-Options", "nosniff");
    jg_resp_header(resp, "Referrer-Policy", "no-referrer");
    jg_resp_header(resp, "X-Frame-Options", "DENY");
    if (etag_matches(jg_req_header(req, "If-None-Match"), f->etag)) {
        jg_resp_status(resp, 304);
    } else {
        jg_resp_status(resp, 200);
        jg_resp_header(resp, "Content-Type", "%s", f->type);
        if (jg_resp_body_copy(resp, f->data, f->size) != JG_OK) {
            jg_req_fail(req, JG_ERR_NOMEM, "out of memory");
            return;
        }
    }
    jg_req_done(req);
}
