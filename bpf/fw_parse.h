/* Frame parser of the L4 firewall: walks VLAN tags, IPv4 (options, AH), IPv6 extension headers
 * and finds the ports of TCP, UDP, UDP-Lite, SCTP and DCCP; says what it could not open. */
#ifndef PCMC_BPF_FW_PARSE_H
#define PCMC_BPF_FW_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpf/pcmc.h"

/*
 * What the parser makes of a frame (bpf/README.md has the same list with the reasons):
 * - The ethertype is read from the frame itself, never from skb->protocol (at the egress of the
 *   host-side interface that is whatever the sender claimed; the pod's receive path reads the
 *   frame). A tag the sender left in skb metadata (vlan_present) is not in the data and shifts
 *   nothing. 802.1Q (0x8100) and 802.1ad (0x88a8) tags are walked whatever their VLAN ID, up to
 *   PCMC_MAX_VLAN_TAGS; one more is FW_TOO_DEEP.
 * - ARP, RARP, LLDP, EAPOL, PTP, slow protocols and 802.3 length frames (LLC): FW_NOT_JUDGED. No
 *   receive path of a pod turns them into IP. Frames shorter than an Ethernet header: the same.
 * - IPv4, IPv6: parsed below. MPLS, PPPoE sessions and every other ethertype: FW_ENCAPSULATED (a
 *   device in the pod's netns could unwrap IP from them).
 * - IPv4: version 4, IHL >= 5, total length covering the header and inside the frame, else
 *   FW_MALFORMED. Options are skipped. AH is walked. A fragment with offset != 0 of a port
 *   protocol: FW_FRAGMENT (no ports in it; the first fragment carries them and is judged).
 * - IPv6: version 6, payload inside the frame (payload length 0: up to the frame's end), else
 *   FW_MALFORMED. Hop-by-hop, routing, destination options, fragment and AH headers are walked, up
 *   to PCMC_MAX_IPV6_EXT_HEADERS; one more is FW_TOO_DEEP. No next header: FW_NOT_JUDGED.
 * - Next protocol TCP, UDP, UDP-Lite, SCTP, DCCP: its header (20, 8, 8, 12, 12 bytes) must be
 *   inside the IP payload, else FW_MALFORMED; then FW_PORT. IP-in-IP, IPv6-in-IP, GRE, ESP,
 *   IPComp, L2TP, EtherIP, MPLS-in-IP, Ethernet-in-IP: FW_ENCAPSULATED. Anything else (ICMP,
 *   ICMPv6, IGMP, ...): FW_NOT_JUDGED, it has no port.
 */

enum fw_parse_result {
	FW_NOT_JUDGED,     /* no port protocol can be in it: pass, uncounted */
	FW_FRAGMENT,       /* non-first fragment of a port protocol: pass, counted allowed */
	FW_PORT,           /* ports found: judge */
	FW_MALFORMED,      /* drop: PCMC_FW_REASON_MALFORMED */
	FW_TOO_DEEP,       /* drop: PCMC_FW_REASON_TOO_DEEP */
	FW_ENCAPSULATED,   /* drop: PCMC_FW_REASON_ENCAPSULATED */
};

struct fw_packet {
	__u8 family;       /* 4 or 6 */
	__u8 proto;
	__u8 tcp_flags;    /* TCP: byte 13 of its header */
	__u8 opens;        /* TCP SYN without ACK, SCTP INIT first, DCCP Request: a new association */
	__u16 sport, dport; /* host byte order */
	__u32 saddr[4], daddr[4];
};

#define FW_TCP_FIN 0x01
#define FW_TCP_SYN 0x02
#define FW_TCP_RST 0x04
#define FW_TCP_ACK 0x10

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define FW_IPPROTO_ETHERIP 97
#define FW_IPPROTO_ENCAP   98
#define FW_IPPROTO_IPCOMP  108
#define FW_IPPROTO_L2TP    115
#define FW_IPPROTO_MPLS    137
#define FW_IPPROTO_ETHERNET 143

