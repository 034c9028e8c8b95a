/* Traffic for the firewall benchmarks: small UDP datagrams blasted into a pod, a TCP stream into a
 * sink in the pod, and an empty TC program to compare the firewall's per-packet time with. */
#ifndef PCMC_TEST_BENCH_FW_TRAFFIC_H
#define PCMC_TEST_BENCH_FW_TRAFFIC_H

#include <stdint.h>

#include "test/pod/testpod.h"

struct blast {
	long sent;
	double wall_s; /* elapsed */
	double cpu_s;  /* of it, on a CPU (this thread, softirq included) */
};

/* Sends small UDP datagrams from src_ip:src_port (NULL/0: any) to dst_ip:port until count are
 * sent, or (count 0) seconds have passed; exits the benchmark when it cannot send. */
struct blast udp_blast(const char *src_ip, uint16_t src_port, const char *dst_ip, uint16_t port, long count,
		       double seconds);

/* Sends count datagrams to dst_ip:port, one from each of src_ip:src_ports[0..n-1] in turn (at most
 * UDP_ALTERNATE_MAX ports; a raw socket, sendmmsg batches as udp_blast): consecutive packets of
 * different flows. */
#define UDP_ALTERNATE_MAX 8
struct blast udp_alternate(const char *src_ip, const uint16_t *src_ports, int n, const char *dst_ip, uint16_t port,
			   long count);

struct tcp_sink;
/* A process in the pod accepting TCP connections on port and reading them to the end. */
struct tcp_sink *tcp_sink_start(struct testpod *pod, uint16_t port);
/* One connection from the host to ip:port writing for seconds: Gbit/s the sink read. */
double tcp_stream_gbps(struct tcp_sink *sink, const char *ip, uint16_t port, double seconds);
void tcp_sink_stop(struct tcp_sink *sink);

/* An empty TC program (returns TC_ACT_UNSPEC): the floor a filter on a hook costs. Returns its fd
 * (for bpf_stats; close it when done); exits the benchmark when it cannot load. */
int empty_tc_load(void);
/* Attaches prog_fd to the egress of ifname at priority prio, handle 1; detaches it again. */
void empty_tc_attach(const char *ifname, uint16_t prio, int prog_fd);
void empty_tc_detach(const char *ifname, uint16_t prio);

#endif
