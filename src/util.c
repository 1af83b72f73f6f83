/* util.c - shared helpers (see util.h). */
#include "autoconfig.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/base64.h>

void jg_buf_init(struct jg_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void jg_buf_done(struct jg_buf *b)
{
    free(b->data);
    jg_buf_init(b);
}

static jg_status buf_reserve(struct jg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return JG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return JG_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return JG_OK;
}

jg_status jg_buf_append(struct jg_buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != JG_OK)
        return JG_ERR_NOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return JG_OK;
}

jg_status jg_buf_puts(struct jg_buf *b, const char *s)
{
    return jg_buf_append(b, s, strlen(s));
}

jg_status jg_buf_printf(struct jg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != JG_OK)
        return JG_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return JG_OK;
}

char *jg_buf_take(struct jg_buf *b, size_t *ret_len)
{
    char *d = b->data;
    if (ret_len)
        *ret_len = b->len;
    if (!d)
        d = calloc(1, 1);
    jg_buf_init(b);
    return d;
}

int64_t jg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jg_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void split_ns(int64_t unix_ns, time_t *sec, long *nsec)
{
    int64_t s = unix_ns / 1000000000LL;
    int64_t n = unix_ns % 1000000000LL;
    if (n < 0) {
        n += 1000000000LL;
        s -= 1;
    }
    *sec = (time_t)s;
    *nsec = (long)n;
}

/* Two and four decimal digits (the callers check the ranges). */
static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put4(char *p, int v)
{
    return put2(put2(p, v / 100), v % 100);
}

void jg_time_rfc3339(int64_t unix_ns, char out[40])
{
    time_t sec;
    long nsec;
    struct tm tm;
    split_ns(unix_ns, &sec, &nsec);
    gmtime_r(&sec, &tm);
    size_t n;
    int year = tm.tm_year + 1900;
    if (year >= 0 && year <= 9999) {
        /* the hot path of every KV answer: no strftime */
        char *p = put4(out, year);
        *p++ = '-';
        p = put2(p, tm.tm_mon + 1);
        *p++ = '-';
        p = put2(p, tm.tm_mday);
        *p++ = 'T';
        p = put2(p, tm.tm_hour);
        *p++ = ':';
        p = put2(p, tm.tm_min);
        *p++ = ':';
        p = put2(p, tm.tm_sec);
        n = (size_t)(p - out);
    } else {
        n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    if (nsec) {
        char frac[10];
        int fl = 9;
        for (int i = 8; i >= 0; i--, nsec /= 10)
            frac[i] = (char)('0' + nsec % 10);
        while (fl > 1 && frac[fl - 1] == '0')
            fl--;
        out[n++] = '.';
        memcpy(out + n, frac, (size_t)fl);
        n += (size_t)fl;
    }
    out[n++] = 'Z';
    out[n] = '\0';
}

static int parse_digits(const char **p, int count, int *ret)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *ret = v;
    return 0;
}

