#!/bin/bash
# box.sh - a fresh Debian 12 booted with systemd as PID 1, for testing the
# package and its unit under a real systemd on a machine without one.
#
#   tests/systemd/box.sh check          are root, namespaces and cgroup2 there?
#   tests/systemd/box.sh start DIR      unpack a fresh Debian 12 into DIR,
#                                       install systemd, boot it, wait for it
#   tests/systemd/box.sh run DIR CMD... run CMD inside (as root, in the box's
#                                       namespaces and root directory)
#   tests/systemd/box.sh stop DIR       power it off, remove DIR
#
# The box has its own PID, mount and cgroup namespaces, and its own cgroup2
# subtree, so its systemd manages only its own processes.  It shares the
# network namespace of the machine: a service inside listening on
# 127.0.0.1:PORT is reachable from outside on the same address, so tests move
# ports away from the ones the machine uses.  /proc/sys and /sys are
# read-only inside, and the units that would change the machine's kernel
# settings are masked.  The root file system comes from
# tests/fresh/debian-base.sh (a cached debootstrap minbase).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "box: $*" >&2; }
die() { say "$*"; exit 1; }

# The cgroup2 hierarchy of the machine (pure cgroup2, or the hybrid layout).
cgroup2_root() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -fc %T "$d" 2>/dev/null)" = cgroup2fs ] && { echo "$d"; return 0; }
	done
	return 1
}

# Says what is missing and fails when the box cannot run here.
check() {
	[ "$(id -u)" -eq 0 ] || die "needs root (it mounts, unshares and boots systemd)"
	local t
	for t in unshare nsenter chroot tar flock; do
		command -v "$t" >/dev/null || die "needs $t"
	done
	unshare --pid --mount --cgroup --fork true 2>/dev/null ||
		die "cannot create PID, mount and cgroup namespaces (unshare --pid --mount --cgroup): needs CAP_SYS_ADMIN"
	local cg
	cg=$(cgroup2_root) || die "no cgroup2 hierarchy mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified): systemd needs cgroup2"
	mkdir "$cg/jetgate-box-probe.$$" 2>/dev/null && rmdir "$cg/jetgate-box-probe.$$" ||
		die "cgroup2 at $cg is not writable: systemd needs a cgroup subtree of its own"
}

pid_of() { cat "$1/.box/pid" 2>/dev/null; }
inside() {
	local dir=$1; shift
	local pid
	pid=$(pid_of "$dir") && [ -d "/proc/$pid" ] || die "no box running in $dir"
	nsenter -t "$pid" -p -m -C -r -w -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 DEBIAN_FRONTEND=noninteractive "$@"
}

start() {
	local dir=$1
	check
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not empty"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local base
	base=$("$here/../fresh/debian-base.sh") || die "no Debian 12 base"
	tar -xpf "$base" -C "$dir"
	chmod 755 "$dir"
	mkdir -p "$dir/.box"
	# apt inside uses the machine's name resolution; the box boots its own
	# services, so a "start nothing" policy-rc.d of the base goes away.
	cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
	rm -f "$dir/usr/sbin/policy-rc.d"
	say "installing systemd into the box"
	unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends systemd systemd-sysv dbus' sh "$dir" \
		>"$dir/.box/apt.log" 2>&1 || { tail -20 "$dir/.box/apt.log" >&2; die "could not install systemd in the box"; }
	local u
	# Nothing to log in on; nothing that changes the machine's kernel settings
	# (shared network namespace) or waits for hardware.
	for u in getty@.service serial-getty@.service console-getty.service container-getty@.service \
		systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
		proc-sys-fs-binfmt_misc.mount systemd-modules-load.service systemd-udevd.service \
		systemd-timesyncd.service systemd-firstboot.service; do
		ln -sf /dev/null "$dir/etc/systemd/system/$u"
	done
	ln -sf /lib/systemd/system/multi-user.target "$dir/etc/systemd/system/default.target"
	: >"$dir/etc/machine-id"

	cat >"$dir/.box/init" <<'INIT'
#!/bin/sh
# PID 1 of the box's PID namespace, in its own mount and cgroup namespaces.
set -e
R=$1
mount --make-rprivate /
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --rbind /sys "$R/sys"
umount -R "$R/sys/fs/cgroup" 2>/dev/null || umount -l "$R/sys/fs/cgroup" 2>/dev/null || true
mount -o remount,bind,ro "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
cd "$R"
mkdir -p .box/oldroot
pivot_root . .box/oldroot
umount -l /.box/oldroot
exec env -i container=jetgate-box /lib/systemd/systemd --system --log-target=journal-or-kmsg
INIT
	chmod 755 "$dir/.box/init"

	# A cgroup of its own; the cgroup namespace makes it the box's root.
	local cg
	cg=$(cgroup2_root)/jetgate-box.$(basename "$dir").$$
	mkdir "$cg"
	echo "$cg" >"$dir/.box/cgroup"
	setsid sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare --pid --mount --cgroup --fork "$2/.box/init" "$2"' \
		sh "$cg" "$dir" >"$dir/.box/console.log" 2>&1 </dev/null &
	local launcher=$! i pid=
	for i in $(seq 100); do
		pid=$(cat "/proc/$launcher/task/$launcher/children" 2>/dev/null | awk '{print $1}')
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then
			echo "$pid" >"$dir/.box/pid"
			break
		fi
		sleep 0.1
	done
	[ -s "$dir/.box/pid" ] || { cat "$dir/.box/console.log" >&2; die "systemd did not start"; }
	local state=
	for i in $(seq 300); do
		state=$(inside "$dir" systemctl is-system-running 2>/dev/null || true)
		case $state in
		running) say "systemd is up in $dir (PID $pid outside)"; return 0 ;;
		degraded) inside "$dir" systemctl --failed --no-legend >&2 || true
			say "systemd is up in $dir, degraded (PID $pid outside)"; return 0 ;;
		esac
		sleep 0.1
	done
	die "systemd did not finish booting (state: $state)"
}

stop() {
	local dir=$1 pid i
	case $dir in /|"") die "refusing to remove '$dir'" ;; esac
	[ -d "$dir/.box" ] || die "$dir is not a box"
	pid=$(pid_of "$dir" || true)
	if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
		inside "$dir" systemctl poweroff --no-block >/dev/null 2>&1 || true
		for i in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		[ ! -d "/proc/$pid" ] || { say "systemd did not power off; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
		for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	fi
	local cg
	cg=$(cat "$dir/.box/cgroup" 2>/dev/null || true)
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		# the box's cgroups, deepest first (all empty once PID 1 is gone)
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || say "could not remove cgroup $cg"
	fi
	if findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d "/") == 1 || $0 == d { f = 1 } END { exit !f }'; then
		die "something is still mounted under $dir; not removing it"
	fi
	rm -rf --one-file-system -- "$dir"
}

cmd=${1:-}
case $cmd in
check) check ;;
start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
run) [ $# -ge 3 ] || die "usage: $0 run DIR CMD..."; d=$2; shift 2; inside "$d" "$@" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
*) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
