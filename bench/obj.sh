#!/usr/bin/env bash
# jetgate object store benchmark: one object uploaded and downloaded through
# jetgate (curl), through a direct libnats client that moves the same chunks
# with no HTTP, digest or meta (bench/obj_direct, the raw ceiling), and through
# the official JavaScript client (@nats-io/obj put/get, bench/obj_js.mjs), all
# on the same private nats-server, in alternating rounds; and jetgate's peak
# resident memory (VmHWM) growth over the whole run.  See bench/README.md.
#
# Usage (from the build directory):   make bench-obj
#                             or:     bash bench/obj.sh
#
# Environment:
#   SIZES_MB="256 1024"  object sizes (MiB);  ROUNDS=3: rounds per size, median reported
#   QUICK=1           smoke test: SIZES_MB=64 ROUNDS=1; fails on errors, never on
#                     performance targets, and does not touch bench/RESULTS.md
#                     unless RESULTS is set
#   WINDOW=32         obj_direct's unacknowledged-chunk window
#   PAR=16 PAR_MB=64  then PAR objects of PAR_MB MiB: uploaded one after the other,
#                     downloaded all at once (PAR curls; obj_direct --parallel PAR);
#                     PAR=0 skips it (QUICK: PAR=4 PAR_MB=16)
#   SIDES="jetgate direct js"  the sides of the single-object runs
#   JETGATE=src/jetgate  OBJ_DIRECT=bench/obj_direct  NATS_SERVER=nats-server  NODE=node
#   NODE_MODULES_DIR  node_modules with @nats-io/transport-node and @nats-io/obj
#                     (default: tests/node_modules of the source tree)
#   RESULTS=bench/RESULTS.md (next to this script); only the part below
#                     "<!-- obj results -->" is replaced (the marker is appended if missing)
#   CHECK_TARGETS=1   exit 3 when a target is missed (full mode only)
#   KEEP_TMP=1        keep the temporary directory (logs, raw results; the data
#                     files and the nats-server store are removed anyway)
#
# Exit status: 0 ok; 1 setup failure, jetgate died, or a transfer failed (HTTP
# status, byte count, digest, or a client's error); 3 every run was clean but a
# target was missed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1}
    SIZES_MB=${SIZES_MB:-64}
    PAR=${PAR:-4}
    PAR_MB=${PAR_MB:-16}
else
    ROUNDS=${ROUNDS:-3}
    SIZES_MB=${SIZES_MB:-256 1024}
    PAR=${PAR:-16}
    PAR_MB=${PAR_MB:-64}
fi
read -r -a SIDES <<<"${SIDES:-jetgate direct js}"
WINDOW=${WINDOW:-32}
JETGATE=${JETGATE:-src/jetgate}
OBJ_DIRECT=${OBJ_DIRECT:-bench/obj_direct}
NATS_SERVER=${NATS_SERVER:-nats-server}
NODE=${NODE:-node}
NODE_MODULES_DIR=${NODE_MODULES_DIR:-$BENCH_DIR/../tests/node_modules}
CHECK_TARGETS=${CHECK_TARGETS:-1}
RSS_LIMIT_MIB=32
TARGET_UP=1.0      # jetgate / (a), upload
TARGET_DOWN=0.8    # jetgate / (a), download (also PAR at once)
JG_BUCKET=jgobj
DIRECT_BUCKET=directobj
JS_BUCKET=jsobj
OBJ_NAME=big

log() { printf '[obj.sh] %s\n' "$*" >&2; }
fail() { printf '[obj.sh] error: %s\n' "$*" >&2; exit 1; }

case "$ROUNDS" in '' | *[!0-9]* | 0) fail "ROUNDS must be a positive integer, got '$ROUNDS'" ;; esac
case "$WINDOW" in '' | *[!0-9]* | 0) fail "WINDOW must be a positive integer, got '$WINDOW'" ;; esac
case "$PAR" in '' | *[!0-9]*) fail "PAR must be a non-negative integer, got '$PAR'" ;; esac
case "$PAR_MB" in '' | *[!0-9]* | 0) fail "PAR_MB must be a positive integer, got '$PAR_MB'" ;; esac
for side in "${SIDES[@]}"; do
    case "$side" in jetgate | direct | js) ;; *) fail "SIDES holds jetgate, direct and js, got '$side'" ;; esac
