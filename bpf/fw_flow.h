/* Flow state of the L4 firewall: which flows a pod started (learned from what it sends), so
 * their replies pass whatever the port policy. Inbound flows are never recorded: they are judged
 * by the policy on every packet. Included by l4_firewall.bpf.c after its maps and fw_port_verdict. */
#ifndef PCMC_BPF_FW_FLOW_H
#define PCMC_BPF_FW_FLOW_H

#include "bpf/fw_parse.h"
#include "bpf/pcmc.h"

/*
 * What creates state (the pod's packets, seen at the ingress of its host-side interface):
 * - TCP: only a SYN without ACK. A SYN-ACK (the pod answering someone) never does. FIN or RST
 *   from either side moves the entry to closing.
 * - SCTP: only a packet whose first chunk is INIT. DCCP: only a DCCP-Request.
 * - UDP, UDP-Lite: any datagram of a flow with no live entry. If the policy blocks its source
 *   port at that moment, the entry lets replies in (PCMC_FLOW_POD). If the policy allows that
 *   port, the datagram may be an answer to a flow that came in, so the entry lets nothing in
 *   (PCMC_FLOW_POD_ALLOWED_PORT) and stays so while the flow lives: when that port becomes
 *   blocked, the pod's further answers do not open it. Inbound packets on an allowed port never
 *   touch the table, so nobody outside the pod can fill it.
 * - A live entry is refreshed by the pod's packets of the flow and by the replies it lets in.
 * - An entry past its timeout (pcmc.h) lets nothing in and is deleted when found. The table is a
 *   node-wide LRU: when full, the least recently used entry goes, and a reply of an evicted flow
 *   is judged by the policy like any packet: a full table never opens a port.
 * - Entries carry the slot generation: those of a removed pod never serve a later one.
 */

static __always_inline void fw_flow_key(struct pcmc_flow_key *k, __u32 slot, const struct fw_packet *p,
					bool from_pod)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->slot = slot;
	k->proto = p->proto;
	k->family = p->family;
	if (from_pod) {
		k->pod_port = p->sport;
		k->remote_port = p->dport;
		__builtin_memcpy(k->pod_addr, p->saddr, 16);
		__builtin_memcpy(k->remote_addr, p->daddr, 16);
	} else {
		k->pod_port = p->dport;
		k->remote_port = p->sport;
		__builtin_memcpy(k->pod_addr, p->daddr, 16);
		__builtin_memcpy(k->remote_addr, p->saddr, 16);
	}
}

static __always_inline bool fw_is_datagram(__u8 proto)
{
	return proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE;
}

static __always_inline bool fw_flow_expired(const struct pcmc_flow *f, __u8 proto, __u64 now)
{
	__u64 timeout_s;

	if (f->state == PCMC_FLOW_CLOSING)
		timeout_s = PCMC_FLOW_CLOSING_S;
	else if (fw_is_datagram(proto))
		timeout_s = PCMC_FLOW_DATAGRAM_S;
	else if (f->state == PCMC_FLOW_ESTABLISHED)
		timeout_s = PCMC_FLOW_ESTABLISHED_S;
	else
		timeout_s = PCMC_FLOW_OPENING_S;
	return now - f->last_seen_ns > timeout_s * 1000000000ull;
}

static __always_inline void fw_flow_stat(int which)
{
	__u32 zero = 0;
	struct pcmc_flow_stats *s = bpf_map_lookup_elem(&fw_flow_stats, &zero);

	if (!s)
		return;
	if (which == 0)
		s->created++;
	else if (which == 1)
		s->expired++;
	else
		s->create_failed++;
}

/* The live entry of this flow for the pod's current generation, or NULL (an expired one is
 * deleted). */
static __always_inline struct pcmc_flow *fw_flow_find(const struct pcmc_flow_key *k, __u32 gen, __u64 now)
{
	struct pcmc_flow *f = bpf_map_lookup_elem(&fw_flows, k);

	if (!f || f->gen != gen)
		return NULL;
	if (fw_flow_expired(f, k->proto, now)) {
		if (bpf_map_delete_elem(&fw_flows, k) == 0)
			fw_flow_stat(1);
		return NULL;
	}
	return f;
}

static __always_inline void fw_flow_create(const struct pcmc_flow_key *k, __u32 gen, __u8 origin, __u64 now)
{
	struct pcmc_flow f = { .last_seen_ns = now, .gen = gen, .origin = origin, .state = PCMC_FLOW_OPENING };

	fw_flow_stat(bpf_map_update_elem(&fw_flows, k, &f, BPF_ANY) ? 2 : 0);
}

/* A packet the pod sends: learn or refresh its flow. For a new datagram flow the policy is asked
 * about the pod's own port (fw_port_verdict, defined by the includer). */
static __always_inline void fw_flow_from_pod(__u32 slot, __u32 gen, __u32 default_verdict,
					     const struct fw_packet *p)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct pcmc_flow_key k;
	struct pcmc_flow *f;

	fw_flow_key(&k, slot, p, true);
	if (p->proto == IPPROTO_TCP) {
		if (p->opens) {
			fw_flow_create(&k, gen, PCMC_FLOW_POD, now);
			return;
		}
		if (!(p->tcp_flags & (FW_TCP_FIN | FW_TCP_RST)))
			return; /* the hot path of the pod's own sending: no lookup */
		f = fw_flow_find(&k, gen, now);
		if (f) {
			f->state = PCMC_FLOW_CLOSING;
			f->last_seen_ns = now;
		}
		return;
	}
	f = fw_flow_find(&k, gen, now);
	if (f) {
		f->last_seen_ns = now;
		return;
	}
	if (fw_is_datagram(p->proto))
		fw_flow_create(&k, gen, fw_port_verdict(slot, p->sport, default_verdict) == PCMC_FW_BLOCK ?
				      PCMC_FLOW_POD : PCMC_FLOW_POD_ALLOWED_PORT, now);
	else if (p->opens) /* SCTP INIT, DCCP-Request */
		fw_flow_create(&k, gen, PCMC_FLOW_POD, now);
}

/* A packet to the pod, to a port the policy blocks: true if it belongs to a flow the pod started. */
static __always_inline bool fw_flow_lets_in(__u32 slot, __u32 gen, const struct fw_packet *p)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct pcmc_flow_key k;
	struct pcmc_flow *f;

	fw_flow_key(&k, slot, p, false);
	f = fw_flow_find(&k, gen, now);
	if (!f || f->origin != PCMC_FLOW_POD)
		return false;
	f->last_seen_ns = now;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (FW_TCP_FIN | FW_TCP_RST)))
		f->state = PCMC_FLOW_CLOSING;
	else if (f->state == PCMC_FLOW_OPENING)
		f->state = PCMC_FLOW_ESTABLISHED;
	return true;
}

#endif
