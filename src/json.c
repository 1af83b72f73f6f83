/* json.c - JSON helpers (see json.h). */
#include "autoconfig.h"
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* v as an int64 (INT64_MAX for 2^63, which is how INT64_MAX reads back as
 * a double); false when v is beyond int64. */
static bool as_i64(double v, int64_t *ret)
{
    if (v == 9223372036854775808.0)
        *ret = INT64_MAX;
    else if (v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        *ret = (int64_t)v;
    else
        return false;
    return true;
}

bool jg_json_ints_raw(cJSON *item)
{
    for (cJSON *c = item->child; c; c = c->next) {
        if (cJSON_IsNumber(c)) {
            double v = c->valuedouble;
            char buf[32];
            int64_t n;
            if (v > -1e15 && v < 1e15)
                continue; /* cJSON prints these as integers already */
            if (!as_i64(v, &n) || v != (double)n)
                continue; /* beyond int64, or not integral */
            snprintf(buf, sizeof(buf), "%lld", (long long)n);
            char *text = strdup(buf);
            if (!text)
                return false;
            /* in place, so the member keeps its name; cJSON_Delete frees
             * valuestring whatever the type */
            c->type = cJSON_Raw | (c->type & cJSON_StringIsConst);
            c->valuestring = text;
        } else if (c->child && !jg_json_ints_raw(c)) {
            return false;
        }
    }
    return true;
}
