#!/usr/bin/env bash
# Runs jetgate's Node.js test files (*.test.mjs) with `node --test`.
#
# Usage: tests/run-node-tests.sh [DIR|FILE]...   (default: integration interop)
#
# A relative DIR is looked up in the current directory, then in the tests
# directory, then in the source tree. The jetgate binary is $JETGATE_BIN, by
# default <builddir>/src/jetgate, where builddir is $abs_top_builddir, else the
# current directory when run from `make check` ($srcdir set), else the source
# tree. JETGATE_NODE_TESTS, when set, keeps only the files whose name (without
# .test.mjs) it lists, space-separated (make distcheck runs a few, the full
# suites having run on the same sources). Exit codes follow automake: 77 =
# skipped (no node, or no file left), 99 = hard error.
set -eu

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$script_dir/.." && pwd)
if [ -n "${srcdir:-}" ] && [ -f "$srcdir/tests/run-node-tests.sh" ]; then
	top_srcdir=$(cd "$srcdir" && pwd)
fi
tests_dir=$top_srcdir/tests

if [ -n "${abs_top_builddir:-}" ]; then
	builddir=$abs_top_builddir
elif [ -n "${srcdir:-}" ]; then
	builddir=$(pwd)
else
	builddir=$top_srcdir
fi
JETGATE_BIN=${JETGATE_BIN:-$builddir/src/jetgate}
case $JETGATE_BIN in
/*) ;;
*) JETGATE_BIN=$(pwd)/$JETGATE_BIN ;;
esac
export JETGATE_BIN

if ! command -v node >/dev/null 2>&1; then
	echo "run-node-tests: node not found, skipping" >&2
	exit 77
fi

# Resolve the arguments before changing anything.
if [ $# -eq 0 ]; then
	set -- integration interop
fi
targets=
for arg in "$@"; do
	found=
	for cand in "$arg" "$tests_dir/$arg" "$top_srcdir/$arg"; do
		if [ -e "$cand" ]; then
			found=$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")
			break
		fi
	done
	if [ -z "$found" ]; then
		echo "run-node-tests: no such test directory or file: $arg" >&2
		exit 99
	fi
	targets="$targets
$found"
done

# The npm dependencies live in tests/node_modules. A read-only source tree
# (make distcheck) gets a copy of the tests in the build directory instead.
run_dir=$tests_dir
if [ ! -d "$tests_dir/node_modules" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "run-node-tests: tests/node_modules is missing and npm is not installed" >&2
		exit 99
	fi
	if [ ! -w "$tests_dir" ]; then
		run_dir=$builddir/tests-node
		rm -rf "$run_dir"
		mkdir -p "$run_dir"
		(cd "$tests_dir" && tar cf - --exclude=node_modules .) | (cd "$run_dir" && tar xf -)
		chmod -R u+w "$run_dir"
	fi
	if ! npm ci --prefix "$run_dir" --no-audit --no-fund >&2; then
		echo "run-node-tests: 'npm ci --prefix $run_dir' failed; install the test dependencies first" >&2
		exit 99
	fi
fi

files=
old_ifs=$IFS
IFS='
'
for t in $targets; do
	if [ "$run_dir" != "$tests_dir" ]; then
		case $t in
		"$tests_dir"/*) t=$run_dir/${t#"$tests_dir"/} ;;
		esac
	fi
	if [ -d "$t" ]; then
		for f in $(find "$t" -maxdepth 1 -type f -name '*.test.mjs' | LC_ALL=C sort); do
			files="$files
$f"
		done
	else
		files="$files
$t"
	fi
done
IFS=$old_ifs

if [ -n "${JETGATE_NODE_TESTS:-}" ]; then
	kept=
	IFS='
'
	for f in $files; do
		name=$(basename "$f" .test.mjs)
		case " $JETGATE_NODE_TESTS " in
		*" $name "*) kept="$kept
$f" ;;
		esac
	done
	IFS=$old_ifs
	files=$kept
fi

if [ -z "$files" ]; then
	echo "run-node-tests: no *.test.mjs files in: $*" >&2
	exit 77
fi

# --test-concurrency and --test-timeout are missing in Node 18 (and early 20).
node_major=$(node -p 'process.versions.node.split(".")[0]')
node_help=$(node --help 2>/dev/null || true)
opts=
if [ "$node_major" -ge 20 ] && printf '%s\n' "$node_help" | grep -q -- '--test-concurrency'; then
	opts="$opts --test-concurrency=2"
fi
if printf '%s\n' "$node_help" | grep -q -- '--test-timeout'; then
	opts="$opts --test-timeout=${JETGATE_TEST_TIMEOUT_MS:-180000}"
fi

echo "run-node-tests: node $(node --version), jetgate $JETGATE_BIN" >&2
IFS='
'
# The output is also kept, so that the failures can be repeated at the end:
# a log cut to its last lines (CI) still names what failed and why.
log=$(mktemp "${TMPDIR:-/tmp}/jetgate-node-tests.XXXXXX")
trap 'rm -f "$log"' EXIT
set +e
# shellcheck disable=SC2086
node --test $(printf '%s' "$opts" | tr ' ' '\n' | sed '/^$/d') $files 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
IFS=$old_ifs
if [ "$rc" -ne 0 ] || grep -q '^ *not ok ' "$log"; then
	echo "run-node-tests: failed tests, repeated from above:"
	awk '
		/^ *not ok / {
			if ($0 ~ /# SKIP|# TODO/) next
			match($0, /^ */); ind = RLENGTH; show = 1; print; next
		}
		show {
			print
			match($0, /^ */)
			if (RLENGTH == ind + 2 && $0 ~ /^ *\.\.\.$/) show = 0
		}
	' "$log" | head -n 400
	rc=1
fi
exit $rc
