# --- reliability and scale-out: JetStream cluster, faults, soak -----------------
# A heavy tier, not part of `make check` (see tests/soak/README.md):
#   make check-cluster        short versions, for CI: the cluster suite
#                             (tests/cluster/*.test.mjs) and a 5-minute soak
#   make check-cluster-long   the fault tests with 10 rounds and longer load
#   make check-failover-long  the failover-time test (tests/cluster/failover.test.mjs)
#                             with 10 leader kills (FAILOVER_KILLS=N to change)
#   make soak                 the one-hour soak (SOAK_SECONDS=N to change)
CLUSTER_TEST_ENV = abs_top_builddir='$(abs_top_builddir)' \
	JETGATE_BIN="$${JETGATE_BIN:-$(abs_top_builddir)/src/jetgate$(EXEEXT)}"
SOAK_CI_SECONDS = 300

# Both parts run even when the first fails; the target fails if either did.
check-cluster: src/jetgate$(EXEEXT)
	@rc=0; \
	$(CLUSTER_TEST_ENV) $(SHELL) $(srcdir)/tests/cluster.sh || rc=1; \
	$(CLUSTER_TEST_ENV) SOAK_SECONDS="$${SOAK_SECONDS:-$(SOAK_CI_SECONDS)}" \
		node $(srcdir)/tests/soak/soak.mjs || rc=1; \
	exit $$rc

check-cluster-long: src/jetgate$(EXEEXT)
	$(CLUSTER_TEST_ENV) JETGATE_CLUSTER_LONG=1 JETGATE_TEST_TIMEOUT_MS=3600000 \
		$(SHELL) $(srcdir)/tests/cluster.sh

check-failover-long: src/jetgate$(EXEEXT)
	$(CLUSTER_TEST_ENV) JETGATE_CLUSTER_LONG=1 JETGATE_TEST_TIMEOUT_MS=3600000 \
		CLUSTER_TESTS=cluster/failover.test.mjs $(SHELL) $(srcdir)/tests/cluster.sh

soak: src/jetgate$(EXEEXT)
	$(CLUSTER_TEST_ENV) node $(srcdir)/tests/soak/soak.mjs

.PHONY: check-cluster check-cluster-long check-failover-long soak
EXTRA_DIST += tests/cluster.sh tests/cluster tests/soak
