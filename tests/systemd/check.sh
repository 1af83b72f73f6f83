#!/bin/bash
# check.sh - the Debian package under a real systemd (`make check-systemd`).
#
#   tests/systemd/check.sh JETGATE_DEB JETGATE_NATS_DEB
#
# Boots a fresh Debian 12 with systemd as PID 1 (tests/systemd/box.sh),
# installs both packages with `apt-get install ./...deb` and checks the
# service as an operator meets it: start (Type=notify), requests through it,
# reload without dropping a watch stream, restart after SIGKILL, the watchdog
# after SIGSTOP, journal priorities, a stop that lets a request finish, the
# sandbox score, an upgrade that keeps /etc/jetgate/jetgate.conf edits and
# restarts the service, and a purge that leaves nothing behind.
#
# Needs root, PID/mount/cgroup namespaces and a writable cgroup2 (it fails
# saying which is missing).  The box shares this machine's network: drop-ins
# written before the install move jetgate and nats-server to free ports.
# JETGATE_SYSTEMD_KEEP=1 keeps the box (its directory is printed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
box=$here/box.sh
[ $# -eq 2 ] || { sed -n '2,4p' "$0" >&2; exit 2; }
deb=$(realpath "$1")
natsdeb=$(realpath "$2")
[ -f "$deb" ] && [ -f "$natsdeb" ] || { echo "check-systemd: no package at $deb or $natsdeb (make deb)" >&2; exit 2; }
"$box" check || { echo "check-systemd: cannot boot a systemd here (see above)" >&2; exit 1; }

t0=$(date +%s)
fails=0
step() { printf '\n--- %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		port_free "$p" && ! [[ " ${taken:-} " == *" $p "* ]] && { taken="${taken:-} $p"; echo "$p"; return; }
	done
}
http_port=$(free_port)
nats_port=$(free_port)
B=http://127.0.0.1:$http_port

dir=$(mktemp -d /var/tmp/jetgate-systemd.XXXXXX)
rmdir "$dir"
watch_pid=
cleanup() {
	local rc=$?
	[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
	if [ -n "${JETGATE_SYSTEMD_KEEP:-}" ]; then
		echo "check-systemd: box kept in $dir (tests/systemd/box.sh stop $dir)"
	elif [ -d "$dir/.box" ]; then
		"$box" stop "$dir" || true
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bx() { "$box" run "$dir" "$@"; }
prop() { bx systemctl show -P "$1" jetgate; }
main_pid() { prop MainPID; }
active() { [ "$(bx systemctl is-active jetgate)" = active ]; }
active_with_new_pid() { active && [ "$(main_pid)" != "$1" ] && [ "$(main_pid)" != 0 ]; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ready() { [ "$(code "$B/readyz")" = 200 ]; }
# journal lines of jetgate since the cursor, as PRIORITY<TAB>MESSAGE (the
# fields themselves: journalctl's -p with --after-cursor misses entries)
journal_since() {
	bx journalctl -u jetgate --after-cursor="$1" -o export --output-fields=PRIORITY,MESSAGE --no-pager |
		awk '/^PRIORITY=/ { p = substr($0, 10) } /^MESSAGE=/ { m = substr($0, 9) }
			/^$/ { if (m != "") print p "\t" m; p = m = "" }'
}
cursor() { bx journalctl -u jetgate -n 1 --show-cursor -q --no-pager | sed -n 's/^-- cursor: //p'; }

step "boot a fresh Debian 12 with systemd (jetgate on $http_port, nats-server on $nats_port)"
"$box" start "$dir"
cp "$deb" "$natsdeb" "$dir/root/"
# Ports moved, and a short watchdog for the SIGSTOP check, before the
# package starts anything.
mkdir -p "$dir/etc/systemd/system/jetgate.service.d" "$dir/etc/systemd/system/nats-server.service.d"
cat >"$dir/etc/systemd/system/jetgate.service.d/zz-test.conf" <<EOF
[Service]
Environment=JETGATE_LISTEN=127.0.0.1:$http_port JETGATE_NATS=nats://127.0.0.1:$nats_port
WatchdogSec=3s
TimeoutAbortSec=5s
LimitCORE=0
EOF
# (nats-server: for its first start only, replaced by its config file below)
cat >"$dir/etc/systemd/system/nats-server.service.d/zz-test.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/sbin/nats-server -c /etc/nats-server.conf --jetstream --store_dir /var/lib/nats-server -p $nats_port
EOF
# Every path of the box but the volatile ones, the test's own files and the
# JetStream store (the buckets' data, kept when jetgate-nats is purged).
snapshot() {
	bx find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /.box \
		-o -path /root -o -path /var/log -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \
		-o -path /var/lib/systemd/catalog -o -path /var/lib/systemd/random-seed \
		-o -path /var/lib/nats-server \
		-o -path /etc/systemd/system/jetgate.service.d -o -path /etc/systemd/system/nats-server.service.d \) -prune \
		-o -print | sort
}
snapshot >"$dir/.box/before"

step "apt-get install ./jetgate_*.deb ./jetgate-nats_*.deb"
bx apt-get install -y -q "./root/$(basename "$deb")" "./root/$(basename "$natsdeb")" >"$dir/.box/install.log" 2>&1 ||
	{ tail -30 "$dir/.box/install.log"; die "apt-get install failed"; }
ok "installed $(bx dpkg-query -W -f='${Package} ${Version}, ' jetgate jetgate-nats)"
[ "$(bx systemctl is-enabled jetgate)" = enabled ] && ok "jetgate.service enabled on install" || fail "jetgate.service not enabled"
wait_for 10 active && ok "jetgate.service started on install" || fail "jetgate.service not started on install"
[ "$(bx stat -c '%U:%G %a' /etc/jetgate/jetgate.env)" = "root:root 600" ] && ok "jetgate.env is root:root 0600" || fail "jetgate.env: $(bx stat -c '%U:%G %a' /etc/jetgate/jetgate.env)"
[ "$(bx stat -c '%U:%G %a' /etc/jetgate/tokens)" = "root:jetgate 640" ] && ok "tokens is root:jetgate 0640" || fail "tokens: $(bx stat -c '%U:%G %a' /etc/jetgate/tokens)"
[ "$(bx stat -c %U "/proc/$(main_pid)")" = jetgate ] && ok "runs as the jetgate user" || fail "runs as $(bx stat -c %U "/proc/$(main_pid)")"
# The test's drop-in only kept nats-server's first start (by its postinst)
# off port 4222; from now on it runs as jetgate-nats says, on the port of
# its own config file.
bx sed -i "s/^port: .*/port: $nats_port/" /etc/nats-server.conf
rm "$dir/etc/systemd/system/nats-server.service.d/zz-test.conf"
bx systemctl daemon-reload
bx systemctl restart nats-server
nats_cmd=$(bx cat "/proc/$(bx systemctl show -P MainPID nats-server)/cmdline" | tr '\0' ' ')
[[ $nats_cmd == *"--jetstream --store_dir /var/lib/nats-server"* ]] && wait_for 10 bx sh -c \
	'journalctl -u nats-server _PID=$(systemctl show -P MainPID nats-server) --no-pager | grep -q "Starting JetStream"' &&
	ok "nats-server runs with JetStream by the jetgate-nats drop-in ($nats_cmd)" || fail "nats-server without JetStream: $nats_cmd"
bx test -d /var/lib/nats-server/jetstream && ok "JetStream store in /var/lib/nats-server" || fail "no /var/lib/nats-server/jetstream"

step "systemctl start: active only once jetgate serves HTTP (Type=notify)"
bx systemctl stop jetgate nats-server
cur=$(cursor)
bx systemctl start jetgate
order=$(bx journalctl -u jetgate --after-cursor="$cur" -o cat --no-pager | grep -E '^http: listening|^Started jetgate' | cut -c1-14 | tr '\n' '|')
[ "$order" = "http: listenin|Started jetgat|" ] && ok "systemd logs 'Started' after jetgate logs 'http: listening'" || fail "journal order: $order"
# no retry: with Type=notify the port is open when `systemctl start` returns
[ "$(code "$B/healthz")" = 200 ] && ok "/healthz 200 as soon as systemctl start returned" || fail "/healthz not served when systemctl start returned"
[ "$(code "$B/readyz")" = 503 ] && ok "/readyz 503 while NATS is down" || fail "/readyz $(code "$B/readyz") while NATS is down"
[ "$(prop Type)" = notify ] || fail "Type is $(prop Type)"
bx systemctl start nats-server
wait_for 20 ready && ok "/readyz 200 once nats-server runs" || fail "/readyz never 200"

step "curl through it"
[ "$(code -X PUT "$B/v1/kvm/buckets/demo" -d '{"history":5}')" = 201 ] || [ "$(code "$B/v1/kvm/buckets/demo")" = 200 ] || fail "bucket create"
[ "$(code -X PUT "$B/v1/kv/demo/greeting" -d hello)" = 201 ] || fail "kv put"
[ "$(curl -s "$B/v1/kv/demo/greeting")" = hello ] && ok "KV write and read through jetgate" || fail "kv get"

step "systemctl reload: a reloadable option changes, an open watch stream stays"
watch_out=$dir/.box/watch.out
curl -sN "$B/v1/kvm/buckets/demo/watch" >"$watch_out" 2>&1 &
watch_pid=$!
wait_for 10 grep -q 'event: synced' "$watch_out" || fail "watch stream did not sync"
[ "$(code -X PUT "$B/v1/kv/demo/big" -d 0123456789abcdefghijklmnopqrstuvwxyz)" = 201 ] || fail "36-byte value refused before reload"
bx sh -c 'printf "\n# local edit\nmax_kv_body = 16\n" >>/etc/jetgate/jetgate.conf'
pid=$(main_pid)
bx systemctl reload jetgate && ok "systemctl reload jetgate succeeds" || fail "systemctl reload jetgate failed"
too_big() { [ "$(code -X PUT "$B/v1/kv/demo/big" -d 0123456789abcdefghijklmnopqrstuvwxyz)" = 413 ]; }
wait_for 5 too_big && ok "max_kv_body = 16 applied: a 36-byte value gets 413" || fail "max_kv_body not applied by reload"
[ "$(main_pid)" = "$pid" ] && ok "same process (no restart)" || fail "reload restarted jetgate"
[ "$(code -X PUT "$B/v1/kv/demo/after-reload" -d x)" = 201 ] || fail "kv put after reload"
wait_for 10 grep -q 'after-reload' "$watch_out" && kill -0 "$watch_pid" 2>/dev/null &&
	ok "the watch stream opened before the reload delivers a change made after it" || fail "watch stream lost across reload"
kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; watch_pid=

step "journal priorities"
cur=$(cursor)
# systemctl reload returns once the signal is sent: each step waits for its line
has_prio() { journal_since "$cur" | grep -q "^$1	$2"; }
bx sh -c 'printf "max_connections_per_ip = 7\n" >>/etc/jetgate/jetgate.conf'
bx systemctl reload jetgate
wait_for 10 has_prio 6 'SIGHUP: reloading' && ok "info at priority 6" || fail "no info line at priority 6"
wait_for 10 has_prio 4 "reload: option 'max_connections_per_ip' changed but needs a restart" && ok "warning at priority 4" || fail "no warning at priority 4"
bx sh -c 'cp /etc/jetgate/jetgate.conf /run/jetgate.conf.good && printf "no_such_option = 1\n" >>/etc/jetgate/jetgate.conf'
bx systemctl reload jetgate
wait_for 10 has_prio 3 'reload: configuration has errors' && ok "error at priority 3" || fail "no error at priority 3"
bx sh -c 'cp /run/jetgate.conf.good /etc/jetgate/jetgate.conf'
journal_since "$cur" >"$dir/.box/prio"
[ $fails -eq 0 ] || cat "$dir/.box/prio"

step "SIGKILL of the main process: Restart= brings it back"
pid=$(main_pid)
bx systemctl kill -s KILL --kill-whom=main jetgate
wait_for 15 active_with_new_pid "$pid" && wait_for 10 ready && ok "restarted (PID $pid -> $(main_pid)), ready again" || fail "not restarted after SIGKILL"

step "SIGSTOP: the watchdog kills and restarts it"
pid=$(main_pid)
cur=$(cursor)
bx systemctl kill -s STOP --kill-whom=main jetgate
wait_for 30 active_with_new_pid "$pid" && wait_for 10 ready && ok "restarted (PID $pid -> $(main_pid))" || fail "not restarted after SIGSTOP"
bx journalctl -u jetgate --after-cursor="$cur" --no-pager | grep -q 'Watchdog timeout' && ok "by the watchdog" || fail "no watchdog timeout in the journal"

step "systemctl stop lets an in-flight request finish"
[ "$(code -X PUT "$B/v1/objm/buckets/files" -d '{}')" = 201 ] || [ "$(code "$B/v1/objm/buckets/files")" = 200 ] || fail "object bucket create"
head -c 300000 /dev/urandom >"$dir/.box/upload"
curl -s -o "$dir/.box/upload.out" -w '%{http_code}' --limit-rate 100k -X PUT --data-binary @"$dir/.box/upload" \
	"$B/v1/obj/files/slow" >"$dir/.box/upload.code" 2>&1 &
up=$!
sleep 1
s0=$(date +%s%N)
bx systemctl stop jetgate
s1=$(date +%s%N)
wait "$up" || true
[ "$(cat "$dir/.box/upload.code")" = 201 ] && ok "the upload under way finished with 201 (systemctl stop took $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s)" ||
	fail "upload under way: $(cat "$dir/.box/upload.code") $(cat "$dir/.box/upload.out")"
[ "$(code "$B/healthz")" = 000 ] && ok "stopped" || fail "still answering after stop"
bx systemctl start jetgate
wait_for 10 ready || fail "not ready after start"
[ "$(curl -s "$B/v1/obj/files/slow" | cmp - "$dir/.box/upload" && echo same)" = same ] && ok "the object is stored whole" || fail "object differs"

step "systemd-analyze security jetgate"
exposure=$(bx systemd-analyze security jetgate --no-pager | sed -n 's/.*Overall exposure level for jetgate.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 1.1) }' && ok "exposure $exposure (at most 1.1)" || fail "exposure '$exposure' above 1.1"

step "tokens: /etc/jetgate/tokens (root:jetgate 0640) read by the service, again on reload"
bx sh -c 'printf "ops %s read@demo\n" "$(echo s3cret-token | jetgate --hash-token)" >>/etc/jetgate/tokens &&
	printf "tokens_file = /etc/jetgate/tokens\n" >>/etc/jetgate/jetgate.conf'
pid=$(main_pid)
bx systemctl reload jetgate
needs_token() { [ "$(code "$B/v1/kv/demo/greeting")" = 401 ]; }
wait_for 10 needs_token && ok "after reload, a request without a token gets 401" || fail "tokens_file not applied by reload"
[ "$(curl -s -H 'Authorization: Bearer s3cret-token' "$B/v1/kv/demo/greeting")" = hello ] &&
	ok "the token in the file reads" || fail "the token in the file does not read"
[ "$(main_pid)" = "$pid" ] || fail "jetgate restarted"
bx sed -i '/^tokens_file = /d' /etc/jetgate/jetgate.conf
bx systemctl reload jetgate
open_again() { [ "$(code "$B/v1/kv/demo/greeting")" = 200 ]; }
wait_for 10 open_again || fail "tokens_file not dropped by reload"

step "upgrade to a rebuilt package with a higher version"
newv=$(dpkg-deb -f "$deb" Version)+test1
rebuild=$dir/.box/rebuild
rm -rf "$rebuild" && mkdir -p "$rebuild"
dpkg-deb -R "$deb" "$rebuild/pkg"
sed -i "s/^Version: .*/Version: $newv/" "$rebuild/pkg/DEBIAN/control"
dpkg-deb -b --root-owner-group "$rebuild/pkg" "$dir/root/jetgate_${newv}_amd64.deb" >/dev/null
pid=$(main_pid)
bx apt-get install -y -q "./root/jetgate_${newv}_amd64.deb" >"$dir/.box/upgrade.log" 2>&1 ||
	{ tail -30 "$dir/.box/upgrade.log"; fail "upgrade failed"; }
[ "$(bx dpkg-query -W -f='${Version}' jetgate)" = "$newv" ] && ok "upgraded to $newv" || fail "version after upgrade"
bx grep -q '^max_kv_body = 16$' /etc/jetgate/jetgate.conf && bx grep -q '^# local edit$' /etc/jetgate/jetgate.conf &&
	ok "the edits of /etc/jetgate/jetgate.conf are kept" || fail "conffile edits lost"
wait_for 10 active_with_new_pid "$pid" && wait_for 10 ready && ok "service restarted (PID $pid -> $(main_pid)) and ready" || fail "service not restarted by the upgrade"
too_big && ok "the edited option is still in force" || fail "edited option not in force after upgrade"

step "apt-get purge leaves nothing behind"
bx apt-get purge -y -q jetgate jetgate-nats >"$dir/.box/purge.log" 2>&1 || { tail -30 "$dir/.box/purge.log"; fail "purge failed"; }
bx dpkg-query -W jetgate >/dev/null 2>&1 && fail "jetgate still known to dpkg" || ok "purged"
bx sh -c 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = jetgate ] && exit 0; done; exit 1' && fail "a jetgate process is left" || ok "no jetgate process"
bx getent passwd jetgate >/dev/null && fail "user jetgate left" || ok "no jetgate user"
bx getent group jetgate >/dev/null && fail "group jetgate left" || ok "no jetgate group"
[ "$(code "$B/healthz")" = 000 ] || fail "port still answering"
snapshot >"$dir/.box/after"
left=
while read -r f; do
	# what belongs to the dependencies that apt installed and that stay
	# installed: their own files, and what nats-server's unit made (its
	# enablement, its PrivateTmp=)
	case $f in *jetgate*) ;; *nats-server*) continue ;; esac
	bx dpkg-query -S "$f" </dev/null >/dev/null 2>&1 && continue
	left="$left $f"
done < <(comm -13 "$dir/.box/before" "$dir/.box/after")
[ -z "$left" ] && ok "no file left that was not there before (outside the dependencies' own files)" || fail "left behind:$left"

t1=$(date +%s)
echo
if [ $fails -eq 0 ]; then
	echo "check-systemd: all checks passed in $((t1 - t0)) s"
else
	echo "check-systemd: $fails check(s) failed ($((t1 - t0)) s)"
	exit 1
fi
