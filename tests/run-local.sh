#!/bin/sh
# Sets everything up and runs jetgate in front of a local JetStream server:
# nats-server on 127.0.0.1:${NATS_PORT:-14222} with its store in .run/nats
# (kept between runs), jetgate on 127.0.0.1:${JETGATE_PORT:-8080}.
# Ctrl-C stops both.  (Port 4222 is left alone: Debian's nats-server
# package starts its own server there, without JetStream.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/setup.sh

nats_port=${NATS_PORT:-14222}
http_port=${JETGATE_PORT:-8080}
mkdir -p .run/nats
nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$top/.run/nats" >.run/nats-server.log 2>&1 &
nats_pid=$!
cleanup() {
	trap - INT TERM EXIT
	[ -n "${jg_pid:-}" ] && kill -TERM "$jg_pid" 2>/dev/null && wait "$jg_pid" 2>/dev/null
	kill -TERM "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
	echo "stopped jetgate and nats-server"
}
trap cleanup INT TERM EXIT
i=0
until curl -sf "http://127.0.0.1:8222/healthz" >/dev/null 2>&1 || nc -z 127.0.0.1 "$nats_port" 2>/dev/null ||
	(exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$nats_pid" 2>/dev/null; then
		echo "nats-server did not start; see .run/nats-server.log" >&2
		tail -5 .run/nats-server.log >&2
		exit 1
	fi
	sleep 0.2
done

build/src/jetgate --listen "127.0.0.1:$http_port" --nats "nats://127.0.0.1:$nats_port" &
jg_pid=$!
sleep 0.5
base="http://127.0.0.1:$http_port"
cat <<EOT

jetgate is serving $base (NATS on 127.0.0.1:$nats_port, data in .run/nats).
Try:
  curl -X PUT $base/v1/kvm/buckets/demo -d '{"history":5}'
  curl -X PUT $base/v1/kv/demo/greeting -d 'hello'
  curl -i $base/v1/kv/demo/greeting
  curl $base/v1/kv/demo/greeting?history=true
  curl $base/v1/kvm/buckets/demo/keys

Press Ctrl-C to stop.
EOT
wait "$jg_pid"
