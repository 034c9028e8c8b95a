/* Map keys, values and limits shared by the BPF programs in bpf/ and the agent's dataplane.
 * Any change to a layout here must bump PCMC_LAYOUT_VERSION so a new agent replaces old pins. */
#ifndef PCMC_BPF_PCMC_H
#define PCMC_BPF_PCMC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Version of everything pinned under <pin root>/v<N>/; see agent/dataplane/dataplane_pins.c. */
#define PCMC_LAYOUT_VERSION 1

#define PCMC_MAX_PODS        512   /* pod slots: index of every per-pod array */
#define PCMC_NR_SYSCALLS_MAX 512   /* syscall numbers 0..511 can be listed (x86-64 has < 512) */
#define PCMC_MAX_LISTED      64    /* syscalls in one pod's syscallNames list */
#define PCMC_MAX_FW_RULES    65536 /* port rules of all pods together (~4 MiB preallocated) */

/* Value of the cgroup storage `tracked_cgroups`: which pod a cgroup belongs to. The program counts
 * only while gen equals the pod's sys_policy.gen, so storage left on a cgroup of a removed pod never
 * counts for the pod that reuses the slot. */
struct pcmc_cgroup_pod {
	__u32 slot;
	__u32 gen;
};

/* sys_policy[slot]: listed_index[nr] is 0 when syscall nr is not in the pod's list, else 1 + the
 * index of its counter in sys_listed (slot * PCMC_MAX_LISTED + index). */
struct pcmc_sys_policy {
	__u32 gen;
	__u32 enabled;
	__u8 listed_index[PCMC_NR_SYSCALLS_MAX];
};

/* sys_counters[slot] (per CPU). The listed counters live in their own array (sys_listed) so that
 * user space can zero a freed index without rewriting, and racing with, these totals. */
struct pcmc_sys_counters {
	__u64 total;
	__u64 outside_list;
};

/* fw_rules key: one entry per (pod, destination port), for TCP and UDP alike. */
struct pcmc_fw_rule_key {
	__u32 slot;
	__u16 port; /* host byte order */
	__u16 pad;  /* always 0 */
};

enum pcmc_fw_verdict {
	PCMC_FW_ALLOW = 1,
	PCMC_FW_BLOCK = 2,
};

/* fw_policy[slot]: the verdict for a port without a rule. */
struct pcmc_fw_policy {
	__u32 default_verdict; /* enum pcmc_fw_verdict; 0 (pod without firewall) passes */
};

/* fw_counters[slot] (per CPU). */
struct pcmc_fw_counters {
	__u64 allowed;
	__u64 blocked;
};

/* Pinned registry `pods` (user space only), keyed by the pod UID (NUL-padded): what a restarted
 * agent needs to find again what it attached. This prefix stays the same in every layout version,
 * so an agent can clean up pods pinned by an older layout. */
#define PCMC_POD_UID_LEN 40
#define PCMC_POD_SYSCALLS 0x1u /* cgroup storage attached, syscalls counted */
#define PCMC_POD_FIREWALL 0x2u /* firewall program pinned and attached */

struct pcmc_pod_key {
	char uid[PCMC_POD_UID_LEN];
};

struct pcmc_pod_record {
	__u32 slot;
	__u32 flags;     /* PCMC_POD_* */
	__u32 ifindex;   /* of the pod interface, inside the pod's network namespace */
	__u32 reserved;
	__u64 netns_ino; /* inode of the pod's network namespace */
};

#endif
