/* Crafted Ethernet frames for the firewall tests and the fuzzer: VLAN tags, IPv4 (options,
 * fragments), IPv6 (extension headers), and the five port protocols, with valid checksums. */
#ifndef PCMC_TEST_DATAPLANE_FRAME_H
#define PCMC_TEST_DATAPLANE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX 2048

struct frame {
	unsigned char b[FRAME_MAX];
	size_t len;
	size_t ip_off;   /* where the IP header starts; 0: none yet */
	size_t l4_off;   /* where the port protocol's header starts; 0: none */
	int ip_version;
	uint8_t l4_proto;
	uint8_t src[16], dst[16]; /* addresses of the IP header built (IPv4 in the first 4 bytes) */
};

/* Starts a frame: MACs (dst, src: 6 bytes each, NULL: fixed test MACs), then n tags (tpid[i],
 * vid[i]), then the ethertype. */
void frame_eth(struct frame *f, const uint8_t *dst_mac, const uint8_t *src_mac, const uint16_t *tpid,
	       const uint16_t *vid, int n_tags, uint16_t ethertype);
/* IPv4 header of ihl words (options are NOPs), protocol, fragment field (flags + offset in 8-byte
 * units); src/dst dotted quads (NULL: 10.244.3.1 -> 10.244.3.2). */
void frame_ipv4(struct frame *f, int ihl, uint8_t proto, uint16_t frag, const char *src, const char *dst);
/* IPv6 header with next header next; src/dst (NULL: fd00::1 -> fd00::2). */
void frame_ipv6(struct frame *f, uint8_t next, const char *src, const char *dst);
/* An 8-byte IPv6 extension header (hop-by-hop, routing, dest options, or AH of length 0). */
void frame_ext6(struct frame *f, uint8_t next);
void frame_frag6(struct frame *f, uint8_t next, uint16_t offset_bytes, bool more);
/* A port protocol header (TCP 20 bytes with flags, UDP/UDP-Lite 8, SCTP 12 + a chunk of type
 * sctp_chunk, DCCP 16 with type dccp_type), cut to len bytes if len is smaller. */
void frame_l4(struct frame *f, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t tcp_flags, size_t len);
#define FRAME_L4_FULL ((size_t)-1)
void frame_bytes(struct frame *f, const void *data, size_t n);
void frame_zeros(struct frame *f, size_t n);
/* Sets the IP length field from the frame and fills the IPv4 header, TCP, UDP and UDP-Lite
 * checksums. Call after the last byte. */
void frame_finish(struct frame *f);
/* Only the checksums, over the frame as it is (length fields left alone; UDP's length is part of
 * its checksum and stays as it is). */
void frame_checksums(struct frame *f);

#endif
