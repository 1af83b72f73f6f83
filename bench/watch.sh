#!/bin/sh
# Watch fan-out benchmark: starts nats-server and jetgate on free ports,
# opens WATCHERS (default 10000) Server-Sent Events watchers of one bucket
# and filter, writes WRITES values, and prints open/sync time, consumers,
# delivery latency, memory and idle CPU as JSON (bench/watch_fanout.mjs).
#
# Usage: JETGATE=build/src/jetgate bench/watch.sh      (make bench-watch)
#        QUICK=1 ...  200 watchers, 10 writes (a smoke run)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
JETGATE=${JETGATE:-src/jetgate}
NATS_SERVER=${NATS_SERVER:-nats-server}
if [ "${QUICK:-}" = 1 ]; then
	WATCHERS=${WATCHERS:-200}
	WRITES=${WRITES:-10}
fi
export WATCHERS=${WATCHERS:-10000} WRITES=${WRITES:-50}

port() {
	node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
NPORT=$(port)
MPORT=$(port)
HPORT=$(port)
store=$(mktemp -d)
nats_pid=
jg_pid=
cleanup() {
	[ -n "$jg_pid" ] && kill "$jg_pid" 2>/dev/null || true
	[ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$store"
}
trap cleanup EXIT INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$NATS_SERVER" -js -a 127.0.0.1 -p "$NPORT" -m "$MPORT" -sd "$store" >"$store/nats.log" 2>&1 &
nats_pid=$!
conns=$((WATCHERS + 200))
"$JETGATE" --listen "127.0.0.1:$HPORT" --nats "nats://127.0.0.1:$NPORT" \
	--max-connections "$conns" --max-watchers "$conns" --watch-keepalive 2s --log-level warn >"$store/jetgate.log" 2>&1 &
jg_pid=$!
i=0
until curl -sf "http://127.0.0.1:$HPORT/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "watch.sh: jetgate did not get ready" >&2
		cat "$store/jetgate.log" >&2
		exit 1
	fi
	sleep 0.1
done
node "$here/watch_fanout.mjs" "http://127.0.0.1:$HPORT" "$jg_pid" "http://127.0.0.1:$MPORT"