done
for mb in $SIZES_MB; do
    case "$mb" in '' | *[!0-9]* | 0) fail "SIZES_MB must hold positive integers (MiB), got '$mb'" ;; esac
done

# ---- prerequisites ---------------------------------------------------------
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: $2"
}
need_cmd "$NATS_SERVER" "install it (Debian: apt-get install nats-server) or set NATS_SERVER=..."
need_cmd "$NODE" "install Node.js 18 or later or set NODE=..."
need_cmd curl "install it (Debian: apt-get install curl)"
need_cmd getconf "it is part of libc-bin"
[ -x "$JETGATE" ] || fail "jetgate binary '$JETGATE' not found or not executable: build it (make) or set JETGATE=..."
[ -x "$OBJ_DIRECT" ] || fail "direct client '$OBJ_DIRECT' not found: build it (make bench/obj_direct) or set OBJ_DIRECT=..."
[ -r "$BENCH_DIR/obj_js.mjs" ] || fail "missing $BENCH_DIR/obj_js.mjs"
if [ ! -d "$NODE_MODULES_DIR/@nats-io/obj" ] || [ ! -d "$NODE_MODULES_DIR/@nats-io/transport-node" ]; then
    fail "@nats-io/obj and @nats-io/transport-node not found in $NODE_MODULES_DIR: run 'npm ci' in tests/ or set NODE_MODULES_DIR=..."
fi
JETGATE=$(cd "$(dirname "$JETGATE")" && pwd)/$(basename "$JETGATE")
OBJ_DIRECT=$(cd "$(dirname "$OBJ_DIRECT")" && pwd)/$(basename "$OBJ_DIRECT")
NODE_MODULES_DIR=$(cd "$NODE_MODULES_DIR" && pwd)

if [ -z "${RESULTS:-}" ]; then
    if [ "$QUICK" = 1 ]; then RESULTS=; else RESULTS=$BENCH_DIR/RESULTS.md; fi
fi

CLK_TCK=$(getconf CLK_TCK)

# ---- temp dir and cleanup ----------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/jetgate-objbench.XXXXXX")
NATS_PID=
JG_PID=
CHILD_PID=

stop_pid() { # pid
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
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
    # the big files go in any case
    rm -rf "$TMP/store" "$TMP"/data.*
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "kept temporary directory $TMP (without data files and store)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -------------------------------------------------------------------

port_in_use() { # port
    awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p" && [ "$p" != "${NATS_PORT:-}" ]; then
            echo "$p"
            return 0
        fi
    done
    fail "no free loopback port found"
}

# CPU ticks (user+system, all threads) used so far by a process.
cpu_ticks() { # pid
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return 0; }
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $(( ${12} + ${13} ))
}

# A field of /proc/PID/status in KiB (VmHWM, VmRSS), or -1.
vm_kib() { # pid field
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print -1 }' "/proc/$1/status" 2>/dev/null || echo -1
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

jfield() { # json key
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "" || v == "null") print "n/a"; else printf(f, v) }'; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

http_code() { # curl args...: prints the status code, body to $TMP/http_body
    curl -sS -o "$TMP/http_body" -w '%{http_code}' --max-time 30 "$@" || echo 000
}

# ---- start nats-server ------------------------------------------------------------
UPTIME_START=$(uptime | sed 's/^ *//')
NATS_PORT=$(free_port)
NATS_URL="nats://127.0.0.1:$NATS_PORT"
log "starting nats-server on 127.0.0.1:$NATS_PORT (store $TMP/store)"
"$NATS_SERVER" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$TMP/store" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
ready=0
for _ in $(seq 1 100); do
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
for _ in $(seq 1 200); do
    jg_alive || { jg_log_tail; fail "jetgate exited during start-up"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/readyz" || true)
    if [ "$code" = 200 ]; then ready=1; break; fi
    sleep 0.1
done
[ "$ready" = 1 ] || { jg_log_tail; fail "jetgate: GET /readyz did not answer 200 within 20 s (last: $code)"; }

code=$(http_code -X POST -H 'Content-Type: application/json' -d '{}' "$BASE/v1/objm/buckets/$JG_BUCKET")
case "$code" in
    200 | 201) ;;
    *) cat "$TMP/http_body" >&2 || true; echo >&2; jg_log_tail; fail "POST /v1/objm/buckets/$JG_BUCKET answered $code" ;;
