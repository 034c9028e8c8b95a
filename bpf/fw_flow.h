/* Flow state of the L4 firewall: which flows a pod started (learned from what it sends), so
 * their replies pass whatever the port policy. Inbound flows are never recorded: they are judged
 * by the policy on every packet. Included by l4_firewall.bpf.c after its maps and fw_port_blocked;
 * the CPU's memory of its last reply (fw_flow_hits, program-private) is declared here. */
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
 * - An entry past its timeout (pcmc.h) lets nothing in and is deleted when found. The tables
 *   (one for IPv4, one for IPv6) are node-wide LRUs: when full, the least recently used entry
 *   goes, and a reply of an evicted flow is judged by the policy like any packet: a full table
 *   never opens a port.
 * - Entries carry the slot generation: those of a removed pod never serve a later one.
 * - Each CPU remembers the last reply it let in (fw_flow_hits): further replies of that flow on
 *   that CPU pass without a lookup for FW_FLOW_HIT_JIFFIES (100 jiffies: 0.1 s at HZ=1000, 0.4 s
 *   at 250, 1 s at 100), so a stream the pod receives (a download it started) costs no hash
 *   lookup and no helper call per packet. A TCP FIN or RST always takes the lookup (it changes the
 *   entry). Within that window the entry cannot expire (the lookup just refreshed it and every
 *   timeout is 10 s or more) but it can be evicted from a full table: then the flow's replies
 *   still pass on that CPU for the rest of the window. Only a flow the pod started, with the
 *   pod's slot generation, is ever remembered.
 */

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

enum fw_flow_stat { FW_FLOW_CREATED, FW_FLOW_EXPIRED, FW_FLOW_CREATE_FAILED };

static __always_inline void fw_flow_stat(enum fw_flow_stat which)
{
	__u32 zero = 0;
	struct pcmc_flow_stats *s = bpf_map_lookup_elem(&fw_flow_stats, &zero);

	if (!s)
		return;
	if (which == FW_FLOW_CREATED)
		s->created++;
	else if (which == FW_FLOW_EXPIRED)
		s->expired++;
	else
		s->create_failed++;
}

/* Both key shapes of one packet's flow, as seen from the pod (from_pod: the pod sends it). */
struct fw_flow_keys {
	struct pcmc_flow_key4 k4;
	struct pcmc_flow_key6 k6;
};

static __always_inline void fw_flow_keys(struct fw_flow_keys *k, __u32 slot, const struct fw_packet *p,
					 bool from_pod)
{
	const __u32 *pod = from_pod ? p->saddr : p->daddr, *remote = from_pod ? p->daddr : p->saddr;
	__u16 pod_port = from_pod ? p->sport : p->dport, remote_port = from_pod ? p->dport : p->sport;

	if (p->family == 4) {
		k->k4 = (struct pcmc_flow_key4){ .slot = slot, .proto = p->proto, .pod_port = pod_port,
						 .remote_port = remote_port, .pod_addr = pod[0],
						 .remote_addr = remote[0] };
	} else {
		__builtin_memset(&k->k6, 0, sizeof(k->k6));
		k->k6.slot = slot;
		k->k6.proto = p->proto;
		k->k6.pod_port = pod_port;
		k->k6.remote_port = remote_port;
		__builtin_memcpy(k->k6.pod_addr, pod, 16);
		__builtin_memcpy(k->k6.remote_addr, remote, 16);
	}
}

/* The live entry for the pod's current generation in map, or NULL (an expired one is deleted).
 * Inlined at each call site, so map is a constant there. */
static __always_inline struct pcmc_flow *fw_flow_find(void *map, const void *key, __u8 proto, __u32 gen,
						      __u64 now)
{
	struct pcmc_flow *f = bpf_map_lookup_elem(map, key);

	if (!f || f->gen != gen)
		return NULL;
	if (fw_flow_expired(f, proto, now)) {
		if (bpf_map_delete_elem(map, key) == 0)
			fw_flow_stat(FW_FLOW_EXPIRED);
		return NULL;
	}
	return f;
}

/* A new entry counts as created; one that replaces an entry of the same key (a SYN sent again, a
 * flow of an earlier pod in the slot) does not, so evictions can be told from the counts. */
static __always_inline void fw_flow_create(void *map, const void *key, __u32 gen, __u8 origin, __u64 now)
{
	struct pcmc_flow f = { .last_seen_ns = now, .gen = gen, .origin = origin, .state = PCMC_FLOW_OPENING };

	if (bpf_map_update_elem(map, key, &f, BPF_NOEXIST) == 0)
		fw_flow_stat(FW_FLOW_CREATED);
	else if (bpf_map_update_elem(map, key, &f, BPF_EXIST))
		fw_flow_stat(FW_FLOW_CREATE_FAILED);
}

/* What a packet the pod sends does to its flow's entry in map (key: that flow). */
static __always_inline void fw_flow_learn(void *map, const void *key, __u32 gen, const struct pcmc_fw_ports *ports,
					  const struct fw_packet *p)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct pcmc_flow *f;

	if (p->proto == IPPROTO_TCP) {
		if (p->opens) {
			fw_flow_create(map, key, gen, PCMC_FLOW_POD, now);
			return;
		}
		if (!(p->tcp_flags & (FW_TCP_FIN | FW_TCP_RST)))
			return; /* the hot path of the pod's own sending: no lookup */
		f = fw_flow_find(map, key, p->proto, gen, now);
		if (f) {
			f->state = PCMC_FLOW_CLOSING;
			f->last_seen_ns = now;
		}
		return;
	}
	f = fw_flow_find(map, key, p->proto, gen, now);
	if (f) {
		f->last_seen_ns = now;
		return;
	}
	if (fw_is_datagram(p->proto))
		fw_flow_create(map, key, gen, fw_port_blocked(ports, p->sport) ? PCMC_FLOW_POD :
					      PCMC_FLOW_POD_ALLOWED_PORT, now);
	else if (p->opens) /* SCTP INIT, DCCP-Request */
		fw_flow_create(map, key, gen, PCMC_FLOW_POD, now);
}

