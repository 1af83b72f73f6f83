#!/bin/sh
# run.sh - builds and runs jetgate's libFuzzer harnesses (tests/fuzz/fuzz_*.c).
#
#   run.sh build                 compile the harnesses (clang, ASan+UBSan)
#   run.sh check [NAME...]       build, then FUZZ_RUNS (100000) runs of each
#   run.sh long [NAME...]        build, then FUZZ_RUNS (10000000) runs of each
#   run.sh run NAME [ARG...]     one harness, libFuzzer arguments as given
#   run.sh minimize NAME FILE    shrink a crashing input (artifacts/ -> min-*)
#   run.sh list                  the harness names
#
# `make fuzz-check` and `make fuzz-long` call this with the build's flags;
# it also works on its own from a configured build directory (default
# build/ beside the sources).  Environment:
#   CLANG            the compiler (default: clang-14, else clang)
#   FUZZ_SRCDIR      the source tree (default: two levels up from here)
#   FUZZ_BUILDDIR    a configured build directory holding autoconfig.h
#   FUZZ_SOURCES     project sources, relative to FUZZ_SRCDIR (default:
#                    every src/**/*.c but src/main.c)
#   FUZZ_DEPS_CFLAGS, FUZZ_DEPS_LIBS   default: pkg-config
#   FUZZ_RUNS        executions per harness
#   FUZZ_TIMEOUT     seconds for one input before it counts as a hang (10)
#   FUZZ_JOBS        harnesses run at once (1)
#   FUZZ_SEED        libFuzzer's -seed (check: 1, for a repeatable run;
#                    empty = random)
#
# Everything is written under $FUZZ_BUILDDIR/tests/fuzz: obj/ and bin/ (the
# build), and per command (check/, long/, ...): work/NAME/ (inputs found;
# the seed corpus tests/fuzz/corpus/NAME/ is only read, so a read-only
# source tree works), logs/NAME.log, artifacts/ (crashing inputs).  Exit status: 0 all clean, 1 a harness
# crashed or failed to build, 77 clang (with libFuzzer) is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${FUZZ_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${FUZZ_BUILDDIR:-$srcdir/build}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "$builddir" && pwd)
out=$builddir/tests/fuzz
fuzzdir=$srcdir/tests/fuzz

die() { echo "fuzz: $*" >&2; exit 1; }

find_clang() {
	if [ -n "${CLANG:-}" ]; then
		command -v "$CLANG" 2>/dev/null || true
		return
	fi
	command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || true
}

names() {
	for f in "$fuzzdir"/fuzz_*.c; do
		n=${f##*/fuzz_}
		echo "${n%.c}"
	done
}

# Per-harness libFuzzer options.
harness_opts() {
	case $1 in
	config) echo "-max_len=10000 -close_fd_mask=2" ;;
	# libnats frees messages later on its own thread, which would make
	# every input look like a leak and cost a full leak scan each; leaks
	# are still reported when the process exits
	kv_direct) echo "-max_len=2048 -detect_leaks=0" ;;
	auth) echo "-max_len=4096 -close_fd_mask=2" ;;
	kv_entry | obj_info | obj_bucket_cfg) echo "-max_len=4096" ;;
	*) echo "-max_len=2048" ;;
	esac
}

# Run by hand: take the build's sources and flags from its Makefile.
if [ -z "${FUZZ_SOURCES:-}" ] && [ -f "$builddir/Makefile" ] &&
	grep -q '^fuzz-env:' "$builddir/Makefile"; then
	eval "$(${MAKE:-make} -s --no-print-directory -C "$builddir" fuzz-env | sed -n "s/^FUZZENV: //p")"
fi