#define FW_NEXTHDR_HOP      0
#define FW_NEXTHDR_ROUTING  43
#define FW_NEXTHDR_FRAGMENT 44
#define FW_NEXTHDR_ESP      50
#define FW_NEXTHDR_AUTH     51
#define FW_NEXTHDR_NONE     59
#define FW_NEXTHDR_DEST     60

#define FW_IP_OFFSET_MASK  0x1fff
#define FW_IP6_OFFSET_MASK 0xfff8

static __always_inline bool fw_is_port_proto(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

static __always_inline bool fw_is_tunnel_proto(__u8 proto)
{
	return proto == IPPROTO_IPIP || proto == IPPROTO_IPV6 || proto == IPPROTO_GRE ||
	       proto == IPPROTO_ESP || proto == FW_IPPROTO_ETHERIP || proto == FW_IPPROTO_ENCAP ||
	       proto == FW_IPPROTO_IPCOMP || proto == FW_IPPROTO_L2TP || proto == FW_IPPROTO_MPLS ||
	       proto == FW_IPPROTO_ETHERNET;
}

/* Ethertypes that carry no IP on any receive path of a pod. */
static __always_inline bool fw_is_harmless_ethertype(__u16 type)
{
	return type < ETH_P_802_3_MIN || type == ETH_P_ARP || type == ETH_P_RARP ||
	       type == 0x88cc /* LLDP */ || type == ETH_P_PAE || type == 0x88f7 /* PTP */ ||
	       type == ETH_P_SLOW;
}

/* The L4 header at off, end = where the IP payload ends. */
static __always_inline int fw_parse_l4(struct __sk_buff *skb, __u32 off, __u32 end, struct fw_packet *p)
{
	__u32 min_len;
	__u8 hdr[14];

	switch (p->proto) {
	case IPPROTO_TCP:
		min_len = 20;
		break;
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		min_len = 12;
		break;
	default: /* UDP, UDP-Lite */
		min_len = 8;
		break;
	}
	if (off + min_len > end || off + min_len < off)
		return FW_MALFORMED;
	/* Ports are bytes 0-3 of all five. TCP flags: byte 13; SCTP first chunk type: byte 12 (a
	 * chunkless packet has none); DCCP type: bits 1-4 of byte 8. */
	if (p->proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off, hdr, 14))
			return FW_MALFORMED;
	} else if (p->proto == IPPROTO_DCCP) {
		if (bpf_skb_load_bytes(skb, off, hdr, 9))
			return FW_MALFORMED;
	} else if (bpf_skb_load_bytes(skb, off, hdr, 4)) {
		return FW_MALFORMED;
	}
	p->sport = ((__u16)hdr[0] << 8) | hdr[1];
	p->dport = ((__u16)hdr[2] << 8) | hdr[3];
	p->tcp_flags = 0;
	p->opens = 0;
	if (p->proto == IPPROTO_TCP) {
		p->tcp_flags = hdr[13];
		p->opens = (hdr[13] & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN;
	} else if (p->proto == IPPROTO_DCCP) {
		p->opens = ((hdr[8] >> 1) & 0xf) == 0; /* DCCP-Request */
	} else if (p->proto == IPPROTO_SCTP) {
		__u8 chunk = 0;

		if (off + 13 <= end && !bpf_skb_load_bytes(skb, off + 12, &chunk, 1))
			p->opens = chunk == 1; /* INIT */
	}
	return FW_PORT;
}

