# tests/fuzz/fuzz.mk - libFuzzer harnesses for the parsers that read client
# input (tests/fuzz/README.md).  Included at the end of the top-level
# Makefile.am.
#
# The harnesses are built by clang (-fsanitize=fuzzer,address,undefined)
# together with the library's own sources, recompiled for coverage, by
# tests/fuzz/run.sh into $(builddir)/tests/fuzz/; nothing here runs at
# `make` time and nothing needs clang unless a fuzz target is asked for.
#   make fuzz-check   every harness, 100,000 executions (also part of
#                     `make check` via tests/fuzz/check.sh; skipped there
#                     without clang)
#   make fuzz-long    every harness, 10,000,000 executions
#                     (FUZZ_RUNS=N to change, FUZZ_JOBS=2 to run two at once)
#   make fuzz-build   build only
# CLANG=/path/to/clang picks the compiler (default: clang-14, else clang).

CLANG =
FUZZ_HARNESSES = \
	tests/fuzz/fuzz_auth.c \
	tests/fuzz/fuzz_base64.c \
	tests/fuzz/fuzz_config.c \
	tests/fuzz/fuzz_digest.c \
	tests/fuzz/fuzz_duration.c \
	tests/fuzz/fuzz_filter_match.c \
	tests/fuzz/fuzz_kv_bucket_cfg.c \
	tests/fuzz/fuzz_kv_direct.c \
	tests/fuzz/fuzz_kv_entry.c \
	tests/fuzz/fuzz_kv_etag.c \
	tests/fuzz/fuzz_kv_header.c \
	tests/fuzz/fuzz_names.c \
	tests/fuzz/fuzz_obj_bucket_cfg.c \
	tests/fuzz/fuzz_obj_etag.c \
	tests/fuzz/fuzz_obj_info.c \
	tests/fuzz/fuzz_pct_decode.c \
	tests/fuzz/fuzz_range.c \
	tests/fuzz/fuzz_rfc3339.c \
	tests/fuzz/fuzz_router.c \
	tests/fuzz/fuzz_size.c \
	tests/fuzz/fuzz_u64.c \
	tests/fuzz/fuzz_watch_ack.c \
	tests/fuzz/fuzz_watch_query.c

# What run.sh needs from this build: the library's sources and the flags
# of its dependencies, so the fuzzers link exactly what jetgate links.
FUZZ_ENV = CLANG='$(CLANG)' FUZZ_SRCDIR='$(abs_top_srcdir)' FUZZ_BUILDDIR='$(abs_top_builddir)' \
	FUZZ_SOURCES='$(src_libjetgate_a_SOURCES) $(nodist_src_libjetgate_a_SOURCES)' FUZZ_DEPS_CFLAGS='$(DEPS_CFLAGS)' \
	FUZZ_DEPS_LIBS='$(DEPS_LIBS)'

fuzz-build:
	$(FUZZ_ENV) $(SHELL) $(srcdir)/tests/fuzz/run.sh build
fuzz-check:
	$(FUZZ_ENV) $(SHELL) $(srcdir)/tests/fuzz/run.sh check
fuzz-long:
	$(FUZZ_ENV) $(SHELL) $(srcdir)/tests/fuzz/run.sh long
# Prints the environment above (one line, "FUZZENV: export ..."); run.sh
# reads it when run by hand (tests/fuzz/run.sh run router).
fuzz-env:
	@echo "FUZZENV: export $(FUZZ_ENV)"
fuzz-clean:
	-rm -rf tests/fuzz/obj tests/fuzz/bin tests/fuzz/check tests/fuzz/long tests/fuzz/run \
		tests/fuzz/minimize tests/fuzz/build tests/fuzz/libjetgate-fuzz.a tests/fuzz/probe \
		tests/fuzz/probe.c tests/fuzz/probe.log
clean-local: fuzz-clean
.PHONY: fuzz-build fuzz-check fuzz-long fuzz-env fuzz-clean

TESTS += tests/fuzz/check.sh
AM_TESTS_ENVIRONMENT += $(FUZZ_ENV); export CLANG FUZZ_SRCDIR FUZZ_BUILDDIR FUZZ_SOURCES \
	FUZZ_DEPS_CFLAGS FUZZ_DEPS_LIBS;

EXTRA_DIST += $(FUZZ_HARNESSES) tests/fuzz/fuzz_common.h tests/fuzz/run.sh tests/fuzz/check.sh \
	tests/fuzz/README.md tests/fuzz/corpus tests/fuzz/dict
