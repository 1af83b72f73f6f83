#!/bin/bash
# tests/fresh/check-fresh.sh - the README's two commands on a fresh Debian 12
# (`make check-fresh`, run by CI after tests/check.sh).
#
#   tests/fresh/check-fresh.sh [SOURCE_TREE]     (default: this script's tree)
#
# In a new Debian 12 minimal root filesystem (tests/fresh/debian-base.sh,
# cached) that gets this machine's DNS settings and CA certificates, as a
# container build would, and a `git clone` of the source tree's HEAD commit
# (uncommitted changes are not part of the check), as root:
#  1. tests/run-local.sh runs in the background on free ports; from this
#     machine curl creates a bucket, watches it, puts and gets a key and sees
#     the watch event; it must serve within JETGATE_FRESH_SERVE_SECONDS (120).
#     It is stopped with SIGTERM, started again (must serve within
#     JETGATE_FRESH_RESTART_SECONDS, 30) and must still have the key.
#  2. tests/check.sh unit integration interop (JETGATE_FRESH_TIERS), with
#     Debian's Node.js, within JETGATE_FRESH_CHECK_SECONDS (2700).
# The root shares this machine's network and process space but has its own
# mounts (a private mount namespace: proc, sys, dev, dev/pts, and tmpfs on
# /tmp, /run, /dev/shm).  At the end every process whose root is the new root
# is killed, everything under it unmounted, deepest first, and it is removed
# (never while anything is still mounted there).
#
# Needs root, mount namespaces and chroot; fails, naming what is missing,
# where it cannot run.  Logs: $JETGATE_FRESH_LOGS (default /var/tmp/jetgate-fresh-logs).
set -euo pipefail

me=check-fresh
say() { printf '%s %(%H:%M:%S)T: %s\n' "$me" -1 "$*" >&2; }
fail() { printf '%s: FAIL: %s\n' "$me" "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${1:-$here/../..}" && pwd)

[ "$(id -u)" -eq 0 ] || fail "needs root (it builds a root filesystem, mounts and chroots into it)"
missing=
for c in unshare chroot mount umount findmnt git curl tar timeout flock sha256sum; do
	command -v "$c" >/dev/null || missing="$missing $c"
done
[ -z "$missing" ] || fail "missing commands:$missing"
if [ -z "${JETGATE_FRESH_NS:-}" ]; then
	unshare --mount true 2>/dev/null ||
		fail "cannot create a mount namespace (unshare --mount): needs real root with CAP_SYS_ADMIN"
	JETGATE_FRESH_NS=1 exec unshare --mount --propagation private -- bash "$0" "$src"
fi
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
head=$(git -C "$src" rev-parse --verify -q HEAD) || fail "$src is not a git checkout with a commit"

serve_limit=${JETGATE_FRESH_SERVE_SECONDS:-120}
restart_limit=${JETGATE_FRESH_RESTART_SECONDS:-30}
tiers=${JETGATE_FRESH_TIERS:-unit integration interop}
check_limit=${JETGATE_FRESH_CHECK_SECONDS:-2700}
logs=${JETGATE_FRESH_LOGS:-/var/tmp/jetgate-fresh-logs}
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/watch.out
t_start=$(date +%s)

