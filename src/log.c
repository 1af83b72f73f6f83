/* log.c - levelled logging to stderr (see log.h). */
#include "autoconfig.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int log_level = JG_LOG_INFO;
static int log_journal = -1;

static const struct {
    const char *name;
    int sd_prio;
} levels[] = {
    [JG_LOG_ERROR] = {"error", 3},
    [JG_LOG_WARN] = {"warn", 4},
    [JG_LOG_INFO] = {"info", 6},
    [JG_LOG_DEBUG] = {"debug", 7},
};

jg_status jg_log_level_parse(const char *s, enum jg_log_level *ret_level)
{
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcmp(s, levels[i].name) == 0) {
            *ret_level = (enum jg_log_level)i;
            return JG_OK;
        }
    }
    return JG_ERR_INVALID_CONFIG;
}

void jg_log_set_level(enum jg_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int jg_log_enabled(enum jg_log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

void jg_log(enum jg_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (!jg_log_enabled(level))
        return;
    if (log_journal < 0)
        log_journal = getenv("JOURNAL_STREAM") != NULL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_journal) {
        fprintf(stderr, "<%d>%s\n", levels[level].sd_prio, msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000L, levels[level].name, msg);
}
