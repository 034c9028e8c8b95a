# test/e2e: policy distribution from the controller to the node agents (effective-policy unit
# test; e2e.sh: the whole system on the local cluster with two simulated nodes, agents and
# controllers; fencing.sh: failovers watched on the CR, and recoveries that must never wedge pushes).
E2E_UNIT_TESTS := $(BUILD)/test/controller/effective_policy_test
ALL_TARGETS += $(E2E_UNIT_TESTS)
TEST_SUITES += $(E2E_UNIT_TESTS)
TEST_SUITES += test/e2e/e2e.sh test/e2e/fencing.sh test/e2e/semantics.sh
BENCHES += test/e2e/bench.sh
