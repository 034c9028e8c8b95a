/* L4 firewall on TC ingress of a pod's interface: judges TCP and UDP by destination port with one
 * hash lookup (pod slot, port), then the pod's default. Packet rules are documented in docs below. */
/* UAPI headers, not vmlinux.h: the program then has no CO-RE relocations, so loading one instance
 * per pod does not make libbpf parse the kernel's BTF each time (the agent loads 250 of them). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpf/pcmc.h"

/*
 * What happens to each kind of packet (the `make test` suite checks each line):
 * - Not IPv4/IPv6 (ARP, LLDP, ...), or IP but neither TCP nor UDP (ICMP, ICMPv6/NDP, SCTP, ESP,
 *   IPv6 "no next header"): passed, not counted.
 * - IPv4 with a header shorter than 20 bytes, IHL < 5 or a version other than 4; IPv6 whose fixed
 *   header or an extension header is cut short: dropped and counted blocked (the stack would
 *   discard them too).
 * - IPv4 with options (any IHL 5..15): the L4 header is found after the options and judged.
 * - IPv4 or IPv6 fragment with offset != 0 of a TCP/UDP datagram: carries no L4 header, so it is
 *   passed and counted allowed. The first fragment (offset 0) carries the ports and is judged; when
 *   it is dropped the datagram can never be reassembled. Ports are bytes 0-3 of the L4 header and a
 *   later fragment starts at byte 8 or beyond, and the kernel discards overlapping fragments, so
 *   a later fragment cannot rewrite the ports.
 * - IPv6 extension headers: up to 8 of hop-by-hop (0), routing (43), destination options (60),
 *   fragment (44) and AH (51) are walked to reach TCP/UDP. A 9th extension header: dropped and
 *   counted blocked. Any other next header (ESP 50, no next header 59, unknown): passed, not counted.
 * - TCP or UDP whose minimal header (TCP 20 bytes, UDP 8) is not entirely in the packet: dropped
 *   and counted blocked.
 * - Otherwise the verdict for (pod, destination port) from fw_rules (a port both allowed and
 *   blocked is stored as blocked), else the pod's default. Blocked: TC_ACT_SHOT. Allowed:
 *   TC_ACT_UNSPEC, so later filters on the same hook still run.
 */

char LICENSE[] SEC("license") = "GPL";

#define IP_OFFSET_MASK 0x1fff
#define IP6_OFFSET_MASK 0xfff8
#define NEXTHDR_HOP      0
#define NEXTHDR_ROUTING  43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH     51
#define NEXTHDR_DEST     60
#define MAX_IPV6_EXT_HEADERS 8

/* Set per loaded instance: one program per pod, all sharing the maps below. */
const volatile __u32 pod_slot = 0;

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

enum parse_result {
	PARSE_NOT_JUDGED,   /* pass, uncounted */
	PARSE_FRAGMENT,     /* pass, counted allowed */
	PARSE_MALFORMED,    /* drop, counted blocked */
	PARSE_PORT,         /* judge the destination port */
};

struct ipv6_opt_prefix {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_fragment {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

static __always_inline int parse_ports(struct __sk_buff *skb, __u32 off, __u8 proto, __u16 *port)
{
	__u32 min_len = proto == IPPROTO_TCP ? 20 : 8;
	__be16 ports[2];

	if (skb->len < off + min_len)
		return PARSE_MALFORMED;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return PARSE_MALFORMED;
	*port = bpf_ntohs(ports[1]);
	return PARSE_PORT;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u16 *port)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return PARSE_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return PARSE_MALFORMED;
	if (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP)
		return PARSE_NOT_JUDGED;
	if (bpf_ntohs(ip.frag_off) & IP_OFFSET_MASK)
		return PARSE_FRAGMENT;
	return parse_ports(skb, ETH_HLEN + ip.ihl * 4, ip.protocol, port);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, __u16 *port)
{
	struct ipv6_opt_prefix opt;
	struct ipv6_fragment frag;
	struct ipv6hdr ip6;
	__u32 off = ETH_HLEN + sizeof(ip6);
	__u8 next;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
		return PARSE_MALFORMED;
	if (ip6.version != 6)
		return PARSE_MALFORMED;
	next = ip6.nexthdr;

	for (int i = 0; i <= MAX_IPV6_EXT_HEADERS; i++) {
		switch (next) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
			return parse_ports(skb, off, next, port);
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (i == MAX_IPV6_EXT_HEADERS)
				return PARSE_MALFORMED;
			if (bpf_skb_load_bytes(skb, off, &opt, sizeof(opt)))
				return PARSE_MALFORMED;
			next = opt.nexthdr;
			off += (opt.hdrlen + 1) * 8;
			break;
		case NEXTHDR_AUTH:
			if (i == MAX_IPV6_EXT_HEADERS)
				return PARSE_MALFORMED;
			if (bpf_skb_load_bytes(skb, off, &opt, sizeof(opt)))
				return PARSE_MALFORMED;
			next = opt.nexthdr;
			off += (opt.hdrlen + 2) * 4;
			break;
		case NEXTHDR_FRAGMENT:
			if (i == MAX_IPV6_EXT_HEADERS)
				return PARSE_MALFORMED;
			if (bpf_skb_load_bytes(skb, off, &frag, sizeof(frag)))
				return PARSE_MALFORMED;
			if (bpf_ntohs(frag.frag_off) & IP6_OFFSET_MASK)
				return (frag.nexthdr == IPPROTO_TCP || frag.nexthdr == IPPROTO_UDP) ?
					PARSE_FRAGMENT : PARSE_NOT_JUDGED;
			next = frag.nexthdr;
			off += sizeof(frag);
			break;
		default:
			return PARSE_NOT_JUDGED;
		}
	}
	return PARSE_MALFORMED;
}

SEC("tc")
int pcmc_l4_fw(struct __sk_buff *skb)
{
	struct pcmc_fw_rule_key key = { .slot = pod_slot };
	struct pcmc_fw_counters *counters;
	struct pcmc_fw_policy *policy;
	__u32 slot = pod_slot;
	__u32 verdict;
	__u8 *rule;
	int parsed;

	if (skb->protocol == bpf_htons(ETH_P_IP))
		parsed = parse_ipv4(skb, &key.port);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		parsed = parse_ipv6(skb, &key.port);
	else
		return TC_ACT_UNSPEC;

	if (parsed == PARSE_NOT_JUDGED)
		return TC_ACT_UNSPEC;
	if (parsed == PARSE_PORT) {
		rule = bpf_map_lookup_elem(&fw_rules, &key);
		if (rule) {
			verdict = *rule;
		} else {
			policy = bpf_map_lookup_elem(&fw_policy, &slot);
			verdict = policy ? policy->default_verdict : PCMC_FW_ALLOW;
		}
	} else {
		verdict = parsed == PARSE_FRAGMENT ? PCMC_FW_ALLOW : PCMC_FW_BLOCK;
	}

	counters = bpf_map_lookup_elem(&fw_counters, &slot);
	if (verdict == PCMC_FW_BLOCK) {
		if (counters)
			counters->blocked++;
		return TC_ACT_SHOT;
	}
	if (counters)
		counters->allowed++;
	return TC_ACT_UNSPEC;
}
