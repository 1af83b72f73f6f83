# Watch fan-out benchmark, included from the top-level Makefile.am.
# Not built or run by "make" or "make check": run "make bench-watch"
# (jetgate against etcd's JSON gateway at N = 1,000 and 10,000 watchers;
# QUICK=1 for a 200-watcher smoke run; WATCHERS=, ROUNDS=, WRITES= to size
# it; see bench/README.md).

EXTRA_DIST += bench/watch.mk bench/watch.sh bench/watch_fanout.mjs

.PHONY: bench-watch
bench-watch: src/jetgate$(EXEEXT)
	JETGATE=src/jetgate$(EXEEXT) $(SHELL) $(srcdir)/bench/watch.sh

# Blocking-read benchmark: 10,000 reads held at once, then their keys
# written ("make bench-held"; HELD=, WRITERS= to size it).
EXTRA_DIST += bench/held.sh bench/held.mjs

.PHONY: bench-held
bench-held: src/jetgate$(EXEEXT)
	JETGATE=src/jetgate$(EXEEXT) $(SHELL) $(srcdir)/bench/held.sh