esac

HWM0=$(vm_kib "$JG_PID" VmHWM)
RSS0=$(vm_kib "$JG_PID" VmRSS)
log "jetgate VmHWM before any transfer: $HWM0 KiB (VmRSS $RSS0 KiB)"

# ---- runs -----------------------------------------------------------------------------
# size_mb round order side up_mbps down_mbps dget_mbps jg_up_cpu_s jg_down_cpu_s hwm_kib load note
RAW=$TMP/runs.tsv
: >"$RAW"
ERRORS=0
HWM_AFTER_SIZE=()

record() { # size round order side up down dget cpu_up cpu_down hwm note
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" \
        "${10}" "$(cut -d' ' -f1 /proc/loadavg)" "${11}" >>"$RAW"
}

run_failed() { # size round order side message
    log "$4 ${1} MiB round $2: FAILED: $5"
    ERRORS=$((ERRORS + 1))
    record "$1" "$2" "$3" "$4" nan nan nan nan nan nan "FAILED: $5"
}

run_jetgate() { # size_mb round order file digest
    local mb=$1 file=$4 want=$5 size out code t c0 c1 c2 up down cu cd got hwm body_digest
    size=$((mb * 1048576))
    jg_alive || { jg_log_tail; fail "jetgate is no longer running (before jetgate ${mb} MiB round $2)"; }
    c0=$(cpu_ticks "$JG_PID")
    out=$(curl -sS -T "$file" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
        -o "$TMP/up.json" -w '%{http_code} %{time_total}' --max-time 600 \
        "$BASE/v1/obj/$JG_BUCKET/$OBJ_NAME" 2>"$TMP/curl.err") || true
    c1=$(cpu_ticks "$JG_PID")
    code=${out%% *}; t=${out#* }
    if [ "$code" != 201 ]; then
        run_failed "$mb" "$2" "$3" jetgate "PUT answered '${code:-none}' ($(head -c 300 "$TMP/up.json" 2>/dev/null) $(cat "$TMP/curl.err"))"
        jg_alive || { jg_log_tail; fail "jetgate died during an upload"; }
        return 0
    fi
    body_digest=$(sed -n 's/.*"digest":"\([^"]*\)".*/\1/p' "$TMP/up.json")
    got=$(sed -n 's/.*"size":\([0-9]*\).*/\1/p' "$TMP/up.json")
    if [ "$body_digest" != "$want" ] || [ "$got" != "$size" ]; then
        run_failed "$mb" "$2" "$3" jetgate "PUT stored size $got digest $body_digest, want $size $want"
        return 0
    fi
    up=$(awk -v s="$size" -v t="$t" 'BEGIN { printf("%.1f", s / t / 1e6) }')

    out=$(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}' --max-time 600 \
        "$BASE/v1/obj/$JG_BUCKET/$OBJ_NAME" 2>"$TMP/curl.err") || true
    c2=$(cpu_ticks "$JG_PID")
    # shellcheck disable=SC2086
    set -- "$1" "$2" "$3" $out
    if [ "${4:-}" != 200 ] || [ "${5:-}" != "$size" ]; then
        run_failed "$mb" "$2" "$3" jetgate "GET answered '${4:-none}' with ${5:-?} of $size bytes ($(cat "$TMP/curl.err"))"
        jg_alive || { jg_log_tail; fail "jetgate died during a download"; }
        return 0
    fi
    down=$(awk -v s="$size" -v t="$6" 'BEGIN { printf("%.1f", s / t / 1e6) }')
    cu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf("%.2f", (b - a) / hz) }')
    cd=$(awk -v a="$c1" -v b="$c2" -v hz="$CLK_TCK" 'BEGIN { printf("%.2f", (b - a) / hz) }')
    hwm=$(vm_kib "$JG_PID" VmHWM)
    record "$mb" "$2" "$3" jetgate "$up" "$down" nan "$cu" "$cd" "$hwm" ok
    log "jetgate ${mb} MiB round $2: up $up MB/s, down $down MB/s; jetgate CPU $cu s up, $cd s down; VmHWM $hwm KiB"
    # untimed: remove the object so every upload creates it afresh
    code=$(http_code -X DELETE "$BASE/v1/obj/$JG_BUCKET/$OBJ_NAME")
    [ "$code" = 200 ] || log "warning: DELETE of the object answered $code"
}

