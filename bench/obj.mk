# Object store: heavy test and throughput benchmark, included from the
# top-level Makefile.am.  Neither is part of "make check" (which runs the
# 64 MiB version of tests/integration/obj_large.test.mjs).
#
#   make check-obj-large   1 GiB object up and down through jetgate, peak RSS
#                          growth under 32 MiB (JETGATE_OBJ_LARGE_MB= to resize)
#   make bench-obj         256 MiB and 1 GiB up and down, then 16 x 64 MiB
#                          downloaded at once: jetgate against a
#                          direct libnats client (bench/obj_direct) and the
#                          official JavaScript client; writes bench/RESULTS.md
#                          (QUICK=1: one 64 MiB round, prints the results)
#   make bench-obj-remove  deleting and overwriting an object on a 3-node
#                          cluster's replicated bucket (BASELINE=<jetgate> to
#                          compare another build in the same run)
#
# Uses "+=" on EXTRA_PROGRAMS, EXTRA_DIST and CLEANFILES like bench/bench.mk.

EXTRA_PROGRAMS += bench/obj_direct
bench_obj_direct_SOURCES = bench/obj_direct.c
bench_obj_direct_CFLAGS = $(NATS_CFLAGS) $(WARN_CFLAGS)
bench_obj_direct_LDADD = $(NATS_LIBS) -lpthread

EXTRA_DIST += bench/obj.mk bench/obj.sh bench/obj_js.mjs bench/obj_remove.mjs
CLEANFILES += bench/obj_direct$(EXEEXT)

.PHONY: check-obj-large bench-obj bench-obj-remove
check-obj-large: src/jetgate$(EXEEXT)
	JETGATE_OBJ_LARGE_MB=$${JETGATE_OBJ_LARGE_MB:-1024} abs_top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/run-node-tests.sh integration/obj_large.test.mjs

# Environment knobs (ROUNDS, SIZES_MB, QUICK, WINDOW, ...) are passed through
# to obj.sh; see bench/README.md.
bench-obj: bench/obj_direct$(EXEEXT) src/jetgate$(EXEEXT)
	JETGATE=src/jetgate$(EXEEXT) OBJ_DIRECT=bench/obj_direct$(EXEEXT) \
	  NODE_MODULES_DIR='$(abs_top_srcdir)/tests/node_modules' \
	  $(SHELL) $(srcdir)/bench/obj.sh

# ROUNDS, SIZE_MB, SMALL: see the head of bench/obj_remove.mjs.
bench-obj-remove: src/jetgate$(EXEEXT)
	node $(srcdir)/bench/obj_remove.mjs src/jetgate$(EXEEXT) $${BASELINE:-}
