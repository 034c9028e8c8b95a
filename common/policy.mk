# common/policy.mk: tests of the policy model and wire codec (common/ebpf_config, policy_codec,
# json_reader/json_writer, duration), and the check that the CRD states the same limits.
POLICY_TESTS := $(BUILD)/test/common/policy_codec_test $(BUILD)/test/common/json_reader_test \
                $(BUILD)/test/common/syscall_table_test

$(POLICY_TESTS): $(BUILD)/test/common/%_test: test/common/test_%.c test/common/tap_main.h \
		$(BUILD)/libpcmc-common.a $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) $< -o $@ $(LDFLAGS) $(BUILD)/libpcmc-common.a \
		$(shell pkg-config --libs check)

# Prints common/policy_limits.h as JSON for test/common/crd-limits.sh.
$(BUILD)/test/common/policy-limits: test/common/policy_limits.c $(BUILD)/libpcmc-common.a $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(BUILD)/libpcmc-common.a

ALL_TARGETS += $(POLICY_TESTS) $(BUILD)/test/common/policy-limits
TEST_SUITES += $(POLICY_TESTS) test/common/crd-limits.sh