run_direct() { # size_mb round order file
    local mb=$1 out rc errs
    "$OBJ_DIRECT" --url "$NATS_URL" --bucket "$DIRECT_BUCKET" --file "$4" --window "$WINDOW" --read both \
        >"$TMP/direct.out" 2>"$TMP/direct.err" &
    CHILD_PID=$!
    rc=0; wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    out=$(tail -n 1 "$TMP/direct.out")
    printf '%s\n' "$out" >>"$TMP/direct.jsonl"
    errs=$(jfield "$out" errors)
    if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ] || [ "$(jfield "$out" size)" != $((mb * 1048576)) ]; then
        cat "$TMP/direct.err" >&2 || true
        run_failed "$mb" "$2" "$3" direct "exit $rc: $out $(tail -n 3 "$TMP/direct.err" | tr '\n' ' ')"
        return 0
    fi
    record "$mb" "$2" "$3" direct "$(jfield "$out" up_mbps)" "$(jfield "$out" down_mbps)" \
        "$(jfield "$out" dget_mbps)" nan nan nan ok
    log "direct  ${mb} MiB round $2: up $(jfield "$out" up_mbps) MB/s, down $(jfield "$out" down_mbps) MB/s (ordered consumer), $(jfield "$out" dget_mbps) MB/s (direct gets)"
}

run_js() { # size_mb round order file digest
    local mb=$1 out rc errs digest
    "$NODE" "$BENCH_DIR/obj_js.mjs" --url "$NATS_URL" --bucket "$JS_BUCKET" --name "$OBJ_NAME" \
        --file "$4" --modules "$NODE_MODULES_DIR" --delete >"$TMP/js.out" 2>"$TMP/js.err" &
    CHILD_PID=$!
    rc=0; wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    out=$(tail -n 1 "$TMP/js.out")
    printf '%s\n' "$out" >>"$TMP/js.jsonl"
    errs=$(jfield "$out" errors)
    digest=$(printf '%s\n' "$out" | sed -n 's/.*"digest":"\([^"]*\)".*/\1/p')
    if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ] || [ "$digest" != "$5" ]; then
        cat "$TMP/js.err" >&2 || true
        run_failed "$mb" "$2" "$3" js "exit $rc, digest $digest (want $5): $out"
        return 0
    fi
    record "$mb" "$2" "$3" js "$(jfield "$out" up_mbps)" "$(jfield "$out" down_mbps)" nan nan nan nan ok
    log "js      ${mb} MiB round $2: up $(fmt "$(jfield "$out" up_mbps)" '%.1f') MB/s, down $(fmt "$(jfield "$out" down_mbps)" '%.1f') MB/s"
}

NSIDES=${#SIDES[@]}
log "runs: sizes [$SIZES_MB] MiB, $ROUNDS round(s), sides ${SIDES[*]} in rotating order, obj_direct window $WINDOW"
for mb in $SIZES_MB; do
    DATA=$TMP/data.$mb
    log "writing $mb MiB of random data to $DATA"
    head -c $((mb * 1048576)) /dev/urandom >"$DATA"
    DIGEST="SHA-256=$("$NODE" -e '
        const h = require("crypto").createHash("sha256");
        require("fs").createReadStream(process.argv[1]).on("data", (d) => h.update(d))
            .on("end", () => console.log(h.digest("base64url") + "="));' "$DATA")"
    [ "${#DIGEST}" = 52 ] || fail "could not compute the SHA-256 digest of $DATA (got '$DIGEST')"
    for r in $(seq 1 "$ROUNDS"); do
        for k in $(seq 0 $((NSIDES - 1))); do
            side=${SIDES[$(((r - 1 + k) % NSIDES))]}
            case $side in
                jetgate) run_jetgate "$mb" "$r" $((k + 1)) "$DATA" "$DIGEST" ;;
                direct) run_direct "$mb" "$r" $((k + 1)) "$DATA" ;;
                js) run_js "$mb" "$r" $((k + 1)) "$DATA" "$DIGEST" ;;
            esac
        done
    done
    HWM_AFTER_SIZE+=("$mb:$(vm_kib "$JG_PID" VmHWM)")
    rm -f "$DATA"
