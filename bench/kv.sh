#!/usr/bin/env bash
# jetgate KV benchmark: jetgate (driven by wrk) against a direct libnats client
# (bench/kv_direct), both talking to the same private nats-server, in
# alternating rounds. See bench/README.md.
#
# Usage (from the build directory):   make bench-kv
#                             or:     bash bench/kv.sh
#
# Environment:
#   ROUNDS=3          rounds per (op, connections); median is reported
#   DURATION=10       seconds per run
#   QUICK=1           smoke test: ROUNDS=1 DURATION=2, 64 connections only,
#                     fails on HTTP/NATS errors but never on performance targets,
#                     and does not touch bench/RESULTS.md unless RESULTS is set
#   CONNS="1 64"      concurrency levels;  OPS="get put": operations
#   JETGATE=src/jetgate  KV_DIRECT=bench/kv_direct  NATS_SERVER=nats-server  WRK=wrk
#   RESULTS=bench/RESULTS.md (next to this script) where the results go
#   CHECK_TARGETS=1   exit 3 when a performance target is missed (full mode only)
#   KEEP_TMP=1        keep the temporary directory (logs, raw results)
#
# Exit status: 0 ok; 1 setup failure, HTTP errors or a failed direct-client run;
# 3 every run was clean but a performance target was missed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1}
    DURATION=${DURATION:-2}
    CONNS=${CONNS:-64}
else
    ROUNDS=${ROUNDS:-3}
    DURATION=${DURATION:-10}
    CONNS=${CONNS:-1 64}
fi
OPS=${OPS:-get put}
JETGATE=${JETGATE:-src/jetgate}
KV_DIRECT=${KV_DIRECT:-bench/kv_direct}
NATS_SERVER=${NATS_SERVER:-nats-server}
WRK=${WRK:-wrk}
CHECK_TARGETS=${CHECK_TARGETS:-1}
BUCKET=bench
NKEYS=1000
VALUE_SIZE=100
IDLE_SETTLE=3
IDLE_WINDOW=5

log() { printf '[kv.sh] %s\n' "$*" >&2; }
fail() { printf '[kv.sh] error: %s\n' "$*" >&2; exit 1; }

case "$ROUNDS" in '' | *[!0-9]* | 0) fail "ROUNDS must be a positive integer, got '$ROUNDS'" ;; esac
case "$DURATION" in '' | *[!0-9]* | 0) fail "DURATION must be a positive integer (seconds), got '$DURATION'" ;; esac

# ---- prerequisites ---------------------------------------------------------
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: $2"
}
need_cmd "$WRK" "install it (Debian: apt-get install wrk) or set WRK=/path/to/wrk"
need_cmd "$NATS_SERVER" "install it (Debian: apt-get install nats-server) or set NATS_SERVER=..."
need_cmd curl "install it (Debian: apt-get install curl)"
need_cmd getconf "it is part of libc-bin"
[ -x "$JETGATE" ] || fail "jetgate binary '$JETGATE' not found or not executable: build it (make) or set JETGATE=..."
[ -x "$KV_DIRECT" ] || fail "direct client '$KV_DIRECT' not found: build it (make bench/kv_direct) or set KV_DIRECT=..."
for f in get.lua put.lua wrk_common.lua; do
    [ -r "$BENCH_DIR/$f" ] || fail "missing $BENCH_DIR/$f"
done
JETGATE=$(cd "$(dirname "$JETGATE")" && pwd)/$(basename "$JETGATE")
KV_DIRECT=$(cd "$(dirname "$KV_DIRECT")" && pwd)/$(basename "$KV_DIRECT")

if [ -z "${RESULTS:-}" ]; then
    if [ "$QUICK" = 1 ]; then RESULTS=; else RESULTS=$BENCH_DIR/RESULTS.md; fi
fi

CLK_TCK=$(getconf CLK_TCK)

# ---- temp dir and cleanup ----------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/jetgate-bench.XXXXXX")
NATS_PID=
JG_PID=
CHILD_PID=

