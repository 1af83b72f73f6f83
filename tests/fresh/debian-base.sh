#!/bin/bash
# tests/fresh/debian-base.sh - prints the path of a cached tarball of a fresh
# Debian 12 (bookworm) minimal root filesystem, building it first when it is
# missing, older than JETGATE_FRESH_MAX_AGE_DAYS or made by another version of
# this script.  Run as root; everything else goes to stderr.
#
#   tarball=$(tests/fresh/debian-base.sh)
#
# The root is `debootstrap --variant=minbase bookworm` plus ca-certificates
# and git (what `git clone` over HTTPS needs), configured as a container image
# of this machine would be: this machine's Debian apt sources (bookworm,
# bookworm-updates, bookworm-security; no third-party ones, which a fresh
# Debian does not have) and their download settings (Acquire:: lines of
# apt.conf), package lists fetched, and a policy-rc.d that keeps package
# scripts from starting services (the root shares the host's network).
#
# Environment:
#   JETGATE_FRESH_CACHE=/var/cache/jetgate-fresh   where the tarball is kept
#   JETGATE_FRESH_MAX_AGE_DAYS=7                   rebuild when older
#   JETGATE_FRESH_MIRROR=URL   Debian mirror (default: the one this machine's
#                              apt sources use, else deb.debian.org)
# Needs: root, mount namespaces (unshare), debootstrap and zstd (installed
# with apt-get when missing).  Concurrent runs wait for each other (flock).
set -euo pipefail

me=debian-base
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$me" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it runs debootstrap and chroot)"
if [ -z "${JETGATE_FRESH_BASE_NS:-}" ]; then
	command -v unshare >/dev/null || die "unshare (util-linux) is missing"
	# A private mount namespace: what debootstrap mounts can never stay
	# mounted on the host, even if this script is killed.
	unshare --mount true 2>/dev/null ||
		die "cannot create a mount namespace (unshare --mount): needs real root with CAP_SYS_ADMIN"
	JETGATE_FRESH_BASE_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi

suite=bookworm
cache=${JETGATE_FRESH_CACHE:-/var/cache/jetgate-fresh}
max_age=${JETGATE_FRESH_MAX_AGE_DAYS:-7}
tarball=$cache/debian-$suite-minbase.tar.zst
stamp=$tarball.recipe
recipe=$(sha256sum "$0" | cut -d' ' -f1)

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

if [ -f "$tarball" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ] &&
	[ -n "$(find "$tarball" -mtime "-$max_age" 2>/dev/null)" ]; then
	echo "$tarball"
	exit 0
fi

need=
command -v debootstrap >/dev/null || need="$need debootstrap"
command -v zstd >/dev/null || need="$need zstd"
if [ -n "$need" ]; then
	command -v apt-get >/dev/null || die "missing:$need (and no apt-get to install them)"
	log "installing$need"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >&2 ||
		die "could not install$need"
fi

# The Debian entries of this machine's apt sources, deb822 and one-line.
debian_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			function flush() { if (n && ok && !off) { print para; print "" } para = ""; n = ok = off = 0 }
			/^[ \t]*$/ { flush(); next }
			{ para = para (n++ ? "\n" : "") $0 }
			tolower($1) == "suites:" { ok = 1; for (i = 2; i <= NF; i++) if ($i !~ "^" s "(-updates|-security)?$") ok = 0 }
			tolower($1) == "enabled:" && tolower($2) == "no" { off = 1 }
			END { flush() }' "$f"
	done >"$work/debian.sources"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '{ l = $0; gsub(/\[[^]]*\]/, "", l); split(l, w) }
			w[1] == "deb" && w[3] ~ "^" s "(-updates|-security)?$" { print }' "$f"
	done >"$work/debian.list"
}
mirror() {
	[ -n "${JETGATE_FRESH_MIRROR:-}" ] && { echo "$JETGATE_FRESH_MIRROR"; return; }
	local m
	m=$({ awk 'tolower($1) == "uris:" { print $2 }' "$work/debian.sources"
		sed 's/\[[^]]*\]//' "$work/debian.list" | awk '$1 == "deb" { print $2 }'; } |
		grep -v -- '-security' | head -n 1 || true)
	echo "${m:-http://deb.debian.org/debian}"
}

mounts_under() { findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d "/") == 1 || $0 == d'; }
work=
cleanup() {
	local rc=$? m
	if [ -n "$work" ] && [ -d "$work" ]; then
		for m in $(mounts_under "$work" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
		if [ -n "$(mounts_under "$work")" ]; then
			log "still mounted under $work, not removing it"
		else
			rm -rf --one-file-system -- "$work"
		fi
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

t0=$(date +%s)
work=$(mktemp -d "$cache/build.XXXXXX")
root=$work/root
debian_sources
url=$(mirror)
log "building a Debian $suite minbase root from $url (about a minute)"
# One retry: a download cut off half-way fails the whole bootstrap.
if ! debootstrap --variant=minbase --include=ca-certificates,git "$suite" "$root" "$url" >"$cache/debootstrap.log" 2>&1; then
	tail -n 5 "$cache/debootstrap.log" >&2
	log "debootstrap failed; once more"
	for m in $(mounts_under "$root" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
	[ -z "$(mounts_under "$root")" ] || die "something is still mounted under $root"
	rm -rf --one-file-system -- "$root"
	debootstrap --variant=minbase --include=ca-certificates,git "$suite" "$root" "$url" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
fi

rm -f "$root/etc/apt/sources.list"
if [ -s "$work/debian.sources" ]; then cp "$work/debian.sources" "$root/etc/apt/sources.list.d/debian.sources"; fi
if [ -s "$work/debian.list" ]; then cp "$work/debian.list" "$root/etc/apt/sources.list"; fi
if [ ! -s "$work/debian.sources" ] && [ ! -s "$work/debian.list" ]; then
	printf 'deb %s %s main\ndeb %s %s-updates main\n' "$url" "$suite" "$url" "$suite" >"$root/etc/apt/sources.list"
fi
# Download settings only (proxy, Valid-Until, ...): no hooks, no credentials.
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
	[ -f "$f" ] || continue
	grep -q 'Acquire::' "$f" || continue
	grep -v '^[[:space:]]*\(//\|#\)' "$f" | grep -qiE 'invoke|hook|::pre-|::post-' && continue
	cp "$f" "$root/etc/apt/apt.conf.d/"
done
printf '#!/bin/sh\n# No service starts in this root: it shares the host network.\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
echo jetgate-fresh >"$root/etc/hostname"

cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get update -q >"$work/apt-update.log" 2>&1 ||
	{ tail -n 20 "$work/apt-update.log" >&2; die "apt-get update failed inside the new root"; }
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get clean
umount "$root/proc"
: >"$root/etc/resolv.conf"
[ -z "$(mounts_under "$root")" ] || die "something is still mounted under $root"

tar --numeric-owner --xattrs --one-file-system -I 'zstd -T0 -6 -q' -C "$root" -cpf "$tarball.tmp" .
mv -f "$tarball.tmp" "$tarball"
echo "$recipe" >"$stamp"
log "built $tarball in $(($(date +%s) - t0)) s ($(du -h "$tarball" | cut -f1))"
echo "$tarball"