# --- clean-up ------------------------------------------------------------
root=
in_root_pids() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
	done
}
mounts_under() { findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d "/") == 1 || $0 == d'; }
cleanup() {
	local rc=$? i pids m
	trap - EXIT INT TERM HUP
	if [ -n "$root" ] && [ -d "$root" ]; then
		# Keep the test logs of the root.
		for f in "$root"/root/jetgate/build/test-suite.log "$root"/root/jetgate/build/tests/*.log; do
			[ -f "$f" ] && cp "$f" "$logs/" 2>/dev/null
		done
		for i in 1 2 3 4 5 6 7 8; do
			pids=$(in_root_pids | tr '\n' ' ')
			[ -n "${pids// /}" ] || break
			# shellcheck disable=SC2086
			if [ $i -le 3 ]; then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
			sleep 1
		done
		pids=$(in_root_pids | tr '\n' ' ')
		[ -z "${pids// /}" ] || say "could not kill: $pids"
		for i in 1 2 3; do
			for m in $(mounts_under "$root" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
			[ -z "$(mounts_under "$root")" ] && break
			sleep 1
		done
		if [ -n "$(mounts_under "$root")" ]; then
			say "still mounted, NOT removing $root:"
			mounts_under "$root" >&2
			[ $rc -ne 0 ] || rc=1
		else
			rm -rf --one-file-system -- "$root"
		fi
	fi
	exit $rc
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM HUP

# --- the root --------------------------------------------------------------
base=$(bash "$here/debian-base.sh") || fail "no Debian 12 base root (tests/fresh/debian-base.sh failed)"
command -v zstd >/dev/null || fail "missing command: zstd"
root=$(mktemp -d /var/tmp/jetgate-fresh.XXXXXX)
say "source $src @ ${head:0:12}; root $root; logs in $logs"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
	say "note: $src has uncommitted changes; only the commit is checked"
tar --numeric-owner --xattrs -I zstd -xpf "$base" -C "$root" || fail "could not unpack $base"
chmod 755 "$root"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
mkdir -m 1777 "$root/run/lock"

# DNS and CA certificates of this machine (it may reach the network through a
# proxy with its own CA), as a container build copies them in.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	cp -L /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	chroot "$root" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates failed in the root"
fi

git clone -q --no-hardlinks "$src" "$root/root/jetgate" || fail "git clone of $src failed"
git -C "$root/root/jetgate" checkout -q --detach "$head"

# One free TCP port on 127.0.0.1 (nothing answers a connection there).
used_ports=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		case $used_ports in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports="$used_ports$p "
			echo "$p"
			return
		fi
	done
}
nats_port=$(free_port)
http_port=$(free_port)
B=http://127.0.0.1:$http_port

# A login as root: a clean environment, the standard PATH, stdin closed.
in_root() { # in_root [exec] COMMAND (exec: replace the calling subshell)
	local ex=
	[ "$1" = exec ] && { ex='exec'; shift; }
	$ex ${in_root_limit:+timeout -k 10 "$in_root_limit"} chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
		NATS_PORT="$nats_port" JETGATE_PORT="$http_port" \
		/bin/sh -c "cd /root/jetgate && $1" </dev/null
}
say "root ready in $(($(date +%s) - t_start)) s"

# --- command 1 -------------------------------------------------------------
run_pid=
served_after=
# start_cmd1 LOG LIMIT: starts tests/run-local.sh (its pid: run_pid), waits
# until it says it serves (seconds: served_after).
start_cmd1() {
	local log=$1 limit=$2 t0
	t0=$(date +%s)
	(in_root exec 'exec tests/run-local.sh') >"$log" 2>&1 &
	run_pid=$!
	until grep -q '^jetgate is serving' "$log"; do
		if ! kill -0 "$run_pid" 2>/dev/null; then
			tail -n 40 "$log" >&2
			fail "tests/run-local.sh exited before serving (log: $log)"
		fi
		if [ $(($(date +%s) - t0)) -ge "$limit" ]; then
			tail -n 40 "$log" >&2
			fail "tests/run-local.sh did not serve within $limit s (log: $log)"
		fi
		sleep 1
	done
	served_after=$(($(date +%s) - t0))
}
stop_cmd1() {
	local log=$1 i
	kill -TERM "$run_pid" 2>/dev/null || true
	for i in $(seq 1 30); do kill -0 "$run_pid" 2>/dev/null || break; sleep 1; done
	kill -0 "$run_pid" 2>/dev/null && fail "tests/run-local.sh did not stop within 30 s of SIGTERM"
	wait "$run_pid" 2>/dev/null || true
	grep -q '^stopped jetgate and nats-server' "$log" || fail "tests/run-local.sh did not report stopping (log: $log)"
}
probe() { # probe WHAT CURL-ARGS...: the body, or fail naming the request
	local what=$1 out
	shift
	out=$(curl -sS --max-time 10 "$@" 2>&1) || fail "probe '$what' failed: $out"
	printf '%s' "$out"
}

say "command 1: tests/run-local.sh (NATS_PORT=$nats_port JETGATE_PORT=$http_port), first run"
log1=$logs/run-local-1.log
start_cmd1 "$log1" "$serve_limit"
t_serve1=$served_after
say "command 1 serves $B after $t_serve1 s"
grep -q "To stop" "$log1" || fail "tests/run-local.sh does not say how to stop it"
code=$(probe 'create bucket' -o /dev/null -w '%{http_code}' -X PUT "$B/v1/kvm/buckets/fresh" -d '{"history":5}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "create bucket: HTTP $code"
watch_out=$logs/watch.out
curl -sS -N --max-time 30 "$B/v1/kvm/buckets/fresh/watch" >"$watch_out" 2>&1 &
watch_pid=$!
for i in $(seq 1 50); do grep -q '^event: synced' "$watch_out" && break; sleep 0.2; done
grep -q '^event: synced' "$watch_out" || fail "the watch sent no 'event: synced' (got: $(head -c 300 "$watch_out"))"
code=$(probe 'put key' -o /dev/null -w '%{http_code}' -X PUT "$B/v1/kv/fresh/greeting" -d 'hello from a fresh Debian')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "put key: HTTP $code"
got=$(probe 'get key' -f "$B/v1/kv/fresh/greeting")
[ "$got" = 'hello from a fresh Debian' ] || fail "get key returned '$got'"
for i in $(seq 1 50); do grep -q '"greeting"' "$watch_out" && break; sleep 0.2; done
grep -q '"greeting"' "$watch_out" || fail "no watch event for the put key (got: $(head -c 300 "$watch_out"))"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
say "command 1: bucket created, key put and read back, watch event seen"
stop_cmd1 "$log1"

say "command 1, second run"
log2=$logs/run-local-2.log
start_cmd1 "$log2" "$restart_limit"
t_serve2=$served_after
got=$(probe 'get key after restart' -f "$B/v1/kv/fresh/greeting")
[ "$got" = 'hello from a fresh Debian' ] || fail "after a restart the key holds '$got'"
stop_cmd1 "$log2"
say "command 1: second run served after $t_serve2 s and still had the key"

# --- command 2 -------------------------------------------------------------
say "command 2: tests/check.sh $tiers"
t0=$(date +%s)
log3=$logs/check.log
set +e
in_root_limit=$check_limit in_root "tests/check.sh $tiers" 2>&1 | tee "$log3"
rc=${PIPESTATUS[0]}
set -e
t_check=$(($(date +%s) - t0))
node_version=$(in_root 'node --version' 2>/dev/null || echo none)
if [ "$rc" -ne 0 ]; then
	grep -h '^ *not ok' "$root"/root/jetgate/build/tests/*.log 2>/dev/null | sed 's/^ */  /' >&2 || true
	fail "tests/check.sh $tiers failed (exit $rc, node $node_version, logs: $logs)"
fi
case $node_version in
v18.*) ;;
*) fail "command 2 ran on node $node_version, not on Debian 12's Node.js 18" ;;
esac

say "PASS in $(($(date +%s) - t_start)) s: command 1 served after $t_serve1 s (again after $t_serve2 s), command 2 ($tiers; node $node_version) took $t_check s"
