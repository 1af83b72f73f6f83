/* fuzz_config.c - jg_config_parse_file(): the config file, read through
 * fmemopen(), over the built-in defaults (as jg_config_load does).
 *
 * The parser reports bad lines on stderr; run with -close_fd_mask=2 to
 * keep the output short (run.sh does). */
#include "autoconfig.h"

#include <stdbool.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jg_config cfg;
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    FUZZ_ASSERT(jg_config_defaults(&cfg) == JG_OK);
    jg_status st = jg_config_parse_file(&cfg, f, "fuzz.conf");
    FUZZ_ASSERT(st == JG_OK || st == JG_ERR_INVALID_CONFIG || st == JG_ERR_NOMEM);
    if (st == JG_OK) {
        /* every bounded option is still within its bounds */
        for (const struct jg_option *o = jg_options; o->name; o++) {
            if (o->type != JG_OPT_INT && o->type != JG_OPT_SIZE && o->type != JG_OPT_DURATION)
                continue;
            int64_t v = *(const int64_t *)((const char *)&cfg + o->offset);
            /* a number without a default stays -1 (unset) until given */
            FUZZ_ASSERT((v >= o->min && v <= o->max) || (!o->def && v == -1));
        }
    }
    fclose(f);
    jg_config_free(&cfg);
    return 0;
}
