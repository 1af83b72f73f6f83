#!/bin/sh
# debian-base.sh - prints the path of a cached Debian 12 (bookworm) minbase
# root file system as a tarball, building it first (debootstrap, a few
# minutes) when it is missing.  Concurrent callers wait for one build (flock).
#
#   tar -xpf "$(tests/fresh/debian-base.sh)" -C ROOT
#
# The root uses this machine's apt sources and download settings, and holds
# fresh package lists.  Needs root and debootstrap.
# Environment: JETGATE_FRESH_CACHE (default /var/cache/jetgate-fresh),
# JETGATE_FRESH_MIRROR (default: the bookworm mirror of this machine's apt sources).
set -eu
cache=${JETGATE_FRESH_CACHE:-/var/cache/jetgate-fresh}
tarball=$cache/debian12-minbase.tar.gz
say() { echo "debian-base: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 2; }
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi
command -v debootstrap >/dev/null || { say "needs debootstrap (apt-get install debootstrap)"; exit 2; }

# The mirror: the first URI of an apt source that lists bookworm.
mirror=${JETGATE_FRESH_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
	/^[ \t]*#/ { next }
	$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == "bookworm") { print $i; exit } break } }
	tolower($1) == "uris:" { uri = $2 }
	tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
	/^[ \t]*$/ { uri = "" }')}
[ -n "$mirror" ] || { say "no bookworm mirror in the apt sources; set JETGATE_FRESH_MIRROR"; exit 2; }

root=$(mktemp -d "$cache/root.XXXXXX")
chmod 755 "$root"
trap 'rm -rf --one-file-system "$root" "$tarball.tmp"' EXIT
say "building the Debian 12 minbase root from $mirror (a few minutes, once)"
# debootstrap mounts proc and sys in the root: a private mount namespace
# drops them whatever happens.
unshare --mount --propagation private debootstrap --variant=minbase bookworm "$root" "$mirror" \
	>"$cache/debian12-minbase.log" 2>&1 || { tail -20 "$cache/debian12-minbase.log" >&2; say "debootstrap failed"; exit 1; }

# apt as on this machine: its enabled sources, keyrings and download settings
# (Acquire:: lines only; no hooks, no credentials).
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && cp "$f" "$root$f"
done
for k in $(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oiE 'signed-by[:=] *[^] ,]+' | sed -E 's/^[^:=]*[:=] *//' | sort -u); do
	[ -f "$k" ] && [ ! -e "$root$k" ] && mkdir -p "$root$(dirname "$k")" && cp "$k" "$root$k"
done
for f in /etc/apt/apt.conf.d/*; do
	[ -f "$f" ] && grep -q '^Acquire::' "$f" && ! grep -qiE 'invoke|::Pre-|::Post-' "$f" && cp "$f" "$root$f"
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" &&
	chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get update -q' sh "$root" \
	>>"$cache/debian12-minbase.log" 2>&1 || { tail -20 "$cache/debian12-minbase.log" >&2; say "apt-get update failed in the root"; exit 1; }
chroot "$root" apt-get clean
: >"$root/etc/resolv.conf"
echo debian12 >"$root/etc/hostname"

tar --numeric-owner --one-file-system -C "$root" -czpf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
say "built $tarball"
echo "$tarball"