cc=
cflags=
setup() {
	cc=$(find_clang)
	if [ -z "$cc" ]; then
		echo "fuzz: clang not found (apt-get install clang-14 libclang-rt-14-dev); skipped" >&2
		exit 77
	fi
	[ -f "$builddir/autoconfig.h" ] ||
		die "$builddir is not a configured build directory (no autoconfig.h)"
	if [ -z "${FUZZ_DEPS_CFLAGS+set}" ] || [ -z "${FUZZ_DEPS_LIBS+set}" ]; then
		pkgs="libnats libmicrohttpd libcjson nettle"
		if grep -q '^#define HAVE_SYSTEMD 1' "$builddir/autoconfig.h"; then
			pkgs="$pkgs libsystemd"
		fi
		FUZZ_DEPS_CFLAGS=${FUZZ_DEPS_CFLAGS-$(pkg-config --cflags $pkgs)}
		FUZZ_DEPS_LIBS=${FUZZ_DEPS_LIBS-"$(pkg-config --libs $pkgs) -lpthread"}
	fi
	cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
		-fno-sanitize-recover=all -I$srcdir/src -I$builddir $FUZZ_DEPS_CFLAGS"
	# A probe: Debian's clang needs libclang-rt-14-dev for libFuzzer.
	mkdir -p "$out"
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
		>"$out/probe.c"
	if ! "$cc" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" \
		>"$out/probe.log" 2>&1; then
		cat "$out/probe.log" >&2
		echo "fuzz: $cc cannot link libFuzzer (apt-get install libclang-rt-14-dev); skipped" >&2
		exit 77
	fi
}

# Compiles the project sources (instrumented for coverage) into one
# archive, then each harness against it.  Rebuilds what is older than its
# source or than any header.
build() {
	setup
	mkdir -p "$out/obj" "$out/bin"
	if [ -z "${FUZZ_SOURCES:-}" ]; then
		FUZZ_SOURCES=$(cd "$srcdir" && find src -name '*.c' ! -path src/main.c | sort)
		# and what the build generates (the web console's files)
		FUZZ_SOURCES="$FUZZ_SOURCES $(cd "$builddir" && find src -name '*.c' | sort)"
	fi
	# A source is in the source tree or, generated, in the build directory.
	locate() { if [ -f "$srcdir/$1" ]; then echo "$srcdir/$1"; else echo "$builddir/$1"; fi; }
	newest_h=$(ls -t $(find "$srcdir/src" "$fuzzdir" -name '*.h') "$builddir/autoconfig.h" |
		head -1)
	objs=
	todo=
	for s in $FUZZ_SOURCES; do
		case $s in *.c) ;; *) continue ;; esac
		[ "$s" = src/main.c ] && continue
		o=$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
		objs="$objs $o"
		if [ ! -f "$o" ] || [ "$(locate "$s")" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
			todo="$todo $s"
		fi
	done
	if [ -n "$todo" ]; then
		echo "fuzz: compiling$(echo $todo | wc -w | sed 's/^/ /') sources with $cc"
		# shellcheck disable=SC2086
		printf '%s\n' $todo | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
			o="$1/obj/$(echo "$2" | tr / _ | sed "s/\.c\$/.o/")"
			f="$5/$2"; [ -f "$f" ] || f="$6/$2"
			exec "$3" $4 -fsanitize=fuzzer-no-link -c "$f" -o "$o"' \
			sh "$out" {} "$cc" "$cflags" "$srcdir" "$builddir" || die "compiling the sources failed"
		rm -f "$out/libjetgate-fuzz.a"
	fi
	if [ ! -f "$out/libjetgate-fuzz.a" ]; then
		# shellcheck disable=SC2086
		ar rcs "$out/libjetgate-fuzz.a" $objs
	fi
	for n in $(names); do
		h=$fuzzdir/fuzz_$n.c
		b=$out/bin/fuzz_$n
		if [ ! -f "$b" ] || [ "$h" -nt "$b" ] || [ "$out/libjetgate-fuzz.a" -nt "$b" ] ||
			[ "$fuzzdir/fuzz_common.h" -nt "$b" ]; then
			echo "fuzz: linking fuzz_$n"
			# shellcheck disable=SC2086
			"$cc" $cflags -fsanitize=fuzzer "$h" "$out/libjetgate-fuzz.a" $FUZZ_DEPS_LIBS \
				-o "$b" || die "building fuzz_$n failed"
		fi
	done
}

