/* Syscall counter: one program on sys_enter shared by every pod of the node. A process is counted
 * when its cgroup v2 carries pcmc storage; all others leave after one cgroup-storage lookup. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf/pcmc.h"

char LICENSE[] SEC("license") = "GPL";

/* Attached by user space to every cgroup of a tracked pod; freed by the kernel with the cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pcmc_cgroup_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tracked_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCMC_MAX_PODS);
	__type(key, __u32);
	__type(value, struct pcmc_sys_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sys_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCMC_MAX_PODS);
	__type(key, __u32);
	__type(value, struct pcmc_sys_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sys_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCMC_MAX_PODS * PCMC_MAX_LISTED);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sys_listed SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(pcmc_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pcmc_cgroup_pod *pod;
	struct pcmc_sys_policy *policy;
	struct pcmc_sys_counters *counters;
	__u32 slot, listed_key;
	__u8 index;

	pod = bpf_cgrp_storage_get(&tracked_cgroups, task->cgroups->dfl_cgrp, 0, 0);
	if (!pod)
		return 0;

	slot = pod->slot;
	policy = bpf_map_lookup_elem(&sys_policy, &slot);
	if (!policy || !policy->enabled || policy->gen != pod->gen)
		return 0;
	counters = bpf_map_lookup_elem(&sys_counters, &slot);
	if (!counters)
		return 0;

	/* Per-CPU values: the program runs with migration disabled, no atomics needed. */
	counters->total++;
	index = (id >= 0 && id < PCMC_NR_SYSCALLS_MAX) ? policy->listed_index[id] : 0;
	if (index == 0 || index > PCMC_MAX_LISTED) {
		counters->outside_list++;
		return 0;
	}
	listed_key = slot * PCMC_MAX_LISTED + index - 1;
	__u64 *listed = bpf_map_lookup_elem(&sys_listed, &listed_key);
	if (listed)
		(*listed)++;
	return 0;
}