stop_pid() { # pid
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$CHILD_PID"
    stop_pid "$JG_PID"
    stop_pid "$NATS_PID"
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "kept temporary directory $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -------------------------------------------------------------------

# A loopback TCP port that nothing is bound to (checked in /proc/net/tcp{,6}).
port_in_use() { # port
    awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p" && [ "$p" != "${NATS_PORT:-}" ]; then
            echo "$p"
            return 0
        fi
    done
    fail "no free loopback port found"
}

# CPU seconds (user+system, all threads) used so far by a process, in ticks.
cpu_ticks() { # pid
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return 0; }
    stat=${stat##*) }            # drop "pid (comm) ", comm may hold spaces
    # shellcheck disable=SC2086
    set -- $stat                 # $1 = state (field 3): utime = field 14, stime = 15
    echo $(( ${12} + ${13} ))
}

jg_alive() { [ -n "$JG_PID" ] && kill -0 "$JG_PID" 2>/dev/null; }

jg_log_tail() {
    local rc
    if [ -n "$JG_PID" ] && ! kill -0 "$JG_PID" 2>/dev/null; then
        rc=0; wait "$JG_PID" 2>/dev/null || rc=$?
        if [ "$rc" -gt 128 ]; then
            log "jetgate (pid $JG_PID) was killed by signal $((rc - 128)) ($(kill -l "$((rc - 128))" 2>/dev/null || echo '?'))"
        else
            log "jetgate (pid $JG_PID) exited with status $rc"
        fi
        JG_PID=
    fi
    if [ -s "$TMP/jetgate.log" ]; then
        log "last lines of the jetgate log:"
        tail -n 20 "$TMP/jetgate.log" >&2
    fi
}

# Value of a numeric (or bare) field in a flat JSON object.
jfield() { # json key
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# Median of numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf(f, v) }'; }

http_code() { # curl args...: prints the status code, body to $TMP/http_body
    curl -sS -o "$TMP/http_body" -w '%{http_code}' --max-time 10 "$@" || echo 000
}

# ---- start nats-server ------------------------------------------------------------
NATS_PORT=$(free_port)
NATS_URL="nats://127.0.0.1:$NATS_PORT"
log "starting nats-server on 127.0.0.1:$NATS_PORT (store $TMP/store)"
"$NATS_SERVER" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$TMP/store" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
ready=0
for i in $(seq 1 100); do
    kill -0 "$NATS_PID" 2>/dev/null || { cat "$TMP/nats.log" >&2; fail "nats-server exited during start-up"; }
    if grep -q "Server is ready" "$TMP/nats.log"; then ready=1; break; fi
    sleep 0.1
done
[ "$ready" = 1 ] || { cat "$TMP/nats.log" >&2; fail "nats-server not ready after 10 s"; }

# ---- start jetgate --------------------------------------------------------------------
HTTP_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
log "starting $JETGATE on 127.0.0.1:$HTTP_PORT"
"$JETGATE" --listen "127.0.0.1:$HTTP_PORT" --nats "$NATS_URL" --log-level warn >"$TMP/jetgate.log" 2>&1 &
JG_PID=$!
ready=0
for i in $(seq 1 200); do
    jg_alive || { jg_log_tail; fail "jetgate exited during start-up"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/readyz" || true)
    if [ "$code" = 200 ]; then ready=1; break; fi
    sleep 0.1
done
[ "$ready" = 1 ] || { jg_log_tail; fail "jetgate: GET /readyz did not answer 200 within 20 s (last: $code)"; }

# ---- bucket and data ------------------------------------------------------------------
code=$(http_code -X PUT -H 'Content-Type: application/json' -d '{"history":1}' "$BASE/v1/kvm/buckets/$BUCKET")
case "$code" in
    200 | 201) ;;
    *) cat "$TMP/http_body" >&2 || true; echo >&2; jg_log_tail; fail "PUT /v1/kvm/buckets/$BUCKET answered $code" ;;
esac

log "preloading k0..k$((NKEYS - 1)) with $VALUE_SIZE-byte values through jetgate"
head -c "$VALUE_SIZE" /dev/zero | tr '\0' 'v' >"$TMP/value"
{
    for i in $(seq 0 $((NKEYS - 1))); do
        printf 'url = "%s/v1/kv/%s/k%d"\noutput = "/dev/null"\n' "$BASE" "$BUCKET" "$i"
    done
} >"$TMP/preload.cfg"
curl -sS --max-time 120 -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary "@$TMP/value" -w '%{http_code}\n' \
    --config "$TMP/preload.cfg" >"$TMP/preload.codes" 2>"$TMP/preload.err" || true
n_ok=$(grep -c '^201$' "$TMP/preload.codes" || true)
if [ "$n_ok" != "$NKEYS" ]; then
    cat "$TMP/preload.err" >&2 || true
    log "status codes seen: $(sort "$TMP/preload.codes" | uniq -c | tr '\n' ' ')"
    jg_log_tail
    fail "preload: only $n_ok of $NKEYS PUTs answered 201"
fi
code=$(http_code "$BASE/v1/kv/$BUCKET/k$((NKEYS - 1))")
body_len=$(wc -c <"$TMP/http_body")
if [ "$code" != 200 ] || [ "$body_len" != "$VALUE_SIZE" ]; then
    fail "GET /v1/kv/$BUCKET/k$((NKEYS - 1)) after preload: status $code, $body_len bytes (want 200, $VALUE_SIZE)"
fi

# ---- runs -----------------------------------------------------------------------------
RAW=$TMP/runs.tsv   # op conns round order side rate p50_ms p99_ms cpu_us_per_op errors note
: >"$RAW"
ERRORS=0
JG_CPU_DURING_DIRECT_MAX=0   # jetgate CPU (fraction of a core) while only the direct client ran

run_direct() { # op conns round order
    local op=$1 n=$2 out rc t0 t1 jg_cpu
    t0=$(cpu_ticks "$JG_PID")
    "$KV_DIRECT" --url "$NATS_URL" --bucket "$BUCKET" --op "$op" --threads "$n" \
        --duration "$DURATION" --keys "$NKEYS" --value-size "$VALUE_SIZE" \
        >"$TMP/direct.out" 2>"$TMP/direct.err" &
    CHILD_PID=$!
    rc=0; wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    t1=$(cpu_ticks "$JG_PID")
    jg_alive || { jg_log_tail; fail "jetgate died while the direct client ran ($op c$n round $3; it had no HTTP traffic then)"; }
    out=$(tail -n 1 "$TMP/direct.out")
    printf '%s\n' "$out" >>"$TMP/direct.jsonl"
    local rate p50 p99 cpu ops errs
    rate=$(jfield "$out" rate); p50=$(jfield "$out" p50_ms); p99=$(jfield "$out" p99_ms)
    cpu=$(jfield "$out" cpu_seconds)
    ops=$(jfield "$out" ops); errs=$(jfield "$out" errors)
    if [ "$rc" != 0 ] || [ -z "$rate" ] || [ "${ops:-0}" = 0 ]; then
        cat "$TMP/direct.err" >&2 || true
        log "direct $op c$n round $3: FAILED (exit $rc) $out"
        ERRORS=$((ERRORS + 1))
        printf '%s\t%s\t%s\t%s\tdirect\tnan\tnan\tnan\tnan\t%s\tfailed\n' "$op" "$n" "$3" "$4" "${errs:-?}" >>"$RAW"
        return 0
    fi
    local us
    us=$(awk -v c="$cpu" -v o="$ops" 'BEGIN { printf("%.2f", c * 1e6 / o) }')
    jg_cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v d="$DURATION" 'BEGIN { printf("%.3f", (b - a) / hz / d) }')
    JG_CPU_DURING_DIRECT_MAX=$(awk -v a="$JG_CPU_DURING_DIRECT_MAX" -v b="$jg_cpu" 'BEGIN { print (b > a) ? b : a }')
    printf '%s\t%s\t%s\t%s\tdirect\t%s\t%s\t%s\t%s\t%s\tjetgate_cpu_meanwhile=%s\n' \
        "$op" "$n" "$3" "$4" "$rate" "$p50" "$p99" "$us" "${errs:-0}" "$jg_cpu" >>"$RAW"
    log "direct  $op c$n round $3: $(fmt "$rate" '%.0f')/s p50 ${p50} ms p99 ${p99} ms, $us us CPU/op"
}

