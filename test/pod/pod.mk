# test/pod/: the test pod helper (library for C tests, CLI for shell scripts) and its self-test.
TESTPOD_LIB_SRCS := test/pod/command.c test/pod/cgroup.c test/pod/network.c test/pod/cni_record.c test/pod/host_policy.c test/pod/janitor.c test/pod/cleanup.c test/pod/process.c \
                    test/pod/server.c test/pod/testpod.c test/pod/state.c test/pod/testclient.c
TESTPOD_LIB_OBJS := $(TESTPOD_LIB_SRCS:%.c=$(BUILD)/%.o)
# Consumers of libpcmc-testpod.a link: $(TESTPOD_LDLIBS)
TESTPOD_LDLIBS   := $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a $(shell pkg-config --libs libcjson)

$(BUILD)/test/pod/%.o: test/pod/%.c $(wildcard test/pod/*.h) common/log.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpcmc-testpod.a: $(TESTPOD_LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/pcmc-testpod: $(BUILD)/test/pod/cli.o $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a
	$(CC) $(LDFLAGS) $< $(TESTPOD_LDLIBS) -o $@

ALL_TARGETS += $(BUILD)/libpcmc-testpod.a $(BUILD)/pcmc-testpod

$(BUILD)/test/pod/pod_test.o: CFLAGS += $(shell pkg-config --cflags check) -DTESTPOD_CLI='"$(BUILD)/pcmc-testpod"'
$(BUILD)/test-pod: $(BUILD)/test/pod/pod_test.o $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a
	$(CC) $(LDFLAGS) $< $(TESTPOD_LDLIBS) $(shell pkg-config --libs check) -o $@

ALL_TARGETS += $(BUILD)/test-pod
TEST_SUITES += $(BUILD)/test-pod
