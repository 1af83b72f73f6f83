/* json.h - JSON helpers shared by the HTTP side and the NATS side. */
#ifndef JG_JSON_H
#define JG_JSON_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* Turns the integral numbers of item's tree from 1e15 up (and any integer
 * near INT64_MAX, as a double, into INT64_MAX) into raw integer literals:
 * cJSON prints them in exponent form (2.592e+15), which nats-server, Go's
 * int64 fields and JSON clients reading integers refuse.  false when out
 * of memory (item then partly converted). */
bool jg_json_ints_raw(cJSON *item);

#endif