/* A packet the pod sends: learn or refresh its flow. For a new datagram flow the policy is asked
 * about the pod's own port (ports: the pod's fw_ports). */
static __always_inline void fw_flow_from_pod(__u32 slot, __u32 gen, const struct pcmc_fw_ports *ports,
					     const struct fw_packet *p)
{
	struct fw_flow_keys k;

	fw_flow_keys(&k, slot, p, true);
	if (p->family == 4)
		fw_flow_learn(&fw_flows4, &k.k4, gen, ports, p);
	else
		fw_flow_learn(&fw_flows6, &k.k6, gen, ports, p);
}

/* Whether a reply (p, to the pod) belongs to a live flow the pod started in map, refreshing it. */
static __always_inline bool fw_flow_answer(void *map, const void *key, __u32 gen, const struct fw_packet *p,
					   __u64 now)
{
	struct pcmc_flow *f = fw_flow_find(map, key, p->proto, gen, now);

	if (!f || f->origin != PCMC_FLOW_POD)
		return false;
	f->last_seen_ns = now;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (FW_TCP_FIN | FW_TCP_RST)))
		f->state = PCMC_FLOW_CLOSING;
	else if (f->state == PCMC_FLOW_OPENING)
		f->state = PCMC_FLOW_ESTABLISHED;
	return true;
}

/* fw_flow_hits[0] (per CPU, programs only, not pinned): the last reply this CPU let in through a
 * flow table, as the packet had it (addresses in network byte order, IPv4 in word 0). */
struct fw_flow_hit {
	__u64 since;      /* bpf_jiffies64() at that lookup; 0: none */
	__u32 slot, gen;  /* the pod's, as in its interface's claim */
	__u32 saddr[4], daddr[4];
	__u32 ports;      /* sport | dport << 16, host byte order */
	__u8 family, proto;
	__u16 pad;
};

/* How long (jiffies) a CPU takes the flow table's word for a reply it let in: 100 is 0.1 s at
 * HZ=1000 and 1 s at HZ=100, far below every timeout in pcmc.h. Jiffies, not nanoseconds: the
 * verifier turns bpf_jiffies64() into one load, while every clock in nanoseconds is a helper call. */
#define FW_FLOW_HIT_JIFFIES 100

/* Not pinned: nothing outside the programs reads it, and a fresh one is empty. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_flow_hit);
} fw_flow_hits SEC(".maps");

/* The CPU's last reply (hit) is this packet's flow (not yet asking whether it is still fresh). */
static __always_inline bool fw_flow_hit(const struct fw_flow_hit *hit, __u32 slot, __u32 gen,
					const struct fw_packet *p)
{
	__u32 diff;

	if (hit->gen != gen || hit->slot != slot || hit->family != p->family || hit->proto != p->proto ||
	    hit->ports != ((__u32)p->sport | (__u32)p->dport << 16) ||
	    (p->proto == IPPROTO_TCP && (p->tcp_flags & (FW_TCP_FIN | FW_TCP_RST))))
		return false;
	diff = (hit->saddr[0] ^ p->saddr[0]) | (hit->daddr[0] ^ p->daddr[0]);
	if (p->family == 6)
		for (int i = 1; i < 4; i++)
			diff |= (hit->saddr[i] ^ p->saddr[i]) | (hit->daddr[i] ^ p->daddr[i]);
	return diff == 0;
}

/* The flow table's word on a reply (p, to the pod, to a port the policy blocks): 1 if it belongs
 * to a live flow the pod started, which is then refreshed and remembered as this CPU's last reply. */
static __always_inline int fw_flow_reply(__u32 slot, __u32 gen, const struct fw_packet *p)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct fw_flow_hit *hit;
	struct fw_flow_keys k;
	__u32 zero = 0;
	bool in;

	fw_flow_keys(&k, slot, p, false);
	if (p->family == 4)
		in = fw_flow_answer(&fw_flows4, &k.k4, gen, p, now);
	else
		in = fw_flow_answer(&fw_flows6, &k.k6, gen, p, now);
	hit = bpf_map_lookup_elem(&fw_flow_hits, &zero);
	if (!in || !hit)
		return in;
	hit->since = bpf_jiffies64();
	hit->slot = slot;
	hit->gen = gen;
	__builtin_memcpy(hit->saddr, p->saddr, sizeof(hit->saddr));
	__builtin_memcpy(hit->daddr, p->daddr, sizeof(hit->daddr));
	hit->ports = (__u32)p->sport | (__u32)p->dport << 16;
	hit->family = p->family;
	hit->proto = p->proto;
	return 1;
}

/* A packet to the pod, to a port the policy blocks: true if it belongs to a flow the pod started.
 * A stream's replies are let in by the CPU's memory of the last one, without a lookup. */
static __always_inline bool fw_flow_lets_in(__u32 slot, __u32 gen, const struct fw_packet *p)
{
	__u32 zero = 0;
	struct fw_flow_hit *hit = bpf_map_lookup_elem(&fw_flow_hits, &zero);

	if (hit && fw_flow_hit(hit, slot, gen, p) && bpf_jiffies64() - hit->since < FW_FLOW_HIT_JIFFIES)
		return true;
	return fw_flow_reply(slot, gen, p);
}

#endif