# Runs one harness for $2 executions; the seed corpus is read, new inputs go
# to work/NAME.  Prints one summary line.
run_one() {
	n=$1 runs=$2
	b=$out/bin/fuzz_$n
	[ -x "$b" ] || die "no harness fuzz_$n"
	mkdir -p "$state/work/$n" "$state/artifacts" "$state/logs"
	seeds=
	[ -d "$fuzzdir/corpus/$n" ] && seeds=$fuzzdir/corpus/$n
	dict=
	[ -f "$fuzzdir/dict/$n.dict" ] && dict=-dict=$fuzzdir/dict/$n.dict
	log=$state/logs/$n.log
	start=$(date +%s%N | cut -c1-13)
	seed=
	[ -n "${FUZZ_SEED:-}" ] && seed=-seed=$FUZZ_SEED
	# shellcheck disable=SC2046,SC2086
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$b" -runs="$runs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$state/artifacts/$n-" $(harness_opts "$n") $dict $seed \
		"$state/work/$n" $seeds >"$log" 2>&1; then
		ms=$(($(date +%s%N | cut -c1-13) - start))
		[ "$ms" -gt 0 ] || ms=1
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		printf 'fuzz: %-15s ok %9s runs %8s exec/s %6s.%01ds  %s\n' "$n" "${execs:-?}" \
			"$((${execs:-0} * 1000 / ms))" "$((ms / 1000))" "$((ms % 1000 / 100))" "${cov:-}"
		return 0
	fi
	echo "fuzz: $n FAILED; log $log" >&2
	# the first report and its stack, without libFuzzer's own frames
	sed -n '/runtime error\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|ERROR: libFuzzer\|invariant failed/,$p' \
		"$log" | grep -v 'fuzzer::\|__sanitizer\|__ubsan\|libc_start\|_start \|pthread_kill\|raise \|abort ' |
		head -24 >&2 || true
	grep 'Test unit written' "$log" | tail -1 >&2 || true
	echo "fuzz: reproduce with: $b <artifact>; shrink with: $0 minimize $n <artifact>" >&2
	return 1
}

run_all() {
	runs=$1
	shift
	build
	[ $# -gt 0 ] || set -- $(names)
	failed=
	if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
		# several harnesses at once; each writes its own log
		mkdir -p "$state/logs"
		rm -f "$state/logs/failed"
		printf '%s\n' "$@" | xargs -P "$FUZZ_JOBS" -I{} sh -c \
			'FUZZ_STATE="$4" sh "$1" _one {} "$2" || echo {} >>"$3"' \
			sh "$0" "$runs" "$state/logs/failed" "$state" || true
		[ -f "$state/logs/failed" ] && failed=$(cat "$state/logs/failed")
	else
		for n in "$@"; do
			run_one "$n" "$runs" || failed="$failed $n"
		done
	fi
	if [ -n "$failed" ]; then
		echo "fuzz: crashes in:$failed (inputs under $state/artifacts)" >&2
		return 1
	fi
	echo "fuzz: $# harnesses, $runs runs each, no crash"
}

cmd=${1:-check}
[ $# -gt 0 ] && shift
# each kind of run has its own inputs, logs and crashes, so a long run and a
# `make check` can go on at the same time
state=${FUZZ_STATE:-$out/$cmd}
case $cmd in
list) names ;;
_one) run_one "$1" "$2" ;;
build) build ;;
check)
	# a fixed seed: the same tree gives the same run (FUZZ_SEED= for a random one)
	FUZZ_SEED=${FUZZ_SEED-1}
	export FUZZ_SEED
	run_all "${FUZZ_RUNS:-100000}" "$@"
	;;
long) run_all "${FUZZ_RUNS:-10000000}" "$@" ;;
run)
	[ $# -ge 1 ] || die "usage: $0 run NAME [libFuzzer args]"
	build
	n=$1
	shift
	exec "$out/bin/fuzz_$n" $(harness_opts "$n") "$@"
	;;
minimize)
	[ $# -eq 2 ] || die "usage: $0 minimize NAME FILE"
	build
	mkdir -p "$state"
	m=$state/min-$1-$(basename "$2")
	"$out/bin/fuzz_$1" $(harness_opts "$1") -minimize_crash=1 -runs=100000 \
		-exact_artifact_path="$m" "$2" >"$state/minimize-$1.log" 2>&1 || true
	[ -f "$m" ] || die "could not minimize (log: $state/minimize-$1.log)"
	echo "fuzz: minimized input: $m ($(wc -c <"$m") bytes)"
	echo "fuzz: keep it as $fuzzdir/corpus/$1/regress-<what>"
	;;
*) die "unknown command '$cmd' (build, check, long, run, minimize, list)" ;;
esac
