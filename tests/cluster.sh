#!/bin/sh
# Reliability and scale-out suite: a 3-node NATS JetStream cluster (and a
# single server) with faults under mixed load, jetgate killed and run twice
# (tests/cluster/). Heavy: not part of `make check`; `make check-cluster`
# runs it (with JETGATE_CLUSTER_LONG=1, `make check-cluster-long`, more rounds).
# CLUSTER_TESTS may name a subset of test files (relative to tests/).
exec "$(dirname "$0")/run-node-tests.sh" ${CLUSTER_TESTS:-cluster}
