# agent/service/: pcmc-agent's policy service (policy API, apply/diff, fencing, auth, metrics, state
# file) and the pcmc-agent binary (agent/main.c) on top of agent/dataplane/; tests, fuzz target, benchmarks.
AGENT_LIB_SRCS := $(wildcard agent/service/agent_*.c)
AGENT_LIB_OBJS := $(AGENT_LIB_SRCS:%.c=$(BUILD)/%.o)
AGENT_LIB      := $(BUILD)/libpcmc-agent.a
# The wire codec alone (pure: bytes -> push or error), also built with clang for the fuzzer.
POLICY_SRCS    := common/policy_codec.c common/policy_answers.c common/ebpf_config.c common/json_reader.c common/json_writer.c \
		  common/duration.c common/syscall_table.c

$(BUILD)/agent/service/agent_%.o: agent/service/agent_%.c $(wildcard agent/service/*.h) \
		agent/dataplane/dataplane.h $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libcurl) -c $< -o $@

$(AGENT_LIB): $(AGENT_LIB_OBJS)
	ar rcs $@ $^

ALL_TARGETS += $(AGENT_LIB)

# Unit tests (Check, TAP).
AGENT_UNIT_TESTS := $(BUILD)/test/agent/state_test $(BUILD)/test/agent/apply_test
$(BUILD)/test/agent/%_test: test/agent/test_%.c $(AGENT_LIB) $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(wildcard agent/service/*.h) test/common/tap_main.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags check) $< -o $@ $(LDFLAGS) $(AGENT_LIB) $(HTTP_LIB) \
		$(BUILD)/libpcmc-common.a $(HTTP_LDLIBS) $(shell pkg-config --libs check libcjson)
ALL_TARGETS += $(AGENT_UNIT_TESTS)
TEST_SUITES += $(AGENT_UNIT_TESTS)

# libFuzzer target over the push decoder (common/fuzz.mk runs it with the others).
$(BUILD)/test/agent/fuzz_policy: test/agent/fuzz_policy.c $(POLICY_SRCS) $(wildcard common/*.h) $(SYSCALL_TABLE)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) $< $(POLICY_SRCS) -o $@
ALL_TARGETS  += $(BUILD)/test/agent/fuzz_policy
FUZZ_TARGETS += $(BUILD)/test/agent/fuzz_policy:test/agent/fuzz-seeds:test/agent/policy.dict

# The agent binary.
# libpcmc-common.a carries the kube client (built by controller/controller.mk): curl + yaml.
AGENT_LDLIBS = $(AGENT_LIB) $(BUILD)/libpcmc-dataplane.a $(HTTP_LIB) $(BUILD)/libpcmc-common.a \
		$(DATAPLANE_LIBS) $(shell pkg-config --libs libcurl yaml-0.1 libcrypto) $(HTTP_LDLIBS)
$(BUILD)/agent/main.o: agent/main.c $(wildcard agent/service/*.h) agent/dataplane/dataplane.h $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/pcmc-agent: $(BUILD)/agent/main.o $(AGENT_LIB) $(BUILD)/libpcmc-dataplane.a $(HTTP_LIB) $(BUILD)/libpcmc-common.a
	$(CC) $(LDFLAGS) $< $(AGENT_LDLIBS) -o $@
ALL_TARGETS += $(BUILD)/pcmc-agent

# Many simulated nodes' agents in one process (the policy service without a dataplane), for the
# controller's scale benchmark; usage in test/agent/hollow_agents.c.
# (The agent's metrics code links the dataplane library, which hollow nodes never call.)
$(BUILD)/pcmc-hollow-agents: test/agent/hollow_agents.c $(AGENT_LIB) $(BUILD)/libpcmc-dataplane.a $(HTTP_LIB) \
		$(BUILD)/libpcmc-common.a $(wildcard agent/service/*.h) $(wildcard common/*.h)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(AGENT_LDLIBS)
ALL_TARGETS += $(BUILD)/pcmc-hollow-agents
TEST_SUITES += test/agent/hollow.sh

# Integration suite on real test pods (--auth=none), Prometheus + promtool included.
TEST_SUITES += test/agent/agent.sh
# TokenReview auth against a real kube-apiserver (own cluster dir and ports 19443/19379/19380).
TEST_SUITES += test/agent/auth.sh
# Fencing against a real kube-apiserver and a Lease driven by hand (ports 19447/19385/19386).
TEST_SUITES += test/agent/fencing.sh

# 250 real pods on one agent (plain build): apply, /metrics latency, RSS.
BENCHES += test/agent/bench.sh
# The HTTP side under load (plain build, a real kube-apiserver): probe p99 during a 4,096-pod apply,
# RSS with 60 unauthenticated 8 MiB bodies.
BENCHES += test/agent/bench-http.sh

# Test helper: restarts a container of a pcmc-testpod CLI pod (the agent suite's restart test).
$(BUILD)/test/agent/restart-container: test/agent/restart_container.c $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(BUILD)/libpcmc-testpod.a $(BUILD)/libpcmc-common.a $(shell pkg-config --libs libcjson)
ALL_TARGETS += $(BUILD)/test/agent/restart-container
