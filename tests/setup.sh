#!/bin/sh
# Installs what jetgate needs to build and test (Debian 12 packages and the
# npm packages of the test suites), then builds it.  Idempotent: a second run
# installs nothing and rebuilds only what changed.
#
#   tests/setup.sh            build dependencies, nats-server, Node.js, Chromium
#   JETGATE_SETUP_EXTRA="wrk" tests/setup.sh   ...and more packages
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages="build-essential autoconf automake libtool pkg-config
libnats-dev nats-server libmicrohttpd-dev libcjson-dev check nettle-dev
libgnutls28-dev libsystemd-dev curl openssl
prometheus systemd man-db groff-base clang-14 libclang-rt-14-dev chromium ${JETGATE_SETUP_EXTRA:-}"
command -v node >/dev/null 2>&1 || packages="$packages nodejs npm"
command -v npm >/dev/null 2>&1 || packages="$packages npm"

missing=
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# Out-of-tree builds: build/ (normal) and, for tests/check.sh, build-asan/.
[ -x configure ] || ./autogen.sh
if [ -f Makefile ]; then
	echo "setup: the source tree holds an in-tree build; run 'make distclean' first" >&2
	exit 1
fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --quiet; } && make -j"$(nproc)" >/dev/null)

for d in tests tests/tools; do
	if [ ! -d "$d/node_modules" ]; then
		echo "setup: installing the npm packages of $d"
		npm ci --prefix "$d" --no-audit --no-fund --loglevel=error
	fi
done
echo "setup: jetgate built at $top/build/src/jetgate"
