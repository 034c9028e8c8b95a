/* Mutated frames: a valid datagram to a blocked port is built (frame.c), then reshaped (tags,
 * options, extension chains, tunnels, fragments) and disturbed (fields, bytes, length); most keep
 * valid checksums so that the pod's kernel would take them if the firewall let them through. */
#include "test/dataplane/fuzz_frames.h"

#include <netinet/in.h>
#include <string.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static const uint8_t interesting_protos[] = { 6, 17, 136, 132, 33, 4, 41, 47, 50, 51, 0, 43, 44, 60, 59,
					      58, 1, 2, 97, 108, 115, 137, 143, 255 };
static const uint16_t interesting_types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8864,
					      0x0806, 0x05dc };

uint64_t fuzz_next(struct fuzz_rng *r)
{
	uint64_t x = r->s ? r->s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned pick(struct fuzz_rng *r, unsigned n)
{
	return (unsigned)(fuzz_next(r) % n);
}

static bool chance(struct fuzz_rng *r, unsigned percent)
{
	return pick(r, 100) < percent;
}

static uint16_t dport_for(struct fuzz_rng *r, const struct fuzz_target *t, uint8_t proto)
{
	int i = proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : proto == IPPROTO_UDPLITE ? 2 : 3;
	uint16_t p;

	if (chance(r, 75))
		return t->blocked[i];
	do /* any other port the policy does not allow (default block) */
		p = (uint16_t)(1 + pick(r, 65535));
	while (p == t->allowed[0] || p == t->allowed[1] || p == t->allowed[2]);
	return p;
}

static uint8_t base_proto(struct fuzz_rng *r)
{
	unsigned x = pick(r, 100);

	return x < 35 ? IPPROTO_TCP : x < 65 ? IPPROTO_UDP : x < 90 ? IPPROTO_UDPLITE : x < 95 ? IPPROTO_SCTP :
									     IPPROTO_DCCP;
}

static void random_bytes(struct fuzz_rng *r, struct frame *f, size_t n)
{
	for (size_t i = 0; i < n && f->len < FRAME_MAX; i++)
		f->b[f->len++] = (uint8_t)fuzz_next(r);
}

/* Appends an IPv6 extension chain of n (<= 16) headers, each naming the next, the last next. */
static void ext_chain(struct fuzz_rng *r, struct frame *f, int n, uint8_t next)
{
	static const uint8_t kinds[] = { 0, 60, 43, 51, 44 };
	size_t at_next = f->ip_off + 6; /* where the previous "next header" byte is */

	for (int i = 0; i < n && i < 16; i++) {
		uint8_t type = kinds[pick(r, sizeof(kinds))], h[32] = { 0 };
		size_t len;

		f->b[at_next] = type;
		at_next = f->len;
		if (type == 44) { /* fragment header, offset 0 (atomic or first) */
			len = 8;
			h[3] = (uint8_t)(chance(r, 50) ? 1 : 0);
			h[7] = (uint8_t)pick(r, 256);
		} else if (type == 51) { /* AH: (hdrlen + 2) * 4 bytes */
			h[1] = (uint8_t)(1 + 2 * pick(r, 3)); /* 12, 20, 28 bytes */
			len = ((size_t)h[1] + 2) * 4;
		} else {
			h[1] = (uint8_t)pick(r, 3);
			len = ((size_t)h[1] + 1) * 8;
			if (type != 43) { /* options: PadN over the rest; routing: type 0, 0 segments left */
				h[2] = 1;
				h[3] = (uint8_t)(len - 4);
			}
		}
		frame_bytes(f, h, len);
	}
	f->b[at_next] = next;
}

/* Splits the frame's IP payload into fragments; returns their count (out[0..]). */
static int fragment(struct fuzz_rng *r, const struct frame *whole, struct frame *out)
{
	size_t hlen = whole->ip_version == 4 ? (size_t)(whole->b[whole->ip_off] & 0xf) * 4 : 40;
	size_t start = whole->ip_off + hlen, data = whole->len - start, piece, n = 0;
	uint8_t next = whole->b[whole->ip_off + (whole->ip_version == 4 ? 9 : 6)];
	uint32_t id = (uint32_t)fuzz_next(r);

	piece = 8 * (1 + pick(r, 4));
	while ((data + piece - 1) / piece > FUZZ_MAX_FRAMES - 2)
		piece += 8;
	for (size_t off = 0; off < data && n < FUZZ_MAX_FRAMES - 1; off += piece, n++) {
		struct frame *f = &out[n];
		size_t chunk = data - off < piece ? data - off : piece;
		bool more = off + chunk < data;

		*f = *whole;
		f->len = whole->ip_off;
		f->l4_off = 0;
		frame_bytes(f, whole->b + whole->ip_off, hlen);
		if (whole->ip_version == 4) {
			uint16_t v = (uint16_t)((off / 8) | (more ? 0x2000 : 0));

			f->b[f->ip_off + 4] = (uint8_t)(id >> 8);
			f->b[f->ip_off + 5] = (uint8_t)id;
			f->b[f->ip_off + 6] = (uint8_t)(v >> 8);
			f->b[f->ip_off + 7] = (uint8_t)v;
		} else {
			uint16_t v = (uint16_t)((off & 0xfff8) | (more ? 1 : 0));
			uint8_t h[8] = { next, 0, (uint8_t)(v >> 8), (uint8_t)v, (uint8_t)(id >> 24),
					 (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id };

			f->b[f->ip_off + 6] = 44;
			frame_bytes(f, h, sizeof(h));
		}
		frame_bytes(f, whole->b + start + off, chunk);
		frame_finish(f);
	}
	if (n > 1 && chance(r, 30)) { /* out of order */
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = pick(r, (unsigned)i + 1);
			struct frame tmp = out[i];

			out[i] = out[j];
			out[j] = tmp;
		}
	}
	if (n > 1 && n < FUZZ_MAX_FRAMES && chance(r, 20)) { /* a piece again, overlapping or not */
		size_t again = pick(r, (unsigned)n);

		out[n] = out[again];
		n++;
	}
	return (int)n;
}

/* Field, byte and length disturbances after the frame was finished. */
static void disturb(struct fuzz_rng *r, struct frame *f)
{
	uint8_t *ip = f->b + f->ip_off;

	if (f->ip_off && chance(r, 15))
		ip[f->ip_version == 4 ? 9 : 6] = interesting_protos[pick(r, sizeof(interesting_protos))];
	if (f->ip_off && chance(r, 12)) {
		size_t at = f->ip_version == 4 ? 3 : 5;

		ip[at] = (uint8_t)(ip[at] + (chance(r, 50) ? 1 : -1) * (int)(1 + pick(r, 64)));
	}
	if (f->ip_off && f->ip_version == 4 && chance(r, 10))
		ip[0] = (uint8_t)(0x40 | pick(r, 16));
	if (f->ip_off && chance(r, 5))
		ip[0] = (uint8_t)((pick(r, 16) << 4) | (ip[0] & 0xf));
	if (f->ip_off && f->ip_version == 4 && chance(r, 10)) {
		ip[6] = (uint8_t)fuzz_next(r);
		ip[7] = (uint8_t)fuzz_next(r);
	}
	if (f->l4_off && f->l4_off + 14 <= f->len && chance(r, 15)) {
		f->b[f->l4_off + 13] = (uint8_t)fuzz_next(r); /* TCP flags */
		if (chance(r, 50))
			f->b[f->l4_off + 12] = (uint8_t)(pick(r, 16) << 4); /* data offset */
	}
	if (f->l4_off && f->l4_off + 6 <= f->len && chance(r, 10)) {
		f->b[f->l4_off + 4] = (uint8_t)fuzz_next(r); /* UDP length / coverage */
		f->b[f->l4_off + 5] = (uint8_t)fuzz_next(r);
	}
	if (chance(r, 8)) {
		uint16_t type = chance(r, 80) ? interesting_types[pick(r, sizeof(interesting_types) / 2)] :
						(uint16_t)fuzz_next(r);

		f->b[12] = (uint8_t)(type >> 8);
		f->b[13] = (uint8_t)type;
	}
	if (chance(r, 80))
		frame_checksums(f);
	if (chance(r, 20)) {
		int flips = 1 + (int)pick(r, 4);

		for (int i = 0; i < flips && f->len > 12; i++)
			f->b[12 + pick(r, (unsigned)(f->len - 12))] ^= (uint8_t)(1u << pick(r, 8));
	}
	if (chance(r, 6) && f->len > 15)
		f->len = 14 + pick(r, (unsigned)(f->len - 14));
}

int fuzz_mutated(struct fuzz_rng *r, const struct fuzz_target *t, struct frame *out)
{
	uint16_t tpid[10], vid[10];
	struct frame *f = &out[0];
	bool v6 = chance(r, 50), tunnel = chance(r, 8);
	uint8_t proto = base_proto(r);
	int n_tags = chance(r, 30) ? 1 + (int)pick(r, 10) : 0, n;

	for (int i = 0; i < n_tags; i++) {
		static const uint16_t tpids[] = { 0x8100, 0x88a8, 0x8100, 0x88a8, 0x9100 };

		tpid[i] = tpids[pick(r, 5)];
		vid[i] = chance(r, 70) ? 0 : (uint16_t)pick(r, 4096);
	}
	frame_eth(f, t->pod_mac, t->host_mac, tpid, vid, n_tags, v6 ? 0x86dd : 0x0800);
	if (tunnel) { /* an outer header carrying the datagram: IP-in-IP, IPv6-in-IP, or GRE */
		static const uint8_t outer[] = { 4, 41, 47 };
		uint8_t o = outer[pick(r, 3)];

		if (v6)
			frame_ipv6(f, o, t->peer_v6, t->pod_v6);
		else
			frame_ipv4(f, 5, o, 0, t->peer_v4, t->pod_v4);
		frame_finish(f);
		if (o == 47)
			frame_bytes(f, (uint8_t[4]){ 0, 0, 0x08, 0 }, 4);
		f->ip_off = 0;
		v6 = o == 41 ? true : o == 4 ? false : v6;
	}
	if (v6) {
		frame_ipv6(f, proto, t->peer_v6, t->pod_v6);
		if (chance(r, 35))
			ext_chain(r, f, 1 + (int)pick(r, 12), proto);
	} else {
		frame_ipv4(f, chance(r, 25) ? 6 + (int)pick(r, 10) : 5, proto, 0, t->peer_v4, t->pod_v4);
		if ((f->b[f->ip_off] & 0xf) > 5 && chance(r, 50))
			for (size_t i = f->ip_off + 20; i < f->len; i++)
				f->b[i] = chance(r, 80) ? 1 : (uint8_t)fuzz_next(r);
	}
	frame_l4(f, proto, (uint16_t)(1024 + pick(r, 64512)), dport_for(r, t, proto),
		 proto == IPPROTO_TCP ? (chance(r, 80) ? 0x02 : (uint8_t)fuzz_next(r)) : (uint8_t)pick(r, 4),
		 FRAME_L4_FULL);
	random_bytes(r, f, pick(r, 81));
	frame_finish(f);
	n = 1;
	if (chance(r, 20)) {
		struct frame whole = *f;

		n = fragment(r, &whole, out);
	}
	for (int i = 0; i < n; i++)
		if (chance(r, 60))
			disturb(r, &out[i]);
	return n;
}

void fuzz_control(const struct fuzz_target *t, uint8_t proto, bool v6, uint16_t sport, uint32_t seq,
		  struct frame *out)
{
	uint16_t dport = proto == IPPROTO_TCP ? t->allowed[0] : proto == IPPROTO_UDP ? t->allowed[1] : t->allowed[2];

	frame_eth(out, t->pod_mac, t->host_mac, NULL, NULL, 0, v6 ? 0x86dd : 0x0800);
	if (v6)
		frame_ipv6(out, proto, t->peer_v6, t->pod_v6);
	else
		frame_ipv4(out, 5, proto, 0, t->peer_v4, t->pod_v4);
	frame_l4(out, proto, sport, dport, 0x02, FRAME_L4_FULL);
	if (proto == IPPROTO_TCP)
		for (int i = 0; i < 4; i++)
			out->b[out->l4_off + 4 + i] = (uint8_t)(seq >> (24 - 8 * i));
	else
		frame_bytes(out, "pcmc-control", 12);
	frame_finish(out);
}
