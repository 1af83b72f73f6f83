#!/bin/sh
# check.sh - the short fuzz run of `make check`: every harness in
# tests/fuzz/ for 100,000 executions under ASan/UBSan (see run.sh and
# README.md).  Skipped (exit 77) where clang with libFuzzer is missing.
# The build passes its flags in the environment (tests/fuzz/fuzz.mk).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/run.sh" check
