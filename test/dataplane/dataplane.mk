# test/dataplane/: dataplane tests against the real kernel (root): syscall counts, firewall
# traffic through test pods, crafted packets via BPF_PROG_TEST_RUN, restart/orphans/upgrade; fuzzer.
DPTEST_SRCS := test/dataplane/main.c test/dataplane/fixture.c test/dataplane/syscall_test.c test/dataplane/syscall_mkdir_test.c \
               test/dataplane/firewall_test.c test/dataplane/packets_test.c test/dataplane/lifecycle_test.c \
               test/dataplane/frame.c test/dataplane/flows_test.c \
               test/dataplane/listener.c test/dataplane/attacks_test.c test/dataplane/stateful_test.c \
               test/dataplane/discovery_test.c
DPTEST_OBJS := $(DPTEST_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/test/dataplane/%.o: test/dataplane/%.c $(wildcard test/dataplane/*.h) agent/dataplane/dataplane.h test/pod/testpod.h \
                             test/common/tap_main.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) -DDATAPLANE_CLI='"$(BUILD)/pcmc-dataplane"' -DTESTPOD_CLI_PATH='"$(BUILD)/pcmc-testpod"' -c $< -o $@

$(BUILD)/test-dataplane: $(DPTEST_OBJS) $(BUILD)/libpcmc-dataplane.a $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a $(BUILD)/pcmc-dataplane $(BUILD)/pcmc-testpod
	$(CC) $(LDFLAGS) $(DPTEST_OBJS) $(BUILD)/libpcmc-dataplane.a $(TESTPOD_LDLIBS) $(DATAPLANE_LIBS) \
		$(shell pkg-config --libs check) -o $@

ALL_TARGETS += $(BUILD)/test-dataplane
TEST_SUITES += $(BUILD)/test-dataplane

# The delivery-oracle fuzzer (own binary, own suite lock and pod range 10.244.12.x): a fixed seed
# in `make test`, a long run with a random seed in `make fuzz` (PCMC_FUZZ=long).
FUZZWIRE_SRCS := test/dataplane/fuzz_wire.c test/dataplane/fuzz_frames.c test/dataplane/frame.c \
                 test/dataplane/listener.c test/dataplane/fixture.c
FUZZWIRE_OBJS := $(FUZZWIRE_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/test/dataplane/fuzz-wire: $(FUZZWIRE_OBJS) $(BUILD)/libpcmc-dataplane.a $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a
	$(CC) $(LDFLAGS) $(FUZZWIRE_OBJS) $(BUILD)/libpcmc-dataplane.a $(TESTPOD_LDLIBS) $(DATAPLANE_LIBS) \
		$(shell pkg-config --libs check) -o $@

ALL_TARGETS += $(BUILD)/test/dataplane/fuzz-wire
TEST_SUITES += $(BUILD)/test/dataplane/fuzz-wire
FUZZERS     += $(BUILD)/test/dataplane/fuzz-wire
