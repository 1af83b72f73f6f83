# Object store: heavy test and throughput run, included from the top-level
# Makefile.am.  Neither is part of "make check" (which runs the 64 MiB
# version of tests/integration/obj_large.test.mjs).
#
#   make check-obj-large   1 GiB object up and down, peak RSS bound
#   make bench-obj         256 MiB object: upload/download MiB/s and RSS

EXTRA_DIST += bench/obj.mk

.PHONY: check-obj-large bench-obj
check-obj-large: src/jetgate$(EXEEXT)
	JETGATE_OBJ_LARGE_MB=$${JETGATE_OBJ_LARGE_MB:-1024} abs_top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/run-node-tests.sh integration/obj_large.test.mjs

bench-obj: src/jetgate$(EXEEXT)
	JETGATE_OBJ_LARGE_MB=$${JETGATE_OBJ_LARGE_MB:-256} abs_top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/run-node-tests.sh integration/obj_large.test.mjs
