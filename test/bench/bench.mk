# test/bench/: dataplane benchmarks (time inside the BPF programs via bpf_stats, drop rate through a
# veth), built without sanitizers from non-sanitized copies of the dataplane, test pod and common objects.
BENCH_DIR     := $(BUILD)/bench
BENCH_CFLAGS  := -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -I$(BUILD) -I$(BUILD)/bpf \
                 $(shell pkg-config --cflags libcjson)
BENCH_DEPS    := $(BENCH_DIR)/libpcmc-bench-deps.a
BENCH_SHARED  := test/bench/bpf_stats.c test/bench/bench_env.c
BENCH_PROGS   := $(BENCH_DIR)/syscall_bench $(BENCH_DIR)/firewall_bench
BENCH_LDLIBS  := -lbpf -lelf -lz -lpthread $(shell pkg-config --libs libcjson)

# The source lists come from other fragments (some read after this one): expanded in the recipe.
$(BENCH_DEPS): $(wildcard agent/*/*.c agent/*/*.h test/pod/*.c test/pod/*.h common/*.c common/*.h) \
		bpf/pcmc.h $(BPF_SKELS) $(SYSCALL_TABLE) $(BUILD_INFO_H)
	@rm -rf $(BENCH_DIR)/deps && mkdir -p $(BENCH_DIR)/deps
	@set -e; for src in $(DATAPLANE_SRCS) $(TESTPOD_LIB_SRCS) $(COMMON_SRCS); do \
		obj=$(BENCH_DIR)/deps/$$(echo "$${src%.c}" | tr / _).o; \
		echo "  CC (bench) $$src"; $(CC) $(BENCH_CFLAGS) -c $$src -o $$obj; done
	@rm -f $@ && ar rcs $@ $(BENCH_DIR)/deps/*.o

$(BENCH_DIR)/%: test/bench/%.c $(BENCH_SHARED) $(wildcard test/bench/*.h) $(BENCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< $(BENCH_SHARED) $(BENCH_EXTRA) $(BENCH_DEPS) $(BENCH_LDLIBS) -o $@

# The firewall benchmark's traffic (UDP blasts, a TCP stream, an empty TC program).
$(BENCH_DIR)/firewall_bench: BENCH_EXTRA := test/bench/fw_traffic.c
$(BENCH_DIR)/firewall_bench: test/bench/fw_traffic.c

ALL_TARGETS += $(BENCH_PROGS)
BENCHES     += $(BENCH_PROGS)
