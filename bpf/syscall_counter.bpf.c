/* Syscall counter: one program on sys_enter shared by every pod of the node. A process is counted
 * when its cgroup v2 carries pcmc storage; all others leave after one cgroup-storage lookup. A second
 * program on cgroup_mkdir gives a new cgroup of a tracked pod its parent's storage at creation. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf/pcmc.h"

char LICENSE[] SEC("license") = "GPL";

extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

#ifdef __TARGET_ARCH_x86
#define TS_COMPAT 0x0002 /* thread_info.status: a 32-bit syscall (int 0x80, sysenter) is running */
/* Native (x86-64) number of each i386 syscall number, -1 for those without a native namesake. Filled
 * by user space before load from common/syscall_table (one source of truth for names). */
const volatile __s16 compat_to_native[PCMC_NR_SYSCALLS_MAX];
#endif

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

/* The syscall's native number: a 32-bit syscall counts under its name, not under the native syscall
 * that happens to have its number (i386 getppid is 64, x86-64's semget). */
static __always_inline long native_nr(struct task_struct *task, long id)
{
#ifdef __TARGET_ARCH_x86
	if (task->thread_info.status & TS_COMPAT)
		return (id >= 0 && id < PCMC_NR_SYSCALLS_MAX) ? compat_to_native[id] : -1;
#endif
	return id;
}

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
	id = native_nr(task, id);
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

/* Runs before the new directory is visible (before any process can be moved into it), so a
 * container's first instruction already runs in a tracked cgroup: nothing waits for the agent. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pcmc_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct pcmc_cgroup_pod *parent_pod, *pod;
	struct cgroup *parent;

	if (cgrp->level < 1)
		return 0;
	parent = bpf_cgroup_ancestor(cgrp, cgrp->level - 1);
	if (!parent)
		return 0;
	parent_pod = bpf_cgrp_storage_get(&tracked_cgroups, parent, 0, 0);
	if (parent_pod) {
		pod = bpf_cgrp_storage_get(&tracked_cgroups, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (pod)
			*pod = *parent_pod;
	}
	bpf_cgroup_release(parent);
	return 0;
}
