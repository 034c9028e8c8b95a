/* Map keys, values and limits shared by the BPF programs in bpf/ and the agent's dataplane.
 * Any change to a layout here must bump PCMC_LAYOUT_VERSION so a new agent replaces old pins. */
#ifndef PCMC_BPF_PCMC_H
#define PCMC_BPF_PCMC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Version of everything pinned under <pin root>/v<N>/; see agent/dataplane/dataplane_pins.c. */
#define PCMC_LAYOUT_VERSION 4

#define PCMC_MAX_PODS        512   /* pod slots: index of every per-pod array */
#define PCMC_NR_SYSCALLS_MAX 512   /* syscall numbers 0..511 can be listed (x86-64 has < 512) */
#define PCMC_MAX_LISTED      64    /* syscalls in one pod's syscallNames list */
#define PCMC_MAX_FW_RULES    65536 /* port rules of all pods together (the agent's limit, records ~4 MiB) */

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

/* ---- L4 firewall (bpf/l4_firewall.bpf.c; agent/dataplane/fw_loader.c) ---- */

#define PCMC_MAX_POD_IFACES  4      /* host-side interfaces of one pod (one per CNI attachment) */
#define PCMC_MAX_FW_IFACES   (PCMC_MAX_PODS * PCMC_MAX_POD_IFACES)
#define PCMC_MAX_FLOWS4      131072 /* IPv4 flows pods started, node-wide LRU (~11 MiB preallocated) */
#define PCMC_MAX_FLOWS6      65536  /* IPv6 flows, the same (~7 MiB) */
#define PCMC_MAX_FLOWS       (PCMC_MAX_FLOWS4 + PCMC_MAX_FLOWS6)
#define PCMC_MAX_VLAN_TAGS   8      /* 802.1Q/802.1ad tags walked; a deeper stack is dropped */
#define PCMC_MAX_IPV6_EXT_HEADERS 8 /* IPv6 extension headers walked; a 9th is dropped */

/* Idle time after which a flow entry no longer lets replies in (seconds of the coarse monotonic
 * clock). Opening: the pod's first packet (TCP SYN, SCTP INIT, DCCP Request, a datagram) with no
 * answer yet. Established: answered; datagram flows (UDP, UDP-Lite) keep PCMC_FLOW_DATAGRAM_S.
 * Closing: a FIN or RST was seen. */
#define PCMC_FLOW_OPENING_S     60
#define PCMC_FLOW_ESTABLISHED_S 21600
#define PCMC_FLOW_DATAGRAM_S    60
#define PCMC_FLOW_CLOSING_S     10

/* Which pod slot the traffic of a host-side interface belongs to: fw_iface_slots[ifindex] (an
 * array: one load) for ifindex < PCMC_IFINDEX_DIRECT, fw_ifaces{ifindex} (a hash) above. Only
 * interfaces of pods with a firewall are claimed, so a claim also means "filter on". */
#define PCMC_IFINDEX_DIRECT 65536
struct pcmc_fw_iface {
	__u32 slot;
	__u32 gen; /* the pod's slot generation (>= 1, as in fw_policy); 0: not claimed */
};

/* fw_rules (user space only): the pod's rules as written, one entry per (pod, destination port),
 * for every port protocol alike; what a restarted agent reads back. The programs read fw_ports. */
struct pcmc_fw_rule_key {
	__u32 slot;
	__u16 port; /* host byte order */
	__u16 pad;  /* always 0 */
};

enum pcmc_fw_verdict {
	PCMC_FW_ALLOW = 1,
	PCMC_FW_BLOCK = 2,
};

/* fw_policy[slot] (user space only): the verdict for a port without a rule, and the slot's
 * generation: flows recorded for an earlier pod in the same slot (another gen) never let anything
 * in. The programs read the generation from the interface's claim (pcmc_fw_iface). */
struct pcmc_fw_policy {
	__u32 default_verdict; /* enum pcmc_fw_verdict; 0 (pod without firewall) passes */
	__u32 gen;
};

/* fw_ports[slot]: the verdict of every destination port, rules and default folded in: bit
 * (port % 64) of word (port / 64) set = blocked. One array lookup and a bit test per packet,
 * whatever the number of rules; rewritten whole by the agent, each port changing at most once. */
#define PCMC_PORT_WORDS (65536 / 64)
struct pcmc_fw_ports {
	__u64 blocked[PCMC_PORT_WORDS];
};

