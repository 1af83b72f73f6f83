#!/bin/sh
# Watch fan-out benchmark: N watchers of one key through jetgate (Server-Sent
# Events, backed by a private nats-server) and through etcd's JSON gateway
# (POST /v3/watch on a private etcd), one writer, in the same run and at the
# same N: time from a write's acknowledgement to each watcher and to the last
# one (p50, p99), the servers' RSS and CPU (bench/watch_fanout.mjs; see
# bench/README.md).
#
# Usage (from the build directory):  make bench-watch
#                            or:     JETGATE=src/jetgate sh bench/watch.sh
# Environment:
#   WATCHERS="1000 10000"  the N to run (each with fresh servers); QUICK=1: 200
#   ROUNDS=3  WRITES=20    write rounds per side and N (median reported), writes per round
#   WRITE_GAP_MS=200       pause between every watcher having a write and the next write
#   QUICK=1                smoke run (200 watchers, 3 rounds of 5 writes); fails on
#                          errors, never on targets; prints instead of writing RESULTS
#   SIDES="jetgate etcd"   which sides; etcd is left out (with a note) when not installed
#   RESULTS=bench/RESULTS.md (next to this script): only the part between
#                          "<!-- watch results -->" and "<!-- watch results end -->" is
#                          replaced (put at the top of the file when missing)
#   CHECK_TARGETS=1        exit 3 when a target is missed (full runs only)
#   KEEP_TMP=1             keep the temporary directory (logs, raw JSON)
#   JETGATE=src/jetgate NATS_SERVER=nats-server ETCD=etcd NODE=node
#
# Exit status: 0 ok; 1 setup failure, a server died, or a side's run failed (a
# watcher not ready, a delivery missing, a watcher dropped); 3 clean run but a
# target missed: jetgate holds every watcher, p99 under 250 ms, RSS under 256 MiB.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
JETGATE=${JETGATE:-src/jetgate}
NATS_SERVER=${NATS_SERVER:-nats-server}
ETCD=${ETCD:-etcd}
NODE=${NODE:-node}
QUICK=${QUICK:-0}
CHECK_TARGETS=${CHECK_TARGETS:-1}
SIDES=${SIDES:-jetgate etcd}
if [ "$QUICK" = 1 ]; then
	WATCHERS=${WATCHERS:-200}
	WRITES=${WRITES:-5}
	RESULTS=${RESULTS:-}
else
	WATCHERS=${WATCHERS:-1000 10000}
	WRITES=${WRITES:-20}
	RESULTS=${RESULTS-$here/RESULTS.md}
fi
export ROUNDS=${ROUNDS:-3} WRITES WRITE_GAP_MS=${WRITE_GAP_MS:-200}
P99_LIMIT_MS=250
RSS_LIMIT_MIB=256

log() { printf '[watch.sh] %s\n' "$*" >&2; }
fail() { printf '[watch.sh] error: %s\n' "$*" >&2; exit 1; }

command -v "$NODE" >/dev/null 2>&1 || fail "node not found (Node.js 18 or later)"
command -v curl >/dev/null 2>&1 || fail "curl not found (apt-get install curl)"
command -v "$NATS_SERVER" >/dev/null 2>&1 || fail "nats-server not found (apt-get install nats-server)"
[ -x "$JETGATE" ] || fail "jetgate binary '$JETGATE' not found: build it (make) or set JETGATE="
etcd_note=
case " $SIDES " in *" etcd "*)
	if ! command -v "$ETCD" >/dev/null 2>&1; then
		etcd_note="etcd was not installed (Debian 12: apt-get install etcd-server), so it was left out."
		log "$etcd_note"
		SIDES=$(echo "$SIDES" | sed 's/etcd//')
	fi ;;
esac

tmp=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Every side holds N connections, and so does the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port() {
	"$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
stop() { # pid...
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
	rest=
	for p in $pids; do
		case " $* " in *" $p "*) ;; *) rest="$rest $p" ;; esac
	done
	pids=$rest
}
wait_http() { # url what log
	i=0
	until curl -sf "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			cat "$3" >&2
			fail "$2 did not get ready"
		fi
		sleep 0.1
	done
}