jg_status jg_time_parse_rfc3339(const char *s, int64_t *ret_unix_ns)
{
    const char *p = s;
    int y, mo, d, h, mi, se;
    long frac = 0;
    int64_t off = 0;
    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return JG_ERR_INVALID_PARAMETER;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) || *p++ != ':' ||
        parse_digits(&p, 2, &se))
        return JG_ERR_INVALID_PARAMETER;
    if (*p == '.') {
        p++;
        int nd = 0;
        if (!isdigit((unsigned char)*p))
            return JG_ERR_INVALID_PARAMETER;
        while (isdigit((unsigned char)*p)) {
            if (nd < 9) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        while (nd++ < 9)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
            return JG_ERR_INVALID_PARAMETER;
        off = sign * ((int64_t)oh * 3600 + om * 60);
    } else {
        return JG_ERR_INVALID_PARAMETER;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return JG_ERR_INVALID_PARAMETER;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    /* years before 1678 or after 2261 do not fit in int64 nanoseconds */
    int64_t ns;
    if (__builtin_mul_overflow((int64_t)t - off, 1000000000LL, &ns) ||
        __builtin_add_overflow(ns, frac, &ns))
        return JG_ERR_INVALID_PARAMETER;
    *ret_unix_ns = ns;
    return JG_OK;
}

void jg_time_http(int64_t unix_ns, char out[32])
{
    time_t sec;
    long nsec;
    struct tm tm;
    split_ns(unix_ns, &sec, &nsec);
    gmtime_r(&sec, &tm);
    static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
                 mn[tm.tm_mon], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return;
    }
    char *p = out;
    memcpy(p, wd[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, mn[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put4(p, year);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
}

jg_status jg_u64_parse(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 20)
        return JG_ERR_INVALID_PARAMETER;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return JG_ERR_INVALID_PARAMETER;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return JG_ERR_INVALID_PARAMETER;
        v = v * 10 + d;
    }
    *ret = v;
    return JG_OK;
}

jg_status jg_duration_parse(const char *s, int64_t *ret_ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    uint64_t whole;
    if (!s || !*s)
        return JG_ERR_INVALID_PARAMETER;
    if (jg_u64_parse(s, &whole) == JG_OK) {
        if (whole > INT64_MAX)
            return JG_ERR_INVALID_PARAMETER;
        *ret_ns = (int64_t)whole;
        return JG_OK;
    }
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            return JG_ERR_INVALID_PARAMETER;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno)
            return JG_ERR_INVALID_PARAMETER;
        p = end;
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0 && ul > best) {
                best = ul;
                mul = units[i].ns;
            }
        }
        if (!best)
            return JG_ERR_INVALID_PARAMETER;
        p += best;
        total += v * mul;
        if (total > 9.2e18)
            return JG_ERR_INVALID_PARAMETER;
    }
    *ret_ns = (int64_t)total;
    return JG_OK;
}

jg_status jg_size_parse(const char *s, int64_t *ret_bytes)
{
    static const struct {
        const char *suffix;
        int64_t mul;
    } sfx[] = {{"", 1}, {"B", 1}, {"K", 1024}, {"KiB", 1024}, {"KB", 1024},
               {"M", 1 << 20}, {"MiB", 1 << 20}, {"MB", 1 << 20},
               {"G", 1LL << 30}, {"GiB", 1LL << 30}, {"GB", 1LL << 30}};
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return JG_ERR_INVALID_PARAMETER;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return JG_ERR_INVALID_PARAMETER;
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (strcmp(end, sfx[i].suffix) == 0) {
            if (v > (unsigned long long)(INT64_MAX / sfx[i].mul))
                return JG_ERR_INVALID_PARAMETER;
            *ret_bytes = (int64_t)v * sfx[i].mul;
            return JG_OK;
        }
    }
    return JG_ERR_INVALID_PARAMETER;
}

char *jg_base64_encode(const void *data, size_t len, bool url)
{
    struct base64_encode_ctx ctx;
    char *out = malloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);
    if (!out)
        return NULL;
    if (url)
        base64url_encode_init(&ctx);
    else
        base64_encode_init(&ctx);
    size_t n = base64_encode_update(&ctx, out, len, data);
    n += base64_encode_final(&ctx, out + n);
    out[n] = '\0';
    return out;
}

jg_status jg_base64_decode(const char *s, size_t slen, bool url, char **ret_data, size_t *ret_len)
{
    struct base64_decode_ctx ctx;
    char *out = malloc(BASE64_DECODE_LENGTH(slen) + 1);
    size_t n = BASE64_DECODE_LENGTH(slen) + 1;
    if (!out)
        return JG_ERR_NOMEM;
    if (url)
        base64url_decode_init(&ctx);
    else
        base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &n, (uint8_t *)out, slen, s) || !base64_decode_final(&ctx)) {
        free(out);
        return JG_ERR_INVALID_PARAMETER;
    }
    out[n] = '\0';
    *ret_data = out;
    *ret_len = n;
    return JG_OK;
}

char *jg_pct_encode_header(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '%') {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

size_t jg_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void jg_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

char **jg_strv_dup(char *const *v)
{
    size_t n = jg_strv_len(v);
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++) {
        if (!(out[i] = strdup(v[i]))) {
            jg_strv_free(out);
            return NULL;
        }
    }
    return out;
}

jg_status jg_strv_add(char ***v, const char *s)
{
    size_t n = jg_strv_len(*v);
    char **nv = realloc(*v, (n + 2) * sizeof(char *));
    if (!nv)
        return JG_ERR_NOMEM;
    *v = nv;
    if (!(nv[n] = strdup(s))) {
        nv[n] = NULL;
        return JG_ERR_NOMEM;
    }
    nv[n + 1] = NULL;
    return JG_OK;
}
