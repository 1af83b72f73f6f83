#!/bin/sh
# Installs what building and running need (tests/setup.sh), builds jetgate
# and runs it in front of a local JetStream server:
# nats-server on 127.0.0.1:${NATS_PORT:-14222} with its store in .run/nats
# (kept between runs), jetgate on 127.0.0.1:${JETGATE_PORT:-8080}.
# Ctrl-C (or SIGTERM to this script) stops both.  (Port 4222 is left alone:
# Debian's nats-server package starts its own server there, without JetStream.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/setup.sh

nats_port=${NATS_PORT:-14222}
http_port=${JETGATE_PORT:-8080}
base="http://127.0.0.1:$http_port"
mkdir -p .run/nats
nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$top/.run/nats" >.run/nats-server.log 2>&1 &
nats_pid=$!
jg_pid=
cleanup() {
	trap - INT TERM EXIT
	set +e
	[ -n "$jg_pid" ] && kill -TERM "$jg_pid" 2>/dev/null && wait "$jg_pid" 2>/dev/null
	kill -TERM "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
	echo "stopped jetgate and nats-server"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ready when nats-server says so in its log (no monitoring port, nc or bash needed).
i=0
until grep -q "Server is ready" .run/nats-server.log 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$nats_pid" 2>/dev/null; then
		echo "nats-server did not start on 127.0.0.1:$nats_port; see .run/nats-server.log" >&2
		tail -5 .run/nats-server.log >&2
		exit 1
	fi
	sleep 0.2
done

build/src/jetgate --listen "127.0.0.1:$http_port" --nats "nats://127.0.0.1:$nats_port" &
jg_pid=$!
# Ready when /readyz answers 200: HTTP is served and JetStream answers.
i=0
until curl -sf -o /dev/null "$base/readyz"; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$jg_pid" 2>/dev/null; then
		echo "jetgate did not become ready on $base (is the port free? JETGATE_PORT=... picks another)" >&2
		exit 1
	fi
	sleep 0.2
done
cat <<EOT

jetgate is serving $base (NATS on 127.0.0.1:$nats_port, data in $top/.run/nats).
Try:
  curl -X PUT $base/v1/kvm/buckets/demo -d '{"history":5}'
  curl -X PUT $base/v1/kv/demo/greeting -d 'hello'
  curl -i $base/v1/kv/demo/greeting
  curl $base/v1/kv/demo/greeting?history=true
  curl $base/v1/kvm/buckets/demo/keys

To stop: press Ctrl-C, or kill $$ (stops jetgate and nats-server; the data stays).
EOT
wait "$jg_pid" || true
jg_pid=
echo "jetgate exited" >&2
exit 1
