/* Listeners inside a test pod that count what reaches them (TCP connections and bytes, UDP and
 * UDP-Lite datagrams, IPv4 and IPv6), in memory shared with the test: the delivery oracle. */
#ifndef PCMC_TEST_DATAPLANE_LISTENER_H
#define PCMC_TEST_DATAPLANE_LISTENER_H

#include <stdint.h>
#include <sys/types.h>

#include "test/pod/testpod.h"

#define LISTENER_MAX 16

struct listen_port {
	uint8_t proto;   /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE */
	uint16_t port;
};

struct listener;

/* Binds [::]:port (dual stack) for each in the pod's netns and container 0's cgroup; returns once
 * all are bound. UDP and UDP-Lite datagrams are echoed back. NULL on failure (test fails). */
struct listener *listener_start(struct testpod *pod, const struct listen_port *ports, int n);
/* Connections accepted + datagrams received, and bytes received, on ports[i] so far. */
uint64_t listener_hits(const struct listener *l, int i);
uint64_t listener_bytes(const struct listener *l, int i);
/* Kills the listener process and frees l. NULL-safe. */
void listener_stop(struct listener *l);

#endif
