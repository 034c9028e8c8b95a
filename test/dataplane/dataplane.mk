# test/dataplane/: dataplane tests against the real kernel (root): syscall counts, firewall
# traffic through test pods, crafted packets via BPF_PROG_TEST_RUN, restart/orphans/upgrade.
DPTEST_SRCS := test/dataplane/main.c test/dataplane/fixture.c test/dataplane/syscall_test.c \
               test/dataplane/firewall_test.c test/dataplane/packets_test.c test/dataplane/lifecycle_test.c \
               test/dataplane/frame.c test/dataplane/flows_test.c \
               test/dataplane/listener.c test/dataplane/attacks_test.c test/dataplane/stateful_test.c \
               test/dataplane/discovery_test.c
DPTEST_OBJS := $(DPTEST_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/test/dataplane/%.o: test/dataplane/%.c $(wildcard test/dataplane/*.h) agent/dataplane/dataplane.h test/pod/testpod.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) -DDATAPLANE_CLI='"$(BUILD)/pcmc-dataplane"' -DTESTPOD_CLI_PATH='"$(BUILD)/pcmc-testpod"' -c $< -o $@

$(BUILD)/test-dataplane: $(DPTEST_OBJS) $(BUILD)/libpcmc-dataplane.a $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a $(BUILD)/pcmc-dataplane $(BUILD)/pcmc-testpod
	$(CC) $(LDFLAGS) $(DPTEST_OBJS) $(BUILD)/libpcmc-dataplane.a $(TESTPOD_LDLIBS) $(DATAPLANE_LIBS) \
		$(shell pkg-config --libs check) -o $@

ALL_TARGETS += $(BUILD)/test-dataplane
TEST_SUITES += $(BUILD)/test-dataplane
