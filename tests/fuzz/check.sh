#!/bin/sh
# check.sh - the short fuzz run of `make check`: every harness in
# tests/fuzz/ for 100,000 executions under ASan/UBSan (see run.sh and
# README.md).  Skipped (exit 77) where clang with libFuzzer is missing.
# The build passes its flags in the environment (tests/fuzz/fuzz.mk).
set -eu
if [ "${JETGATE_FUZZ:-1}" = 0 ]; then
	echo "fuzz: skipped (JETGATE_FUZZ=0)" >&2
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/run.sh" check
