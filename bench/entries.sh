#!/usr/bin/env bash
# jetgate bulk-read benchmark: NKEYS keys of VALUE_SIZE bytes under one
# prefix, read in one run three ways: GET .../entries through jetgate, one
# GET per key through jetgate (key listing, then a GET each), and a direct
# libnats client (kvStore_Keys, then kvStore_Get each).  Also jetgate's peak
# RSS growth while it streams the entries.  See bench/README.md.
#
# Usage (from the build directory): make bench-entries
# Environment: NKEYS=100000 VALUE_SIZE=100 ROUNDS=3
#   JETGATE=src/jetgate ENTRIES_DIRECT=bench/entries_direct NATS_SERVER=nats-server
#   KEEP_TMP=1 keeps the temporary directory.
# Exit status: 0 ok; 1 a step failed; 3 a target was missed.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NKEYS=${NKEYS:-100000}
VALUE_SIZE=${VALUE_SIZE:-100}
ROUNDS=${ROUNDS:-3}
JETGATE=${JETGATE:-src/jetgate}
ENTRIES_DIRECT=${ENTRIES_DIRECT:-bench/entries_direct}
NATS_SERVER=${NATS_SERVER:-nats-server}
BUCKET=bulk
PREFIX=bench.

log() { printf '[entries.sh] %s\n' "$*" >&2; }
fail() { printf '[entries.sh] error: %s\n' "$*" >&2; exit 1; }

for c in curl node "$NATS_SERVER"; do command -v "$c" >/dev/null || fail "'$c' not found"; done
[ -x "$JETGATE" ] || fail "no jetgate at $JETGATE"
[ -x "$ENTRIES_DIRECT" ] || fail "no direct client at $ENTRIES_DIRECT (make bench/entries_direct)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jetgate-bench-entries.XXXXXX")
NATS_PID=
JG_PID=
cleanup() {
    [ -n "$JG_PID" ] && kill "$JG_PID" 2>/dev/null && wait "$JG_PID" 2>/dev/null || true
    [ -n "$NATS_PID" ] && kill "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null || true
    [ "${KEEP_TMP:-0}" = 1 ] && log "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(free_port)
HPORT=$(free_port)
"$NATS_SERVER" -js -a 127.0.0.1 -p "$NPORT" -sd "$TMP/store" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
"$JETGATE" --nats "nats://127.0.0.1:$NPORT" --listen "127.0.0.1:$HPORT" --log-level warn >"$TMP/jetgate.log" 2>&1 &
JG_PID=$!
BASE=http://127.0.0.1:$HPORT
for _ in $(seq 100); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/readyz" >/dev/null || fail "jetgate not ready"

log "loading $NKEYS keys of $VALUE_SIZE bytes"
"$ENTRIES_DIRECT" --url "nats://127.0.0.1:$NPORT" --bucket "$BUCKET" --load "$NKEYS" \
    --value-size "$VALUE_SIZE" --prefix "$PREFIX" || fail "load failed"

rss_kib() { awk -v f="$1" '$1 == f":" {print $2}' "/proc/$JG_PID/status"; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$TMP/entries"; : >"$TMP/pergets"; : >"$TMP/direct"; : >"$TMP/rss"
for r in $(seq "$ROUNDS"); do
    # entries, with the peak RSS reset just before
    before=$(rss_kib VmRSS)
    echo 5 >"/proc/$JG_PID/clear_refs" 2>/dev/null || true
    out=$(curl -fsS -o "$TMP/body" -w '%{http_code} %{time_total} %{size_download}' \
        "$BASE/v1/kvm/buckets/$BUCKET/entries?prefix=$PREFIX")
    peak=$(rss_kib VmHWM)
    set -- $out
    [ "$1" = 200 ] || fail "entries answered $1"
    n=$(node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(a.length)' "$TMP/body")
    [ "$n" = "$NKEYS" ] || fail "entries gave $n entries, not $NKEYS"
    echo "$2" >>"$TMP/entries"
    echo $(( (peak - before) )) >>"$TMP/rss"
    log "round $r: entries ${2}s ($3 bytes), RSS $before KiB -> peak $peak KiB"
    # direct client
    d=$("$ENTRIES_DIRECT" --url "nats://127.0.0.1:$NPORT" --bucket "$BUCKET") || fail "direct read failed"
    echo "$d" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.keys!=='"$NKEYS"')process.exit(1);console.log(j.seconds)})' >>"$TMP/direct" \
        || fail "direct client read a different count: $d"
    log "round $r: direct $d"
    # one GET per key through jetgate
    p=$(node "$BENCH_DIR/entries_pergets.mjs" "$BASE" "$BUCKET") || fail "per-key GETs failed"
    echo "$p" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.keys!=='"$NKEYS"')process.exit(1);console.log(j.seconds)})' >>"$TMP/pergets" \
        || fail "per-key GETs read a different count: $p"
    log "round $r: per-key GETs $p"
done
kill -0 "$JG_PID" 2>/dev/null || fail "jetgate died"

E=$(median <"$TMP/entries"); D=$(median <"$TMP/direct"); P=$(median <"$TMP/pergets"); R=$(sort -n "$TMP/rss" | tail -1)
cat <<RES
| $NKEYS keys of $VALUE_SIZE bytes, median of $ROUNDS | seconds | keys/s |
| --- | --- | --- |
| jetgate GET .../entries (one request) | $E | $(awk -v n="$NKEYS" -v t="$E" 'BEGIN{printf "%.0f", n/t}') |
| jetgate key listing + one GET per key | $P | $(awk -v n="$NKEYS" -v t="$P" 'BEGIN{printf "%.0f", n/t}') |
| libnats kvStore_Keys + kvStore_Get each | $D | $(awk -v n="$NKEYS" -v t="$D" 'BEGIN{printf "%.0f", n/t}') |

entries vs per-key GETs: $(awk -v a="$P" -v b="$E" 'BEGIN{printf "%.1fx", a/b}'); entries vs direct client: $(awk -v a="$D" -v b="$E" 'BEGIN{printf "%.1fx", a/b}');
jetgate peak RSS growth while streaming: $((R / 1024)) MiB ($R KiB, largest of $ROUNDS rounds)
RES
miss=0
awk -v p="$P" -v e="$E" 'BEGIN{exit !(p/e >= 10)}' || { log "target missed: entries under 10x the per-key GETs"; miss=1; }
awk -v d="$D" -v e="$E" 'BEGIN{exit !(d/e >= 1)}' || { log "target missed: entries slower than the direct client"; miss=1; }
[ "$R" -lt $((32 * 1024)) ] || { log "target missed: RSS growth of 32 MiB or more"; miss=1; }
[ "$miss" = 0 ] || exit 3