run_wrk() { # op conns round order
    local op=$1 n=$2 t out rc t0 t1
    t=2; [ "$n" -lt 2 ] && t=$n
    jg_alive || { jg_log_tail; fail "jetgate is no longer running (before wrk $op c$n round $3)"; }
    t0=$(cpu_ticks "$JG_PID")
    BENCH_BUCKET=$BUCKET BENCH_KEYS=$NKEYS BENCH_VALUE_SIZE=$VALUE_SIZE \
        "$WRK" -t"$t" -c"$n" -d"${DURATION}s" --timeout 5s -s "$BENCH_DIR/$op.lua" "$BASE" \
        >"$TMP/wrk.run" 2>&1 &
    CHILD_PID=$!
    rc=0; wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    out=$(cat "$TMP/wrk.run")
    t1=$(cpu_ticks "$JG_PID")
    printf '%s\n' "$out" >>"$TMP/wrk.out"
    local line
    line=$(printf '%s\n' "$out" | sed -n 's/^WRK_RESULT //p' | tail -n 1)
    if [ "$rc" != 0 ] || [ -z "$line" ]; then
        printf '%s\n' "$out" >&2
        log "wrk $op c$n round $3: FAILED (exit $rc)"
        ERRORS=$((ERRORS + 1))
        printf '%s\t%s\t%s\t%s\tjetgate\tnan\tnan\tnan\tnan\t?\twrk failed\n' "$op" "$n" "$3" "$4" >>"$RAW"
        return 0
    fi
    local reqs rate p50 p99 non2xx first_bad ce re we to errs
    reqs=$(jfield "$line" requests); rate=$(jfield "$line" rate)
    p50=$(jfield "$line" p50_ms); p99=$(jfield "$line" p99_ms)
    non2xx=$(jfield "$line" non2xx); first_bad=$(jfield "$line" first_bad_status)
    ce=$(jfield "$line" connect_errors); re=$(jfield "$line" read_errors)
    we=$(jfield "$line" write_errors); to=$(jfield "$line" timeouts)
    errs=$((non2xx + ce + re + we + to))
    local note="ok"
    if [ "$errs" -gt 0 ] || [ "$reqs" = 0 ] || [ "$t0" = -1 ] || [ "$t1" = -1 ]; then
        note="ERRORS: non2xx=$non2xx (first status $first_bad) connect=$ce read=$re write=$we timeout=$to requests=$reqs"
        [ "$t1" = -1 ] && note="$note; jetgate died"
        ERRORS=$((ERRORS + 1))
        log "wrk $op c$n round $3: $note"
    fi
    local us
    us=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v r="$reqs" \
        'BEGIN { if (r > 0 && a >= 0 && b >= 0) printf("%.2f", (b - a) / hz * 1e6 / r); else print "nan" }')
    printf '%s\t%s\t%s\t%s\tjetgate\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$op" "$n" "$3" "$4" "$rate" "$p50" "$p99" "$us" "$errs" "$note" >>"$RAW"
    log "jetgate $op c$n round $3: $(fmt "$rate" '%.0f')/s p50 ${p50} ms p99 ${p99} ms, $us us CPU/op, errors $errs"
    jg_alive || { jg_log_tail; fail "jetgate died during wrk $op c$n round $3"; }
}

