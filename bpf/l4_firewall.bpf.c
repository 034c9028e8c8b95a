/* L4 firewall, one load per node, attached to the host-side interface of every pod: judges what
 * the pod receives by destination port and lets in the replies of flows the pod started. */
/* UAPI headers, not vmlinux.h: no CO-RE relocations, so loading needs no kernel BTF parsing. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "bpf/fw_parse.h"
#include "bpf/pcmc.h"

/*
 * Two programs share the maps below:
 * - pcmc_fw_pod_in, TC egress of the pod's host-side interface: exactly what the pod receives
 *   (routed, from the host, or bridged). Frame -> fw_parse_frame (fw_parse.h) -> for a port:
 *   the bit of fw_ports[slot] (the agent folds rules, a port in both lists as blocked, and the
 *   default into it).
 *   Allowed: TC_ACT_UNSPEC (later filters still run). Blocked: passed only as a reply of a flow
 *   the pod started (fw_flow.h), else TC_ACT_SHOT. Dropped for a reason: TC_ACT_SHOT.
 * - pcmc_fw_pod_out, TC ingress of the same interface: what the pod sends. Never drops; learns
 *   the flows the pod starts.
 * The interface tells the pod (fw_slot_of): only interfaces of pods with a firewall are claimed,
 * one not claimed passes everything. The agent writes the pod's ports before it claims.
 */

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PCMC_IFINDEX_DIRECT);
	__type(key, __u32);
	__type(value, struct pcmc_fw_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_iface_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PCMC_MAX_FW_IFACES);
	__type(key, __u32);
	__type(value, struct pcmc_fw_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ifaces SEC(".maps");

/* The rules as written: read by the agent only (after a restart), never by the programs. */
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
	__type(value, struct pcmc_fw_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ports SEC(".maps");

/* The default verdict and generation as the agent wrote them: read by the agent only. */
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
	__uint(max_entries, PCMC_MAX_FLOWS4);
	__type(key, struct pcmc_flow_key4);
	__type(value, struct pcmc_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PCMC_MAX_FLOWS6);
	__type(key, struct pcmc_flow_key6);
	__type(value, struct pcmc_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pcmc_flow_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_flow_stats SEC(".maps");

/* Interfaces numbered from PCMC_IFINDEX_DIRECT on. Out of line: in line, the compiler merges
 * both lookups into one call taking either map, which the verifier cannot turn into a load. */
static __noinline struct pcmc_fw_iface *fw_iface_high(__u32 ifindex)
{
	return bpf_map_lookup_elem(&fw_ifaces, &ifindex);
}

/* The pod slot (and its generation) of the interface the packet is on; false: not an interface
 * of a pod with a firewall. */
static __always_inline bool fw_slot_of(__u32 ifindex, __u32 *slot, __u32 *gen)
{
	struct pcmc_fw_iface *iface = ifindex < PCMC_IFINDEX_DIRECT ? bpf_map_lookup_elem(&fw_iface_slots, &ifindex) :
								     fw_iface_high(ifindex);

	if (!iface || !iface->gen)
		return false;
	*slot = iface->slot;
	*gen = iface->gen;
	return true;
}

/* Whether the pod's policy blocks port (ports: fw_ports[slot]). */
static __always_inline bool fw_port_blocked(const struct pcmc_fw_ports *ports, __u16 port)
{
	return (ports->blocked[(port >> 6) & (PCMC_PORT_WORDS - 1)] >> (port & 63)) & 1;
}

#include "bpf/fw_flow.h"

SEC("tc")
int pcmc_fw_pod_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, slot, gen, reason;
	struct pcmc_fw_counters *counters;
	struct pcmc_fw_ports *ports;
	struct fw_packet p;
	int parsed;

	if (!fw_slot_of(ifindex, &slot, &gen))
		return TC_ACT_UNSPEC;
	ports = bpf_map_lookup_elem(&fw_ports, &slot);
	counters = bpf_map_lookup_elem(&fw_counters, &slot);
	if (!ports || !counters)
		return TC_ACT_UNSPEC;

	parsed = fw_parse_frame(skb, &p);
	switch (parsed) {
	case FW_NOT_JUDGED:
		return TC_ACT_UNSPEC;
	case FW_FRAGMENT:
		counters->allowed++;
		return TC_ACT_UNSPEC;
	case FW_PORT:
		if (!fw_port_blocked(ports, p.dport)) {
			counters->allowed++;
			return TC_ACT_UNSPEC;
		}
		if (fw_flow_lets_in(slot, gen, &p)) {
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
	__u32 ifindex = skb->ifindex, slot, gen;
	struct pcmc_fw_ports *ports;
	struct fw_packet p;

	if (!fw_slot_of(ifindex, &slot, &gen))
		return TC_ACT_UNSPEC;
	ports = bpf_map_lookup_elem(&fw_ports, &slot);
	if (!ports)
		return TC_ACT_UNSPEC;
	if (fw_parse_frame(skb, &p) == FW_PORT)
		fw_flow_from_pod(slot, gen, ports, &p);
	return TC_ACT_UNSPEC;
}
