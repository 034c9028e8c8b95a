# agent/dataplane/: the agent's dataplane (build/libpcmc-dataplane.a: load, pin, attach, adopt, orphans,
# pod cgroups and host-side interfaces) and its CLI (build/pcmc-dataplane); links the BPF skeletons of bpf/bpf.mk.
DATAPLANE_SRCS := agent/dataplane/dataplane.c agent/dataplane/dataplane_pod.c agent/dataplane/dataplane_orphans.c \
                  agent/dataplane/dataplane_cgroups.c agent/dataplane/dataplane_counters.c \
                  agent/dataplane/dataplane_tc.c agent/dataplane/dataplane_pins.c agent/dataplane/pod_cgroups.c \
                  agent/dataplane/dataplane_fw.c agent/dataplane/fw_loader.c agent/dataplane/fw_legacy.c \
                  agent/dataplane/pod_iface.c agent/dataplane/cni_cache.c agent/dataplane/rtnl.c
DATAPLANE_OBJS := $(DATAPLANE_SRCS:%.c=$(BUILD)/%.o)
DATAPLANE_LIBS := -lbpf -lelf -lz -lpthread $(shell pkg-config --libs libcjson)

$(BUILD)/agent/dataplane/%.o: agent/dataplane/%.c $(wildcard agent/dataplane/*.h) bpf/pcmc.h $(BPF_SKELS) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/bpf -c $< -o $@

$(BUILD)/libpcmc-dataplane.a: $(DATAPLANE_OBJS)
	ar rcs $@ $^

$(BUILD)/pcmc-dataplane: $(BUILD)/agent/dataplane/pcmc_dataplane_cli.o $(BUILD)/libpcmc-dataplane.a $(BUILD)/libpcmc-common.a
	$(CC) $(LDFLAGS) $^ $(DATAPLANE_LIBS) -o $@

ALL_TARGETS += $(BUILD)/libpcmc-dataplane.a $(BUILD)/pcmc-dataplane