log "runs: ops [$OPS], connections [$CONNS], $ROUNDS round(s) of ${DURATION}s each side"
for op in $OPS; do
    for n in $CONNS; do
        for r in $(seq 1 "$ROUNDS"); do
            if [ $((r % 2)) = 1 ]; then
                run_direct "$op" "$n" "$r" 1
                run_wrk "$op" "$n" "$r" 2
            else
                run_wrk "$op" "$n" "$r" 1
                run_direct "$op" "$n" "$r" 2
            fi
        done
    done
done

# ---- idle check -------------------------------------------------------------------------
log "idle check: ${IDLE_SETTLE}s settle, then jetgate CPU over ${IDLE_WINDOW}s"
sleep "$IDLE_SETTLE"
jg_alive || { jg_log_tail; fail "jetgate is no longer running at the idle check"; }
t0=$(cpu_ticks "$JG_PID")
sleep "$IDLE_WINDOW"
t1=$(cpu_ticks "$JG_PID")
IDLE_CORE=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v d="$IDLE_WINDOW" 'BEGIN { printf("%.4f", (b - a) / hz / d) }')
IDLE_PCT=$(awk -v c="$IDLE_CORE" 'BEGIN { printf("%.1f", c * 100) }')
IDLE_OK=$(awk -v c="$IDLE_CORE" 'BEGIN { print (c <= 0.02) ? "yes" : "no" }')
log "jetgate idle CPU: $IDLE_PCT% of a core ($([ "$IDLE_OK" = yes ] && echo ok || echo 'ABOVE 2%'))"

