#!/bin/sh
# Installs what is missing (Debian 12 packages) and builds jetgate in build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#
#   tests/setup.sh           to build and run: compiler, autotools, the
#                            libraries, nats-server, curl (tests/run-local.sh)
#   tests/setup.sh --tests   ...and what the test suites need: Check, Node.js
#                            and npm (Debian's, when no node is installed),
#                            openssl, Chromium, prometheus (promtool),
#                            systemd (systemd-analyze), man-db, and the npm
#                            packages of tests/ and tests/tools/ (tests/check.sh)
#   JETGATE_SETUP_EXTRA="wrk" tests/setup.sh --tests   ...and more packages
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests=no
[ "${1:-}" = --tests ] && tests=yes

packages="build-essential autoconf automake libtool pkg-config
libnats-dev libmicrohttpd-dev libcjson-dev nettle-dev libgnutls28-dev libsystemd-dev
nats-server curl"
if [ $tests = yes ]; then
	packages="$packages check openssl prometheus systemd man-db groff-base chromium ${JETGATE_SETUP_EXTRA:-}"
	command -v node >/dev/null 2>&1 || packages="$packages nodejs"
	command -v npm >/dev/null 2>&1 || packages="$packages npm"
fi

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
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Out-of-tree builds: build/ (normal) and, for tests/check.sh, build-asan/.
[ -x configure ] || ./autogen.sh
if [ -f Makefile ]; then
	echo "setup: the source tree holds an in-tree build; run 'make distclean' first" >&2
	exit 1
fi
mkdir -p build
# A build configured before Check was installed has no unit tests: configure again.
if [ $tests = yes ] && [ -f build/Makefile ] && ! grep -q '^CHECK_LIBS = .*check' build/Makefile; then
	rm -f build/Makefile
fi
(cd build && { [ -f Makefile ] || ../configure --quiet; } && make -j"$(nproc)" >/dev/null)

if [ $tests = yes ]; then
	for d in tests tests/tools; do
		if [ ! -d "$d/node_modules" ]; then
			echo "setup: installing the npm packages of $d"
			npm ci --prefix "$d" --no-audit --no-fund --loglevel=error
		fi
	done
fi
echo "setup: jetgate built at $top/build/src/jetgate"