run_jetgate() { # N out
	dir=$tmp/jetgate-$1
	mkdir -p "$dir/store"
	np=$(port); mp=$(port); hp=$(port)
	"$NATS_SERVER" -js -a 127.0.0.1 -p "$np" -m "$mp" -sd "$dir/store" >"$dir/nats.log" 2>&1 &
	nats_pid=$!
	pids="$pids $nats_pid"
	conns=$(($1 + 200))
	"$JETGATE" --listen "127.0.0.1:$hp" --nats "nats://127.0.0.1:$np" --max-connections "$conns" \
		--max-watchers "$conns" --log-level warn >"$dir/jetgate.log" 2>&1 &
	jg_pid=$!
	pids="$pids $jg_pid"
	wait_http "http://127.0.0.1:$hp/readyz" jetgate "$dir/jetgate.log"
	rc=0
	WATCHERS=$1 "$NODE" "$here/watch_fanout.mjs" jetgate "http://127.0.0.1:$hp" "$jg_pid,$nats_pid" \
		"http://127.0.0.1:$mp" >"$2" 2>"$dir/client.log" || rc=$?
	kill -0 "$jg_pid" 2>/dev/null || { tail -20 "$dir/jetgate.log" >&2; fail "jetgate died (N=$1)"; }
	stop "$jg_pid" "$nats_pid"
	return $rc
}

run_etcd() { # N out
	dir=$tmp/etcd-$1
	mkdir -p "$dir"
	cp=$(port); pp=$(port)
	"$ETCD" --name bench --data-dir "$dir/data" \
		--listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
		--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "bench=http://127.0.0.1:$pp" --logger zap --log-level warn >"$dir/etcd.log" 2>&1 &
	etcd_pid=$!
	pids="$pids $etcd_pid"
	wait_http "http://127.0.0.1:$cp/health" etcd "$dir/etcd.log"
	rc=0
	WATCHERS=$1 "$NODE" "$here/watch_fanout.mjs" etcd "http://127.0.0.1:$cp" "$etcd_pid" >"$2" 2>"$dir/client.log" || rc=$?
	kill -0 "$etcd_pid" 2>/dev/null || { tail -20 "$dir/etcd.log" >&2; fail "etcd died (N=$1)"; }
	stop "$etcd_pid"
	return $rc
}

src_state=
if command -v git >/dev/null 2>&1 && git -C "$here/.." rev-parse --git-dir >/dev/null 2>&1; then
	src_state="source: commit $(git -C "$here/.." rev-parse --short HEAD)"
	if [ -n "$(git -C "$here/.." status --porcelain -- src 2>/dev/null)" ]; then
		src_state="$src_state with uncommitted changes in src/"
	fi
	src_state="$src_state; "
