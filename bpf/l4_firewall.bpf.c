/* L4 firewall, one load per node, attached to the host-side interface of every pod: judges what
 * the pod receives by destination port and lets in the replies of flows the pod started. */
/* UAPI headers, not vmlinux.h: no CO-RE relocations, so loading needs no kernel BTF parsing. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "bpf/pcmc.h"

/*
 * Two programs share the maps below:
 * - pcmc_fw_pod_in, TC egress of the pod's host-side interface: exactly what the pod receives
 *   (routed, from the host, or bridged). Frame -> fw_parse_frame (fw_parse.h) -> for a port:
 *   fw_rules{slot, port} (a port in both lists is stored as blocked), else the pod's default.
 *   Allowed: TC_ACT_UNSPEC (later filters still run). Blocked: passed only as a reply of a flow
 *   the pod started (fw_flow.h), else TC_ACT_SHOT. Dropped for a reason: TC_ACT_SHOT.
 * - pcmc_fw_pod_out, TC ingress of the same interface: what the pod sends. Never drops; learns
 *   the flows the pod starts.
 * The interface tells the pod: fw_ifaces[skb->ifindex] = slot. An interface not in it (or a slot
 * without firewall) passes everything: the agent fills maps before it attaches.
 */

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCMC_MAX_FW_IFACES);
	__type(key, __u32);
	__type(value, struct pcmc_fw_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCMC_MAX_FW_RULES);
	__type(key, struct pcmc_fw_rule_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCMC_MAX_PODS);
	__type(key, __u32);
	__type(value, struct pcmc_fw_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PCMC_MAX_PODS);
	__type(key, __u32);
	__type(value, struct pcmc_fw_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PCMC_MAX_FLOWS);
	__type(key, struct pcmc_flow_key);
	__type(value, struct pcmc_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcmc_flow_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_flow_stats SEC(".maps");

static __always_inline __u32 fw_port_verdict(__u32 slot, __u16 port, __u32 default_verdict)
{
	struct pcmc_fw_rule_key key = { .slot = slot, .port = port };
	__u8 *rule = bpf_map_lookup_elem(&fw_rules, &key);

	return rule ? *rule : default_verdict;
}

#include "bpf/fw_flow.h"

SEC("tc")
int pcmc_fw_pod_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, slot, reason;
	struct pcmc_fw_counters *counters;
	struct pcmc_fw_policy *policy;
	struct pcmc_fw_iface *iface;
	struct fw_packet p;
	int parsed;

	iface = bpf_map_lookup_elem(&fw_ifaces, &ifindex);
	if (!iface)
		return TC_ACT_UNSPEC;
	slot = iface->slot;
	policy = bpf_map_lookup_elem(&fw_policy, &slot);
	counters = bpf_map_lookup_elem(&fw_counters, &slot);
	if (!policy || !counters || !policy->default_verdict)
		return TC_ACT_UNSPEC;

	parsed = fw_parse_frame(skb, &p);
	switch (parsed) {
	case FW_NOT_JUDGED:
		return TC_ACT_UNSPEC;
	case FW_FRAGMENT:
		counters->allowed++;
		return TC_ACT_UNSPEC;
	case FW_PORT:
		if (fw_port_verdict(slot, p.dport, policy->default_verdict) != PCMC_FW_BLOCK) {
			counters->allowed++;
			return TC_ACT_UNSPEC;
		}
		if (fw_flow_lets_in(slot, policy->gen, &p)) {
			counters->allowed_flow++;
			return TC_ACT_UNSPEC;
		}
		reason = PCMC_FW_REASON_PORT;
		break;
	case FW_MALFORMED:
		reason = PCMC_FW_REASON_MALFORMED;
		break;
	case FW_TOO_DEEP:
		reason = PCMC_FW_REASON_TOO_DEEP;
		break;
	default:
		reason = PCMC_FW_REASON_ENCAPSULATED;
		break;
	}
	if (reason < PCMC_FW_REASONS)
		counters->blocked[reason]++;
	return TC_ACT_SHOT;
}

SEC("tc")
int pcmc_fw_pod_out(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, slot;
	struct pcmc_fw_policy *policy;
	struct pcmc_fw_iface *iface;
	struct fw_packet p;

	iface = bpf_map_lookup_elem(&fw_ifaces, &ifindex);
	if (!iface)
		return TC_ACT_UNSPEC;
	slot = iface->slot;
	policy = bpf_map_lookup_elem(&fw_policy, &slot);
	if (!policy || !policy->default_verdict)
		return TC_ACT_UNSPEC;
	if (fw_parse_frame(skb, &p) == FW_PORT)
		fw_flow_from_pod(slot, policy->gen, policy->default_verdict, &p);
	return TC_ACT_UNSPEC;
}