done

# ---- PAR objects at once ----------------------------------------------------------------
# jetgate: PAR uploads one after the other (curl -T), then PAR downloads at once
# (curl -o /dev/null each), timed from the start of the first to the end of the
# last; (a): obj_direct --parallel PAR, the same with PAR ordered consumers.
PKEY="${PAR}x${PAR_MB}"
run_jetgate_par() { # round order file digest
    local size t0 t1 t2 c0 c1 c2 k code pids=() bad=0 up down cu cd hwm
    size=$((PAR_MB * 1048576))
    jg_alive || { jg_log_tail; fail "jetgate is no longer running (before the ${PKEY} round $1)"; }
    c0=$(cpu_ticks "$JG_PID"); t0=$(date +%s.%N)
    for k in $(seq 1 "$PAR"); do
        code=$(curl -sS -T "$3" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
            -o "$TMP/up.$k.json" -w '%{http_code}' --max-time 600 "$BASE/v1/obj/$JG_BUCKET/par$k" \
            2>"$TMP/curl.err") || true
        if [ "$code" != 201 ] || ! grep -qF "\"digest\":\"$4\"" "$TMP/up.$k.json"; then
            run_failed "$PKEY" "$1" "$2" jetgate "PUT par$k answered '${code:-none}' ($(head -c 300 "$TMP/up.$k.json" 2>/dev/null))"
            return 0
        fi
    done
    t1=$(date +%s.%N); c1=$(cpu_ticks "$JG_PID")
    for k in $(seq 1 "$PAR"); do
        curl -sS -o /dev/null -w '%{http_code} %{size_download}' --max-time 600 \
            "$BASE/v1/obj/$JG_BUCKET/par$k" >"$TMP/down.$k.out" 2>"$TMP/down.$k.err" &
        pids+=($!)
    done
    for k in "${!pids[@]}"; do wait "${pids[$k]}" || bad=$((bad + 1)); done
    t2=$(date +%s.%N); c2=$(cpu_ticks "$JG_PID")
    for k in $(seq 1 "$PAR"); do
        [ "$(cat "$TMP/down.$k.out")" = "200 $size" ] || bad=$((bad + 1))
    done
    if [ "$bad" != 0 ]; then
        run_failed "$PKEY" "$1" "$2" jetgate "$bad of $PAR downloads failed ($(cat "$TMP"/down.*.out "$TMP"/down.*.err | head -c 300))"
        jg_alive || { jg_log_tail; fail "jetgate died during the parallel downloads"; }
        return 0
    fi
    up=$(awk -v s="$size" -v n="$PAR" -v a="$t0" -v b="$t1" 'BEGIN { printf("%.1f", n * s / (b - a) / 1e6) }')
    down=$(awk -v s="$size" -v n="$PAR" -v a="$t1" -v b="$t2" 'BEGIN { printf("%.1f", n * s / (b - a) / 1e6) }')
    cu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf("%.2f", (b - a) / hz) }')
    cd=$(awk -v a="$c1" -v b="$c2" -v hz="$CLK_TCK" 'BEGIN { printf("%.2f", (b - a) / hz) }')
    hwm=$(vm_kib "$JG_PID" VmHWM)
    record "$PKEY" "$1" "$2" jetgate "$up" "$down" nan "$cu" "$cd" "$hwm" ok
    log "jetgate ${PKEY} MiB round $1: up $up MB/s (one after the other), down $down MB/s (all at once); CPU $cu s up, $cd s down; VmHWM $hwm KiB"
    for k in $(seq 1 "$PAR"); do
        code=$(http_code -X DELETE "$BASE/v1/obj/$JG_BUCKET/par$k")
        [ "$code" = 200 ] || log "warning: DELETE of par$k answered $code"
    done
}
run_direct_par() { # round order file
    local out rc errs
    "$OBJ_DIRECT" --url "$NATS_URL" --bucket "$DIRECT_BUCKET" --file "$3" --window "$WINDOW" \
        --parallel "$PAR" >"$TMP/direct.out" 2>"$TMP/direct.err" &
    CHILD_PID=$!
    rc=0; wait "$CHILD_PID" || rc=$?
    CHILD_PID=
    out=$(tail -n 1 "$TMP/direct.out")
    printf '%s\n' "$out" >>"$TMP/direct.jsonl"
    errs=$(jfield "$out" errors)
    if [ "$rc" != 0 ] || [ "${errs:-1}" != 0 ]; then
        run_failed "$PKEY" "$1" "$2" direct "exit $rc: $out $(tail -n 3 "$TMP/direct.err" | tr '\n' ' ')"
        return 0
    fi
    record "$PKEY" "$1" "$2" direct "$(jfield "$out" up_mbps)" "$(jfield "$out" down_mbps)" nan nan nan nan ok
    log "direct  ${PKEY} MiB round $1: up $(jfield "$out" up_mbps) MB/s, down $(jfield "$out" down_mbps) MB/s ($PAR ordered consumers)"
}
if [ "$PAR" -gt 0 ]; then
    DATA=$TMP/data.par
    head -c $((PAR_MB * 1048576)) /dev/urandom >"$DATA"
    DIGEST="SHA-256=$("$NODE" -e '
        const h = require("crypto").createHash("sha256");
        require("fs").createReadStream(process.argv[1]).on("data", (d) => h.update(d))
            .on("end", () => console.log(h.digest("base64url") + "="));' "$DATA")"
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            run_jetgate_par "$r" 1 "$DATA" "$DIGEST"; run_direct_par "$r" 2 "$DATA"
        else
            run_direct_par "$r" 1 "$DATA"; run_jetgate_par "$r" 2 "$DATA" "$DIGEST"
        fi
    done
    HWM_AFTER_SIZE+=("$PKEY:$(vm_kib "$JG_PID" VmHWM)")
    rm -f "$DATA"
