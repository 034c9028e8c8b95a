/* Crafted frames: builders append in wire order; frame_finish sets lengths and checksums the way
 * a sender's stack would, so the pod's kernel accepts what the firewall lets through. */
#include "test/dataplane/frame.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static const uint8_t test_dst_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t test_src_mac[6] = { 2, 0, 0, 0, 0, 2 };

void frame_bytes(struct frame *f, const void *data, size_t n)
{
	if (f->len + n > FRAME_MAX)
		n = FRAME_MAX - f->len;
	memcpy(f->b + f->len, data, n);
	f->len += n;
}

void frame_zeros(struct frame *f, size_t n)
{
	if (f->len + n > FRAME_MAX)
		n = FRAME_MAX - f->len;
	memset(f->b + f->len, 0, n);
	f->len += n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	frame_bytes(f, b, 2);
}

void frame_eth(struct frame *f, const uint8_t *dst_mac, const uint8_t *src_mac, const uint16_t *tpid,
	       const uint16_t *vid, int n_tags, uint16_t ethertype)
{
	f->len = f->ip_off = f->l4_off = 0;
	f->ip_version = 0;
	f->l4_proto = 0;
	memset(f->src, 0, sizeof(f->src));
	memset(f->dst, 0, sizeof(f->dst));
	frame_bytes(f, dst_mac ? dst_mac : test_dst_mac, 6);
	frame_bytes(f, src_mac ? src_mac : test_src_mac, 6);
	for (int i = 0; i < n_tags; i++) {
		put16(f, tpid[i]);
		put16(f, vid[i] & 0x0fff);
	}
	put16(f, ethertype);
}

void frame_ipv4(struct frame *f, int ihl, uint8_t proto, uint16_t frag, const char *src, const char *dst)
{
	uint8_t h[60] = { 0x40 | (ihl & 0xf), 0, 0, 0, 0x12, 0x34, frag >> 8, frag & 0xff, 64, proto };

	for (int i = 20; i < 60; i++)
		h[i] = 1; /* NOP */
	inet_pton(AF_INET, src ? src : "10.244.3.1", h + 12);
	inet_pton(AF_INET, dst ? dst : "10.244.3.2", h + 16);
	memset(f->src, 0, 16);
	memset(f->dst, 0, 16);
	memcpy(f->src, h + 12, 4);
	memcpy(f->dst, h + 16, 4);
	f->ip_off = f->len;
	f->ip_version = 4;
	f->l4_off = 0;
	frame_bytes(f, h, ihl >= 5 ? (size_t)ihl * 4 : 20);
}

void frame_ipv6(struct frame *f, uint8_t next, const char *src, const char *dst)
{
	uint8_t h[40] = { 0x60, 0, 0, 0, 0, 0, next, 64 };

	inet_pton(AF_INET6, src ? src : "fd00::1", h + 8);
	inet_pton(AF_INET6, dst ? dst : "fd00::2", h + 24);
	memcpy(f->src, h + 8, 16);
	memcpy(f->dst, h + 24, 16);
	f->ip_off = f->len;
	f->ip_version = 6;
	f->l4_off = 0;
	frame_bytes(f, h, sizeof(h));
}

void frame_ext6(struct frame *f, uint8_t next)
{
	uint8_t h[8] = { next, 0, 1, 4, 0, 0, 0, 0 }; /* PadN over the 6 option bytes */

	frame_bytes(f, h, sizeof(h));
}

void frame_frag6(struct frame *f, uint8_t next, uint16_t offset_bytes, bool more)
{
	uint16_t v = (uint16_t)(offset_bytes & 0xfff8) | (more ? 1 : 0);
	uint8_t h[8] = { next, 0, v >> 8, v & 0xff, 0, 0, 0x12, 0x34 };

	frame_bytes(f, h, sizeof(h));
}

