/* fuzz_router.c - jg_router_match() on raw request paths.
 *
 * Input: the first byte picks the method (GET ... OPTIONS, or an unknown
 * one), the rest is the raw path as libmicrohttpd hands it over (not
 * decoded).  Checks that a match names a route of that method, that bucket
 * and key are present exactly when the pattern has them, and that a 405
 * carries the allowed methods. */
#include "autoconfig.h"

#include <stdbool.h>

#include "fuzz_common.h"
#include "http/router.h"

static const char *const methods[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS",
                                      "BREW"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jg_route_match m;
    char allow[128];
    if (size < 1)
        return 0;
    const char *mname = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    int method = jg_method_from_name(mname);
    char *path = fuzz_str(data + 1, size - 1);

    jg_status st = jg_router_match(path, method, &m);
    if (st == JG_OK) {
        FUZZ_ASSERT(m.route != NULL);
        FUZZ_ASSERT(m.route->methods & method);
        FUZZ_ASSERT(m.allow & method);
        if (strstr(m.route->pattern, "{bucket}"))
            FUZZ_ASSERT(m.bucket != NULL);
        else
            FUZZ_ASSERT(m.bucket == NULL);
        if (!strstr(m.route->pattern, "*}"))
            FUZZ_ASSERT(m.key == NULL);
    } else {
        FUZZ_ASSERT(m.route == NULL);
        if (st == JG_ERR_METHOD_NOT_ALLOWED)
            FUZZ_ASSERT(m.allow != 0 && !(m.allow & method));
    }
    jg_methods_text(m.allow, allow, sizeof(allow));
    FUZZ_ASSERT(strlen(allow) < sizeof(allow));
    /* a short buffer must truncate, never overflow */
    jg_methods_text(m.allow, allow, 1 + data[0] % 16);
    free(m.bucket);
    free(m.key);
    free(path);
    return 0;
}
