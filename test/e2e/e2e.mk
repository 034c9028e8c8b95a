# test/e2e: policy distribution from the controller to the node agents (effective-policy unit
# test; the end-to-end suite on the local cluster with two simulated nodes is added when green).
E2E_UNIT_TESTS := $(BUILD)/test/controller/effective_policy_test
ALL_TARGETS += $(E2E_UNIT_TESTS)
TEST_SUITES += $(E2E_UNIT_TESTS)
