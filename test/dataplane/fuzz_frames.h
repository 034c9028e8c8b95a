/* Mutated frames for the delivery-oracle fuzzer: valid frames to a pod's blocked ports, then
 * VLAN stacks, IPv4 options and fragments, IPv6 extension chains, tunnels, lengths, flags,
 * protocol numbers and flipped bytes; reproducible from a seed. */
#ifndef PCMC_TEST_DATAPLANE_FUZZ_FRAMES_H
#define PCMC_TEST_DATAPLANE_FUZZ_FRAMES_H

#include <stdint.h>

#include "test/dataplane/frame.h"

#define FUZZ_MAX_FRAMES 24 /* one mutated datagram: at most this many frames (fragments) */

struct fuzz_target {
	uint8_t pod_mac[6], host_mac[6];
	const char *pod_v4, *pod_v6;   /* destination */
	const char *peer_v4, *peer_v6; /* source (routed nowhere: replies end at the host) */
	uint16_t blocked[4];           /* TCP, UDP, UDP-Lite listeners; SCTP/DCCP (no socket here) */
	uint16_t allowed[3];           /* TCP, UDP, UDP-Lite control ports */
};

struct fuzz_rng {
	uint64_t s;
};

uint64_t fuzz_next(struct fuzz_rng *r);

/* One mutated datagram towards a blocked port (or any port the policy does not allow): the
 * frames to send in order (fragments possibly shuffled or overlapping). Returns their count. */
int fuzz_mutated(struct fuzz_rng *r, const struct fuzz_target *t, struct frame *out);
/* One valid frame to an allowed port, proto IPPROTO_TCP (SYN with sequence number seq), _UDP or
 * _UDPLITE, source port sport (the reply goes back to it). */
void fuzz_control(const struct fuzz_target *t, uint8_t proto, bool v6, uint16_t sport, uint32_t seq,
		  struct frame *out);

#endif
