# Benchmarks, included from the top-level Makefile.am (subdir-objects).
# Nothing here is built by "make" or "make check": run "make bench-kv".
# See bench/README.md.
#
# Uses "+=" on EXTRA_PROGRAMS, EXTRA_DIST and CLEANFILES: automake requires the
# including Makefile.am to set each of them with "=" (empty is fine) before the
# "include bench/bench.mk" line.

EXTRA_PROGRAMS += bench/kv_direct
bench_kv_direct_SOURCES = bench/kv_direct.c
bench_kv_direct_CFLAGS = $(NATS_CFLAGS) $(WARN_CFLAGS)
bench_kv_direct_LDADD = $(NATS_LIBS) -lpthread -lm

EXTRA_PROGRAMS += bench/entries_direct
bench_entries_direct_SOURCES = bench/entries_direct.c
bench_entries_direct_CFLAGS = $(NATS_CFLAGS) $(WARN_CFLAGS)
bench_entries_direct_LDADD = $(NATS_LIBS) -lpthread

EXTRA_DIST += \
	bench/entries.sh \
	bench/entries_pergets.mjs \
	bench/README.md \
	bench/RESULTS.md \
	bench/kv.sh \
	bench/get.lua \
	bench/put.lua \
	bench/wrk_common.lua

CLEANFILES += bench/kv_direct$(EXEEXT) bench/entries_direct$(EXEEXT)

# Environment knobs (ROUNDS, DURATION, QUICK, ...) are passed through to kv.sh.
.PHONY: bench-kv
bench-kv: bench/kv_direct$(EXEEXT) src/jetgate$(EXEEXT)
	JETGATE=src/jetgate$(EXEEXT) KV_DIRECT=bench/kv_direct$(EXEEXT) \
	  $(SHELL) $(srcdir)/bench/kv.sh

# Bulk reads: GET .../entries against one GET per key and a direct client
# (NKEYS, VALUE_SIZE, ROUNDS passed through to entries.sh).
.PHONY: bench-entries
bench-entries: bench/entries_direct$(EXEEXT) src/jetgate$(EXEEXT)
	JETGATE=src/jetgate$(EXEEXT) ENTRIES_DIRECT=bench/entries_direct$(EXEEXT) \
	  $(SHELL) $(srcdir)/bench/entries.sh