void frame_l4(struct frame *f, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t tcp_flags, size_t len)
{
	uint8_t h[20] = { sport >> 8, sport & 0xff, dport >> 8, dport & 0xff };
	size_t full;

	switch (proto) {
	case IPPROTO_TCP:
		h[7] = 1;          /* seq 1 */
		h[12] = 0x50;      /* data offset 5 */
		h[13] = tcp_flags;
		h[14] = 0xff;      /* window */
		full = 20;
		break;
	case IPPROTO_SCTP:
		h[12] = tcp_flags; /* first chunk type */
		h[15] = 4;         /* chunk length */
		full = 16;
		break;
	case IPPROTO_DCCP:
		h[4] = 4;          /* data offset: 16 bytes */
		h[8] = (uint8_t)(((tcp_flags & 0xf) << 1) | 1); /* type, X=1 */
		full = 16;
		break;
	default:               /* UDP, UDP-Lite: length set by frame_finish */
		full = 8;
		break;
	}
	f->l4_off = f->len;
	f->l4_proto = proto;
	frame_bytes(f, h, len < full ? len : full);
}

static uint32_t sum16(const uint8_t *b, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* TCP/UDP/UDP-Lite checksum over the pseudo header and the whole L4 part; set_len: write UDP's
 * length (UDP-Lite: coverage 0, everything) first. */
static void l4_checksum(struct frame *f, bool set_len)
{
	size_t l4_len = f->len - f->l4_off, at;
	uint8_t *l4 = f->b + f->l4_off;
	uint32_t sum;
	uint16_t c;

	if (f->l4_proto == IPPROTO_TCP && l4_len >= 20)
		at = 16;
	else if ((f->l4_proto == IPPROTO_UDP || f->l4_proto == IPPROTO_UDPLITE) && l4_len >= 8)
		at = 6;
	else
		return;
	if (set_len && (f->l4_proto == IPPROTO_UDP || f->l4_proto == IPPROTO_UDPLITE)) {
		/* UDP: length; UDP-Lite: checksum coverage 0 = everything */
		uint16_t v = f->l4_proto == IPPROTO_UDP ? (uint16_t)l4_len : 0;

		l4[4] = v >> 8;
		l4[5] = v & 0xff;
	}
	l4[at] = l4[at + 1] = 0;
	sum = sum16(f->src, f->ip_version == 4 ? 4 : 16, 0);
	sum = sum16(f->dst, f->ip_version == 4 ? 4 : 16, sum);
	sum += f->l4_proto + (uint32_t)l4_len;
	sum = sum16(l4, l4_len, sum);
	c = fold(sum);
	if (c == 0 && f->l4_proto == IPPROTO_UDP)
		c = 0xffff;
	l4[at] = c >> 8;
	l4[at + 1] = c & 0xff;
}

static void ipv4_checksum(struct frame *f)
{
	uint8_t *ip = f->b + f->ip_off;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;

	ip[10] = ip[11] = 0;
	if (hlen >= 20 && f->ip_off + hlen <= f->len) {
		uint16_t c = fold(sum16(ip, hlen, 0));

		ip[10] = c >> 8;
		ip[11] = c & 0xff;
	}
}

void frame_checksums(struct frame *f)
{
	if (f->ip_off && f->ip_version == 4)
		ipv4_checksum(f);
	if (f->l4_off && f->l4_off < f->len)
		l4_checksum(f, false);
}

void frame_finish(struct frame *f)
{
	uint8_t *ip = f->b + f->ip_off;
	size_t n;

	if (!f->ip_off)
		return;
	n = f->len - f->ip_off;
	if (f->ip_version == 4) {
		ip[2] = (uint8_t)(n >> 8);
		ip[3] = (uint8_t)n;
		ipv4_checksum(f);
	} else {
		ip[4] = (uint8_t)((n - 40) >> 8);
		ip[5] = (uint8_t)(n - 40);
	}
	if (f->l4_off)
		l4_checksum(f, true);
}
