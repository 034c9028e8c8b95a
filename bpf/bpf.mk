# bpf/: kernel programs built with clang -target bpf, each with a generated skeleton in build/.
# vmlinux.h comes from the running kernel's BTF; the agent links the skeletons in.
BPF_PROGS   := syscall_counter l4_firewall bench_empty
BPF_OBJS    := $(BPF_PROGS:%=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS   := $(BPF_PROGS:%=$(BUILD)/bpf/%.skel.h)
BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I. -I$(BUILD)/bpf \
               -idirafter /usr/include/$(shell $(CC) -dumpmachine)

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/pcmc.h $(wildcard bpf/*.h) $(BUILD)/bpf/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@.tmp && mv $@.tmp $@

ALL_TARGETS += $(BPF_SKELS)
.SECONDARY: $(BPF_OBJS)
