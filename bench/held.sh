#!/bin/sh
# Blocking-read benchmark (bench/held.mjs): 10,000 reads held at once, then
# every key written once.  HELD= and WRITERS= size it; JETGATE= the binary.
set -e
here=$(cd "$(dirname "$0")" && pwd)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export JETGATE_BIN="${JETGATE_BIN:-$(cd "$(dirname "${JETGATE:-src/jetgate}")" && pwd)/$(basename "${JETGATE:-src/jetgate}")}"
exec node "$here/held.mjs"