/* Why a packet was dropped (index of pcmc_fw_counters.blocked). */
enum pcmc_fw_reason {
	PCMC_FW_REASON_PORT,         /* the policy blocks its destination port */
	PCMC_FW_REASON_MALFORMED,    /* a header cut short or inconsistent */
	PCMC_FW_REASON_TOO_DEEP,     /* more VLAN tags or IPv6 extension headers than are walked */
	PCMC_FW_REASON_ENCAPSULATED, /* a payload the program does not open that could carry a port
				      * protocol: tunnels, ESP, MPLS, PPPoE, unknown ethertypes */
	PCMC_FW_REASONS,
};

/* fw_counters[slot] (per CPU). */
struct pcmc_fw_counters {
	__u64 allowed;      /* to an allowed port, or a non-first fragment */
	__u64 allowed_flow; /* to a blocked port, passed as part of a flow the pod started */
	__u64 blocked[PCMC_FW_REASONS];
};

/* fw_flows4 / fw_flows6: flows a pod started, keyed from the pod's side (two maps: an IPv4 key
 * is hashed in half the time). Addresses in network byte order, ports in host byte order. */
struct pcmc_flow_key4 {
	__u32 slot;
	__u8 proto;     /* IPPROTO_TCP, _UDP, _UDPLITE, _SCTP, _DCCP */
	__u8 pad;       /* always 0 */
	__u16 pod_port;
	__u16 remote_port;
	__u16 pad2;     /* always 0 */
	__u32 pod_addr;
	__u32 remote_addr;
};

struct pcmc_flow_key6 {
	__u32 slot;
	__u8 proto;
	__u8 pad;
	__u16 pod_port;
	__u16 remote_port;
	__u16 pad2;
	__u32 pod_addr[4];
	__u32 remote_addr[4];
};

enum pcmc_flow_origin {
	PCMC_FLOW_POD = 1,              /* the pod's first packet opened it: replies pass */
	PCMC_FLOW_POD_ALLOWED_PORT = 2, /* a datagram the pod sent from a port the policy allowed: it
					 * may answer someone who came in, so it lets nothing in */
};

enum pcmc_flow_state {
	PCMC_FLOW_OPENING = 1,
	PCMC_FLOW_ESTABLISHED = 2,
	PCMC_FLOW_CLOSING = 3,
};

struct pcmc_flow {
	__u64 last_seen_ns; /* bpf_ktime_get_coarse_ns() */
	__u32 gen;          /* pcmc_fw_policy.gen of the pod that started it */
	__u8 origin;        /* enum pcmc_flow_origin */
	__u8 state;         /* enum pcmc_flow_state */
	__u16 pad;
};

/* fw_flow_stats[0] (per CPU): entries the programs made and dropped. Entries the LRU evicted are
 * created - expired - live entries (nothing else deletes them). */
struct pcmc_flow_stats {
	__u64 created;       /* new keys (an entry replacing a live one of the same key is not counted) */
	__u64 expired;       /* found past their timeout and deleted */
	__u64 create_failed; /* the kernel refused the insert */
};

/* Pinned registry `pod_records` (user space only), keyed by the pod UID (NUL-padded): what a restarted
 * agent needs to find again what it attached. This prefix stays the same in every layout version,
 * so an agent can clean up pods pinned by an older layout. */
#define PCMC_POD_UID_LEN 40
#define PCMC_POD_SYSCALLS 0x1u /* cgroup storage attached, syscalls counted */
#define PCMC_POD_FIREWALL 0x2u /* firewall wanted (attached once the interfaces were found) */
#define PCMC_POD_FW_HOST  0x4u /* layout >= 2: firewall on host_ifindex[] (layout 1: in the pod netns) */

struct pcmc_pod_key {
	char uid[PCMC_POD_UID_LEN];
};

struct pcmc_pod_record {
	__u32 slot;
	__u32 flags;     /* PCMC_POD_* */
	__u32 ifindex;   /* layout 1 only: the pod interface, inside the pod's network namespace */
	__u32 reserved;
	__u64 netns_ino; /* layout 1 only: inode of the pod's network namespace */
	__u32 host_ifindex[PCMC_MAX_POD_IFACES]; /* the pod's host-side interfaces we attached to; 0 = none */
};

#endif
