/* log.h - levelled logging to stderr.
 *
 * Under systemd (JOURNAL_STREAM set) lines carry sd-daemon "<N>" priority
 * prefixes and no timestamp; elsewhere an RFC 3339 UTC timestamp.  Safe to
 * call from any thread.  Never pass secrets. */
#ifndef JG_LOG_H
#define JG_LOG_H

#include "status.h"

enum jg_log_level { JG_LOG_ERROR, JG_LOG_WARN, JG_LOG_INFO, JG_LOG_DEBUG };

/* Parses "error", "warn", "info", "debug".  Returns JG_ERR_INVALID_CONFIG on
 * anything else; *ret_level is written only on success. */
jg_status jg_log_level_parse(const char *s, enum jg_log_level *ret_level);

void jg_log_set_level(enum jg_log_level level);
int jg_log_enabled(enum jg_log_level level);
void jg_log(enum jg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define jg_err(...) jg_log(JG_LOG_ERROR, __VA_ARGS__)
#define jg_warn(...) jg_log(JG_LOG_WARN, __VA_ARGS__)
#define jg_info(...) jg_log(JG_LOG_INFO, __VA_ARGS__)
#define jg_debug(...) \
    do { if (jg_log_enabled(JG_LOG_DEBUG)) jg_log(JG_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