fi
load_start=$(uptime)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
files=
errors=
order=$SIDES
for n in $WATCHERS; do
	for s in $order; do
		log "$s, $n watchers, $ROUNDS rounds of $WRITES writes ($(cut -d' ' -f1-3 /proc/loadavg) load)"
		out=$tmp/$s-$n.json
		if ! "run_$s" "$n" "$out"; then
			errors="$errors $s/N=$n"
			log "$s at N=$n failed: $(tail -3 "$tmp/$s-$n/client.log" 2>/dev/null) $(cat "$out" 2>/dev/null)"
		fi
		[ -s "$out" ] && files="$files $out"
		echo "$(cut -d' ' -f1-3 /proc/loadavg)" >"$out.load"
	done
	# the other side first at the next N
	order=$(echo "$order" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
done
load_end=$(uptime)

[ -n "$files" ] || fail "no side produced results"
# shellcheck disable=SC2086
table=$("$NODE" "$here/watch_fanout.mjs" report $files)

# Targets (jetgate, every N): every watcher held, p99 < 250 ms, jetgate RSS < 256 MiB.
missed=$("$NODE" -e '
const fs = require("fs");
const out = [];
for (const f of process.argv.slice(3)) {
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  if (r.side !== "jetgate") continue;
  const rss = Math.max(r.rss_kib.end[0], r.rss_kib.hwm[0]) / 1024;
  if (r.held_during_writes < r.watchers) out.push(`N=${r.watchers}: held ${r.held_during_writes} of ${r.watchers} watchers`);
  if (!(r.median.p99_ms < Number(process.argv[1]))) out.push(`N=${r.watchers}: p99 ${r.median.p99_ms} ms (target < ${process.argv[1]} ms)`);
  if (!(rss < Number(process.argv[2]))) out.push(`N=${r.watchers}: jetgate peak RSS ${rss.toFixed(1)} MiB (target < ${process.argv[2]} MiB)`);
}
console.log(out.map((l) => `- ${l}`).join("\n"));' "$P99_LIMIT_MS" "$RSS_LIMIT_MIB" $files)

section() {
	echo '<!-- watch results -->'
	echo
	echo '# Watch fan-out benchmark results'
	echo
	echo 'Produced by `make bench-watch` (see `README.md`); only this section, between the'
	echo '`watch results` markers, is replaced by each full run.  N watchers of one key'
	echo 'through jetgate (Server-Sent Events; nats-server behind it) and through etcd'\''s'
	echo 'JSON gateway (`POST /v3/watch`), one writer; latency is from the moment the writer'
	echo 'has the acknowledgement of its write to the moment a watcher has the change (negative'
	echo 'when a watcher sees it first).  Targets for jetgate: every watcher held, p99 under'
	echo "$P99_LIMIT_MS ms, RSS under $RSS_LIMIT_MIB MiB."
	echo
	echo "Run: $started"
	echo
	echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1); kernel $(uname -r)."
	echo "Versions: $src_state$("$NATS_SERVER" --version 2>&1 | head -n 1); $("$JETGATE" --version 2>&1 | head -n 1);" \
		"$(if command -v "$ETCD" >/dev/null 2>&1; then "$ETCD" --version 2>&1 | head -n 1; else echo 'etcd: not installed'; fi); Node $("$NODE" --version)."
	echo "Method: per side and N, fresh servers; $ROUNDS rounds of $WRITES writes (100-byte values), each $WRITE_GAP_MS ms after every watcher had the previous one;"
	echo 'p50/p99 over every delivery of a round, "last watcher" per write; the median of the rounds is shown.'
	echo 'The client is one Node.js process holding all N connections, on the same 2 cores as the servers.'
	echo "Load: \`uptime\` at the start: \`$load_start\`; at the end: \`$load_end\`."
	echo
	[ -n "$etcd_note" ] && { echo "$etcd_note"; echo; }
	echo "$table"
	echo
	echo 'RSS and CPU in "(+ ...)" are nats-server'\''s, next to jetgate'\''s. "RSS held" is with the N watchers'
	echo 'open after the last round; "peak RSS" is VmHWM; idle CPU is over 5 s with the N watchers open and no writes.'
	echo
	if [ -n "$errors" ]; then echo "Errors:$errors (see the table: complete = every watcher got every write)."; else echo 'Errors: none (every watcher got every write, no watcher was dropped).'; fi
	echo
	if [ -n "$missed" ]; then echo 'Targets missed:'; echo "$missed"; else echo 'Targets: all met.'; fi
	echo
	echo '<!-- watch results end -->'
}

if [ -n "$RESULTS" ]; then
	section >"$tmp/section.md"
	if [ -f "$RESULTS" ] && grep -qF '<!-- watch results -->' "$RESULTS" && grep -qF '<!-- watch results end -->' "$RESULTS"; then
		{
			sed '/<!-- watch results -->/,$d' "$RESULTS"
			cat "$tmp/section.md"
			sed '1,/<!-- watch results end -->/d' "$RESULTS"
		} >"$tmp/new.md"
	else
		# At the top: bench/obj.sh replaces everything below its own marker.
		{ cat "$tmp/section.md"; echo; [ -f "$RESULTS" ] && cat "$RESULTS"; } >"$tmp/new.md"
	fi
	cat "$tmp/new.md" >"$RESULTS"
	log "results written to $RESULTS"
else
	section >&2
fi

[ -z "$errors" ] || exit 1
[ "$QUICK" = 1 ] || [ "$CHECK_TARGETS" = 0 ] || [ -z "$missed" ] || exit 3
exit 0
