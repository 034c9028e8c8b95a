# common/fuzz.mk: the libFuzzer targets. A fragment builds its target (clang,
# -fsanitize=fuzzer,address,undefined) and adds "binary:seed dir:dict" to FUZZ_TARGETS;
# test/common/fuzz.sh runs them all: PCMC_FUZZ_SECONDS (20 s) each in `make test`, 10^6
# executions each in `make fuzz` (it is one of the FUZZERS, run with PCMC_FUZZ=long).
FUZZ_LIST   := $(BUILD)/fuzz-targets.txt
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD) -fsanitize=fuzzer,address,undefined \
	       -fno-sanitize-recover=undefined

$(FUZZ_LIST): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' $(FUZZ_TARGETS) | cmp -s - $@ || printf '%s\n' $(FUZZ_TARGETS) > $@

# The HTTP request layer (common/http_conn.c + http_parse.c) with the policy codec behind a route.
FUZZ_HTTP_SRCS := common/http_conn.c common/http_parse.c common/policy_codec.c common/policy_answers.c \
		  common/ebpf_config.c common/json_reader.c common/json_writer.c common/duration.c common/syscall_table.c
$(BUILD)/test/common/fuzz_http: test/common/fuzz_http.c $(FUZZ_HTTP_SRCS) $(wildcard common/*.h) $(SYSCALL_TABLE)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_HTTP_SRCS) -o $@

FUZZ_TARGETS += $(BUILD)/test/common/fuzz_http:test/common/fuzz-seeds/http:test/common/http.dict
ALL_TARGETS  += $(FUZZ_LIST) $(BUILD)/test/common/fuzz_http
TEST_SUITES  += test/common/fuzz.sh
FUZZERS      += test/common/fuzz.sh