fi
jg_alive || { jg_log_tail; fail "jetgate is no longer running at the end of the runs"; }
HWM1=$(vm_kib "$JG_PID" VmHWM)
RSS1=$(vm_kib "$JG_PID" VmRSS)
UPTIME_END=$(uptime | sed 's/^ *//')
HWM_GROWTH_MIB=$(awk -v a="$HWM0" -v b="$HWM1" 'BEGIN { printf("%.1f", (b - a) / 1024) }')
log "jetgate VmHWM: $HWM0 KiB before, $HWM1 KiB after (+$HWM_GROWTH_MIB MiB); VmRSS now $RSS1 KiB"

# ---- summary ----------------------------------------------------------------------------
col() { # size side column
    awk -F'\t' -v s="$1" -v d="$2" -v c="$3" \
        '$1 == s && $4 == d && $c != "nan" && $c != "null" && $c != "" { print $c }' "$RAW"
}
med() { # size side column
    local v
    v=$(col "$1" "$2" "$3")
    if [ -z "$v" ]; then
        echo nan
    else
        # shellcheck disable=SC2086
        median $v
    fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf("%.2f", a / b) }'; }

TABLE=$TMP/table.md
MISSES=0
MISS_LIST=
miss() { MISSES=$((MISSES + 1)); MISS_LIST="$MISS_LIST
- $*"; }
{
    echo "| size | direction | (a) direct libnats | jetgate (curl) | (b) JS client | jetgate / (a) | jetgate / (b) | direct gets, one at a time | jetgate CPU (s) |"
    echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"
SUM_KEYS=$SIZES_MB; [ "$PAR" -gt 0 ] && SUM_KEYS="$SUM_KEYS $PKEY"
for mb in $SUM_KEYS; do
    if [ "$mb" = "$PKEY" ]; then
        label="$PAR x $PAR_MB MiB"
    else
        label="$mb MiB"; [ "$mb" -ge 1024 ] && [ $((mb % 1024)) = 0 ] && label="$((mb / 1024)) GiB"
    fi
    for dir in up down; do
        c=5; cpu=8; [ "$dir" = down ] && { c=6; cpu=9; }
        a=$(med "$mb" direct $c); j=$(med "$mb" jetgate $c); b=$(med "$mb" js $c)
        ja=$(ratio "$j" "$a"); jb=$(ratio "$j" "$b")
        dg=nan; [ "$dir" = down ] && dg=$(med "$mb" direct 7)
        jc=$(med "$mb" jetgate $cpu)
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$dir" \
            "$(fmt "$a" '%.0f')" "$(fmt "$j" '%.0f')" "$(fmt "$b" '%.0f')" \
            "$(fmt "$ja" '%.2fx')" "$(fmt "$jb" '%.2fx')" \
            "$([ "$dir" = down ] && fmt "$dg" '%.0f' || echo '-')" "$(fmt "$jc" '%.2f')" >>"$TABLE"
        want=$TARGET_DOWN; [ "$dir" = up ] && want=$TARGET_UP
        # PAR uploads are one after the other: reported, no target of their own
        if { [ "$mb" != "$PKEY" ] || [ "$dir" = down ]; } &&
            awk -v r="$ja" -v w="$want" 'BEGIN { exit !(r == "nan" || r < w) }'; then
            miss "$label $dir: jetgate/direct $(fmt "$ja" '%.2fx') (target >= ${want}x)"
        fi
    done
done
if awk -v g="$HWM_GROWTH_MIB" -v l="$RSS_LIMIT_MIB" 'BEGIN { exit !(g >= l) }'; then
    miss "memory: jetgate's VmHWM grew by $HWM_GROWTH_MIB MiB over the run (target < $RSS_LIMIT_MIB MiB)"
fi

cat "$TABLE" >&2

NATS_VERSION=$("$NATS_SERVER" --version 2>&1 | head -n 1)
LIBNATS_VERSION=$("$OBJ_DIRECT" --version 2>/dev/null | sed -n 's/.*libnats \([^)]*\)).*/\1/p')
JG_VERSION=$("$JETGATE" --version 2>/dev/null | head -n 1 || true)
JS_OBJ_VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$NODE_MODULES_DIR/@nats-io/obj/package.json" | head -n 1)
NODE_VERSION=$("$NODE" --version 2>/dev/null || echo '?')
CURL_VERSION=$(curl --version | head -n 1 | awk '{print $1" "$2}')
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
NPROC=$(nproc)

write_results() { # file
    local out=$1 marker='<!-- obj results -->' end='<!-- obj results end -->' prose tail=
    if [ -f "$out" ] && grep -qF "$marker" "$out"; then
        prose=$(sed "/$marker/q" "$out")
        # what follows the object section (other benchmarks' results) stays
        if grep -qF "$end" "$out"; then
            tail=$(sed -n "/$end/,\$p" "$out" | sed 1d)
        else
            tail=$(sed -n "/$marker/,\$p" "$out" | awk '/^# / && !/^# Object store benchmark results/ { on = 1 } on')
        fi
    elif [ -f "$out" ]; then
        prose="$(cat "$out")

$marker"
    else
        prose="$marker"
    fi
    {
        printf '%s\n\n' "$prose"
        echo "# Object store benchmark results"
        echo
        echo "Produced by \`make bench-obj\` (see \`README.md\`); everything below the marker above is"
        echo "replaced by each full run.  One object is uploaded and then downloaded by each side on"
        echo "the same private nats-server: jetgate (\`curl -T file\` / \`curl -o /dev/null\`; SHA-256"
        echo "computed on upload and verified on download), (a) \`obj_direct\`, a libnats program that"
        echo "publishes the same 128 KiB chunks with at most $WINDOW unacknowledged and reads them back"
        echo "with an ordered consumer, with no HTTP, digest or meta (the raw ceiling), and (b) the"
        echo "official JavaScript client (\`@nats-io/obj\` put/get, \`obj_js.mjs\`).  Sides run: ${SIDES[*]}."
        if [ "$PAR" -gt 0 ]; then
            echo "Then $PAR objects of $PAR_MB MiB: uploaded one after the other, downloaded all at once"
            echo "($PAR \`curl -o /dev/null\` against \`obj_direct --parallel $PAR\`: $PAR ordered consumers, a"
            echo "connection each), the rate being all bytes over the time from the first start to the last end."
        fi
        echo "Both directions are measured alike: curl reads the file from the page cache as obj_direct"
        echo "preads it, and curl writes the download to /dev/null as obj_direct drops each chunk."
        echo "Targets: jetgate at least ${TARGET_DOWN}x (a) downloading (single and $PAR at once), ${TARGET_UP}x"
        echo "uploading; jetgate's peak RSS (VmHWM) grows by less than $RSS_LIMIT_MIB MiB over the whole run."
        echo
        echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' (QUICK smoke run: numbers are not meaningful)')"
        echo
        echo "Machine: $NPROC cores, $CPU_MODEL; kernel $(uname -r)."
        echo "Versions: ${NATS_VERSION:-nats-server ?}; libnats ${LIBNATS_VERSION:-?}; ${JG_VERSION:-jetgate ?};"
        echo "@nats-io/obj ${JS_OBJ_VERSION:-?} on Node $NODE_VERSION; $CURL_VERSION."
        echo "Method: median of $ROUNDS round(s) per size, the sides in rotating order; MB/s = 10^6 bytes/s,"
        echo "time from the first byte sent to the acknowledged end (upload) and to the last byte received (download)."
        echo "Load: \`uptime\` at the start: \`$UPTIME_START\`; at the end: \`$UPTIME_END\`."
        echo "Other test suites may have been running on the same 2 cores; see the per-run load below."
        echo
        echo "Throughput (MB/s):"
        echo
        cat "$TABLE"
        echo
        echo "\"direct gets, one at a time\" is (a) reading the same chunks a second time with sequential"
        echo "direct-get requests (jetgate's reader fetches so only objects of one or two chunks, and after"
        echo "a consumer fails; larger objects come through a pull consumer); \"jetgate CPU\" is jetgate's"
        echo "user+system CPU seconds for the transfer (median)."
        echo
        echo "Memory: jetgate's VmHWM was $HWM0 KiB before the first transfer and $HWM1 KiB after the last"
        echo "(+$HWM_GROWTH_MIB MiB over every transfer of the run; limit $RSS_LIMIT_MIB MiB); after each size:$(for e in "${HWM_AFTER_SIZE[@]}"; do printf ' %s MiB -> %s KiB;' "${e%%:*}" "${e#*:}"; done | sed 's/;$/./')"
        echo
        if [ "$ERRORS" -gt 0 ]; then
            echo "**$ERRORS run(s) failed: their numbers are missing.** See the runs below."
        else
            echo "Errors: none (every upload answered 201 with the file's SHA-256, every download had every byte; every client run succeeded)."
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
        echo "| size (MiB) | round | order | side | up (MB/s) | down (MB/s) | direct gets (MB/s) | jetgate CPU up (s) | jetgate CPU down (s) | jetgate VmHWM (KiB) | load (1 min) | note |"
        echo "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        awk -F'\t' '{ for (i = 5; i <= 10; i++) if ($i == "nan") $i = "-";
            printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) }' "$RAW"
        echo
        echo "</details>"
        echo
        echo "$end"
        [ -z "$tail" ] || printf '\n%s\n' "$tail"
    } >"$out.tmp"
    mv "$out.tmp" "$out"
}

if [ -n "$RESULTS" ]; then
    write_results "$RESULTS"
    log "results written to $RESULTS"
else
    write_results "$TMP/RESULTS.md"
    sed -n '/<!-- obj results -->/,$p' "$TMP/RESULTS.md" >&2
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
