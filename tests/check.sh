#!/bin/sh
# Sets up and runs every test: unit tests, the integration and
# interoperability suites (real nats-server and jetgate) and a short fuzz
# run, the same suites under AddressSanitizer/UndefinedBehaviorSanitizer,
# the cluster fault suite with a 5-minute soak, the benchmark smoke runs,
# `make distcheck` and the Debian package under a real systemd.  This is
# what CI runs (.ci/run).  The long tiers
# are `make check-cluster-long`, `make soak`, `make fuzz-long`,
# `make check-obj-large`, `make bench-kv`, `make bench-obj`, `make bench-obj-remove`,
# `make bench-watch`.
#
#   tests/check.sh [TIER...]   only these tiers, in the order above:
#                              unit integration interop fuzz asan cluster bench distcheck systemd
#                              (default: all of them)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
all="unit integration interop fuzz asan cluster bench distcheck systemd"
tiers=" ${*:-$all} "
for t in $tiers; do
	case " $all " in
	*" $t "*) ;;
	*) echo "check.sh: unknown tier '$t' (tiers: $all)" >&2; exit 2 ;;
	esac
done
has() { case $tiers in *" $1 "*) return 0 ;; esac; return 1; }

extra=
has fuzz && extra="$extra clang-14 libclang-rt-14-dev"
has bench && extra="$extra wrk"
has systemd && extra="$extra debhelper debootstrap lintian"
JETGATE_SETUP_EXTRA="$extra ${JETGATE_SETUP_EXTRA:-}" sh tests/setup.sh --tests
if has unit && ! grep -q '^CHECK_LIBS = .*check' build/Makefile; then
	echo "check.sh: build/ was configured without Check: no unit tests" >&2
	exit 1
fi
# The browser tests (tests/integration/watch_browser) fail instead of skipping without Chromium.
export JETGATE_REQUIRE_BROWSER=1

step() { printf '\n==== %s\n' "$*"; }

# `make check` runs the unit tests, both Node suites and the fuzz run; a
# subset of them runs with TESTS set to the chosen ones.
if has unit && has integration && has interop && has fuzz; then
	step "unit, integration and interoperability tests, short fuzz run"
	make -C build check || { tail -200 build/test-suite.log 2>/dev/null; exit 1; }
else
	sel=
	has unit && sel="$sel \$(check_PROGRAMS)"
	has integration && sel="$sel tests/integration.sh"
	has interop && sel="$sel tests/interop.sh"
	has fuzz && sel="$sel tests/fuzz/check.sh"
	if [ -n "$sel" ]; then
		step "tests:$tiers"
		make -C build check TESTS="$sel" || { tail -200 build/test-suite.log 2>/dev/null; exit 1; }
	fi
fi

if has asan; then
	step "the same under ASan/UBSan (any sanitizer report, leaks included, fails the test that stopped that jetgate)"
	mkdir -p build-asan
	(cd build-asan && { [ -f Makefile ] || ../configure --quiet --enable-asan; } &&
		make -j"$(nproc)" >/dev/null &&
		JETGATE_FUZZ=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make check) || { tail -200 build-asan/test-suite.log 2>/dev/null; exit 1; }
fi

if has cluster; then
	step "reliability: JetStream cluster faults, scale-out, full store, single-server restarts, 5-minute soak (make check-cluster)"
	make -C build check-cluster
fi

if has bench; then
	step "benchmark smoke runs (no performance targets)"
	QUICK=1 make -C build bench-kv
	QUICK=1 make -C build bench-obj
	ROUNDS=1 SIZE_MB=8 SMALL=5 make -C build bench-obj-remove
fi

if has distcheck; then
	step "make distcheck"
	# The tarball is built, installed and tested with a few suites of each kind
	# (every file the tests need must be in it); the full suites ran above.
	JETGATE_FUZZ=0 JETGATE_NODE_TESTS="kv_data obj_store watch_basic ops_install kv_interop obj_interop" \
		JETGATE_TEST_NODE_MODULES="$top/tests/node_modules" make -C build distcheck >build/distcheck.log 2>&1 ||
		{ tail -100 build/distcheck.log; echo "distcheck failed"; exit 1; }
	echo "distcheck: ok"
fi

if has systemd; then
	step "the Debian package under a real systemd (make check-systemd; needs root, namespaces, cgroup2)"
	make -C build check-systemd
	make -C build lintian
fi