static __always_inline int fw_parse_ipv4(struct __sk_buff *skb, __u32 off, struct fw_packet *p)
{
	struct iphdr ip;
	__u32 hlen, end;
	__u8 ah[2];

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return FW_MALFORMED;
	hlen = ip.ihl * 4;
	end = off + bpf_ntohs(ip.tot_len);
	if (ip.version != 4 || ip.ihl < 5 || bpf_ntohs(ip.tot_len) < hlen || end > skb->len)
		return FW_MALFORMED;
	p->family = 4;
	p->saddr[0] = ip.saddr;
	p->daddr[0] = ip.daddr;
	p->proto = ip.protocol;
	off += hlen;
	if (p->proto == IPPROTO_AH && !(bpf_ntohs(ip.frag_off) & FW_IP_OFFSET_MASK)) {
		if (off + 8 > end || bpf_skb_load_bytes(skb, off, ah, sizeof(ah)))
			return FW_MALFORMED;
		p->proto = ah[0];
		off += ((__u32)ah[1] + 2) * 4;
	}
	if (bpf_ntohs(ip.frag_off) & FW_IP_OFFSET_MASK)
		return fw_is_port_proto(p->proto) ? FW_FRAGMENT : FW_NOT_JUDGED;
	if (fw_is_port_proto(p->proto))
		return fw_parse_l4(skb, off, end, p);
	if (fw_is_tunnel_proto(p->proto) || p->proto == IPPROTO_AH)
		return FW_ENCAPSULATED;
	return FW_NOT_JUDGED;
}

struct fw_ipv6_opt {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off; /* fragment header only */
};

static __always_inline int fw_parse_ipv6(struct __sk_buff *skb, __u32 off, struct fw_packet *p)
{
	struct fw_ipv6_opt opt;
	struct ipv6hdr ip6;
	__u32 end;
	__u8 next;

	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return FW_MALFORMED;
	end = bpf_ntohs(ip6.payload_len) ? off + sizeof(ip6) + bpf_ntohs(ip6.payload_len) : skb->len;
	if (ip6.version != 6 || end > skb->len)
		return FW_MALFORMED;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	next = ip6.nexthdr;
	off += sizeof(ip6);

	for (int i = 0; i <= PCMC_MAX_IPV6_EXT_HEADERS; i++) {
		if (fw_is_port_proto(next)) {
			p->proto = next;
			return fw_parse_l4(skb, off, end, p);
		}
		if (next != FW_NEXTHDR_HOP && next != FW_NEXTHDR_ROUTING && next != FW_NEXTHDR_DEST &&
		    next != FW_NEXTHDR_AUTH && next != FW_NEXTHDR_FRAGMENT) {
			p->proto = next;
			if (next == FW_NEXTHDR_NONE)
				return FW_NOT_JUDGED;
			return fw_is_tunnel_proto(next) ? FW_ENCAPSULATED : FW_NOT_JUDGED;
		}
		if (i == PCMC_MAX_IPV6_EXT_HEADERS)
			return FW_TOO_DEEP;
		if (off + 8 > end || bpf_skb_load_bytes(skb, off, &opt, sizeof(opt)))
			return FW_MALFORMED;
		if (next == FW_NEXTHDR_FRAGMENT) {
			if (bpf_ntohs(opt.frag_off) & FW_IP6_OFFSET_MASK) {
				p->proto = opt.nexthdr;
				return fw_is_port_proto(opt.nexthdr) ? FW_FRAGMENT : FW_NOT_JUDGED;
			}
			off += 8;
		} else if (next == FW_NEXTHDR_AUTH) {
			off += ((__u32)opt.hdrlen + 2) * 4;
		} else {
			off += ((__u32)opt.hdrlen + 1) * 8;
		}
		next = opt.nexthdr;
	}
	return FW_TOO_DEEP;
}

#define FW_SLOW (-1)