# ---- summary ----------------------------------------------------------------------------
col() { # op conns side column -> values (skips nan)
    awk -F'\t' -v op="$1" -v n="$2" -v s="$3" -v c="$4" \
        '$1 == op && $2 == n && $5 == s && $c != "nan" { print $c }' "$RAW"
}
med() { # op conns side column
    local vals
    vals=$(col "$@")
    # shellcheck disable=SC2086 # one number per word
    if [ -z "$vals" ]; then echo nan; else median $vals; fi
}

TABLE=$TMP/table.md
MISSES=0
MISS_LIST=
miss() { MISSES=$((MISSES + 1)); MISS_LIST="$MISS_LIST
- $*"; }
{
    echo "| op | conns | direct rate (/s) | jetgate rate (/s) | ratio | direct p99 (ms) | jetgate p99 (ms) | direct CPU (us/op) | jetgate CPU (us/op) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"
for op in $OPS; do
    for n in $CONNS; do
        d_rate=$(med "$op" "$n" direct 6); j_rate=$(med "$op" "$n" jetgate 6)
        d_p99=$(med "$op" "$n" direct 8); j_p99=$(med "$op" "$n" jetgate 8)
        d_us=$(med "$op" "$n" direct 9); j_us=$(med "$op" "$n" jetgate 9)
        ratio=$(awk -v a="$j_rate" -v b="$d_rate" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf("%.2f", a / b) }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$op" "$n" \
            "$(fmt "$d_rate" '%.0f')" "$(fmt "$j_rate" '%.0f')" "$(fmt "$ratio" '%.2fx')" \
            "$(fmt "$d_p99" '%.2f')" "$(fmt "$j_p99" '%.2f')" "$(fmt "$d_us" '%.1f')" "$(fmt "$j_us" '%.1f')" >>"$TABLE"
        # targets
        want=0.7; [ "$n" -ge 64 ] && want=1.0
        if awk -v r="$ratio" -v w="$want" 'BEGIN { exit !(r == "nan" || r < w) }'; then
            miss "$op c$n: jetgate/direct rate $(fmt "$ratio" '%.2fx') (target >= ${want}x)"
        fi
        if [ "$n" -ge 64 ]; then
            if awk -v p="$j_p99" 'BEGIN { exit !(p == "nan" || p >= 10) }'; then
                miss "$op c$n: jetgate p99 $(fmt "$j_p99" '%.2f') ms (target < 10 ms)"
            fi
            if awk -v a="$j_us" -v b="$d_us" 'BEGIN { exit !(a == "nan" || b == "nan" || a >= b) }'; then
                miss "$op c$n: jetgate CPU $(fmt "$j_us" '%.1f') us/op vs direct $(fmt "$d_us" '%.1f') (target: less)"
            fi
        fi
    done
done
[ "$IDLE_OK" = yes ] || miss "idle: jetgate used $IDLE_PCT% of a core while idle (target ~0, at most 2%)"

cat "$TABLE" >&2

NATS_VERSION=$("$NATS_SERVER" --version 2>&1 | head -n 1)
LIBNATS_VERSION=$("$KV_DIRECT" --version 2>/dev/null | sed -n 's/.*libnats \([^)]*\)).*/\1/p')
[ -n "$LIBNATS_VERSION" ] || LIBNATS_VERSION=$(pkg-config --modversion libnats 2>/dev/null || echo unknown)
JG_VERSION=$("$JETGATE" --version 2>/dev/null | head -n 1 || true)
WRK_VERSION=$("$WRK" -v 2>&1 | head -n 1 | awk '{print $1" "$2}' || true)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
NPROC=$(nproc)

write_results() { # file
    local out=$1 marker='<!-- results -->' prose tail=''
    # the object store section (bench/obj.sh) follows ours: keep it
    if [ -f "$out" ] && grep -qF '<!-- obj results -->' "$out"; then
        tail=$(sed -n '/<!-- obj results -->/,$p' "$out")
    fi
    if [ -f "$out" ] && grep -qF "$marker" "$out"; then
        prose=$(sed "/$marker/q" "$out")
    elif [ -f "$out" ]; then
        prose="$(cat "$out")

$marker"
    else
        prose="# jetgate KV benchmark results

$marker"
    fi
    {
        printf '%s\n\n' "$prose"
        echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' (QUICK smoke run: numbers are not meaningful)')"
        echo
        echo "Machine: $NPROC cores, $CPU_MODEL; kernel $(uname -r)."
        echo "Versions: ${NATS_VERSION:-nats-server ?}; libnats $LIBNATS_VERSION; ${JG_VERSION:-jetgate ?}; ${WRK_VERSION:-wrk ?}."
        echo "Method: median of $ROUNDS alternating round(s) of ${DURATION} s per side; $NKEYS keys, $VALUE_SIZE-byte values, bucket history 1."
        echo
        cat "$TABLE"
        echo
        echo "Idle: jetgate used $IDLE_PCT% of a core over ${IDLE_WINDOW} s, ${IDLE_SETTLE} s after the last load run ($([ "$IDLE_OK" = yes ] && echo 'ok' || echo 'ABOVE the 2% limit'))."
        echo "While the direct client ran (jetgate connected but unused), jetgate used at most $(awk -v c="$JG_CPU_DURING_DIRECT_MAX" 'BEGIN { printf("%.1f", c * 100) }')% of a core."
        echo
        if [ "$ERRORS" -gt 0 ]; then
            echo "**$ERRORS run(s) had errors: their numbers are not valid.** See the runs below."
        else
            echo "Errors: none (every HTTP response 2xx, no socket errors or timeouts, every direct-client operation succeeded)."
        fi
        echo
        if [ "$MISSES" -gt 0 ]; then
            echo "Targets missed:$MISS_LIST"
        else
            echo "Targets: all met."
        fi
        echo
        echo "<details><summary>Every run</summary>"
        echo
        echo "| op | conns | round | order | side | rate (/s) | p50 (ms) | p99 (ms) | CPU (us/op) | errors | note |"
        echo "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        awk -F'\t' '{ printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) }' "$RAW"
        echo
        echo "</details>"
        if [ -n "$tail" ]; then
            echo
            printf '%s\n' "$tail"
        fi
    } >"$out.tmp"
    mv "$out.tmp" "$out"
}

if [ -n "$RESULTS" ]; then
    write_results "$RESULTS"
    log "results written to $RESULTS"
else
    write_results "$TMP/RESULTS.md"
    cat "$TMP/RESULTS.md" >&2
fi

if [ "$ERRORS" -gt 0 ]; then
    log "FAILED: $ERRORS run(s) had errors"
    exit 1
fi
if [ "$MISSES" -gt 0 ]; then
    log "targets missed:$MISS_LIST"
    if [ "$QUICK" != 1 ] && [ "$CHECK_TARGETS" = 1 ]; then
        exit 3
    fi
fi
log "done"