/* The port protocol's header at l4 (in the linear data, before ip_end): ports, flags. */
static __always_inline int fw_fast_l4(void *l4, void *ip_end, void *data_end, struct fw_packet *p)
{
	__u8 *h = l4;
	__u32 min_len = p->proto == IPPROTO_TCP ? 20 : (p->proto == IPPROTO_SCTP || p->proto == IPPROTO_DCCP) ? 12 : 8;

	if (l4 + 20 > data_end) /* the longest header we read must be linear */
		return FW_SLOW;
	if (l4 + min_len > ip_end)
		return FW_MALFORMED;
	p->sport = ((__u16)h[0] << 8) | h[1];
	p->dport = ((__u16)h[2] << 8) | h[3];
	p->tcp_flags = 0;
	p->opens = 0;
	if (p->proto == IPPROTO_TCP) {
		p->tcp_flags = h[13];
		p->opens = (h[13] & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN;
	} else if (p->proto == IPPROTO_DCCP) {
		p->opens = ((h[8] >> 1) & 0xf) == 0;
	} else if (p->proto == IPPROTO_SCTP && l4 + 13 <= ip_end) {
		p->opens = h[12] == 1;
	}
	return FW_PORT;
}

/* The common frame read in place: untagged IPv4 without options, fragment offset 0, or IPv6
 * straight to a port protocol, its headers in the skb's linear data. FW_SLOW for anything else:
 * the general parser below decides those (the same rules, one helper call per header). */
static __always_inline int fw_parse_fast(struct __sk_buff *skb, struct fw_packet *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return FW_SLOW;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 tot;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5 ||
		    (bpf_ntohs(ip->frag_off) & FW_IP_OFFSET_MASK) || !fw_is_port_proto(ip->protocol))
			return FW_SLOW;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < sizeof(*ip) || ETH_HLEN + tot > skb->len)
			return FW_MALFORMED;
		p->family = 4;
		p->proto = ip->protocol;
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
		p->saddr[1] = p->saddr[2] = p->saddr[3] = 0;
		p->daddr[1] = p->daddr[2] = p->daddr[3] = 0;
		return fw_fast_l4(ip + 1, (void *)ip + tot, end, p);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__u32 plen;

		if ((void *)(ip6 + 1) > end || ip6->version != 6 || !fw_is_port_proto(ip6->nexthdr))
			return FW_SLOW;
		plen = bpf_ntohs(ip6->payload_len);
		if (ETH_HLEN + sizeof(*ip6) + plen > skb->len)
			return FW_MALFORMED;
		p->family = 6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		return fw_fast_l4(ip6 + 1, plen ? (void *)(ip6 + 1) + plen : (void *)(long)skb->data + skb->len,
				  end, p);
	}
	return FW_SLOW;
}

/* Every frame fw_parse_fast leaves (tags, options, extension headers, non-linear data, anything
 * odd). Out of line (a BPF-to-BPF call): the rare cases are not laid out between the common
 * frame's instructions, and pcmc_fw_pod_in is 1265 instructions instead of 1529. */
static __noinline int fw_parse_slow(struct __sk_buff *skb, struct fw_packet *p)
{
	__u32 off = 12;
	__be16 type_be;
	__u16 type;

	__builtin_memset(p, 0, sizeof(*p)); /* IPv4 fills addr[0] only: the rest must be 0 in flow keys */
	if (skb->len < ETH_HLEN)
		return FW_NOT_JUDGED;
	for (int i = 0; i <= PCMC_MAX_VLAN_TAGS; i++) {
		if (bpf_skb_load_bytes(skb, off, &type_be, sizeof(type_be)))
			return FW_MALFORMED;
		type = bpf_ntohs(type_be);
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		if (i == PCMC_MAX_VLAN_TAGS)
			return FW_TOO_DEEP;
		off += 4;
	}
	off += 2;
	if (type == ETH_P_IP)
		return fw_parse_ipv4(skb, off, p);
	if (type == ETH_P_IPV6)
		return fw_parse_ipv6(skb, off, p);
	if (fw_is_harmless_ethertype(type))
		return FW_NOT_JUDGED;
	return FW_ENCAPSULATED;
}

/* Parses the frame as the pod's receive path would. */
static __always_inline int fw_parse_frame(struct __sk_buff *skb, struct fw_packet *p)
{
	int fast = fw_parse_fast(skb, p);

	return fast != FW_SLOW ? fast : fw_parse_slow(skb, p);
}

#endif
