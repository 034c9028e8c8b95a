/* Firewall benchmark traffic: sendmmsg blasts (the sender's thread CPU time holds the receive
 * path too: it runs inline in its softirq), a TCP sink spawned in the pod (testpod_spawn) that
 * adds what it read to a shared counter, raw-instruction empty TC program. */
#include "test/bench/fw_traffic.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test/bench/bench_env.h"

#define PAYLOAD 18 /* 64-byte frames with the FCS */
#define BATCH   64

static void die(const char *what, int err)
{
	fprintf(stderr, "firewall_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct blast udp_blast(const char *src_ip, uint16_t src_port, const char *dst_ip, uint16_t port, long count,
		       double seconds)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(src_port) };
	static char payload[PAYLOAD] = "pcmc-bench";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	double start, now, cpu0;
	long sent = 0;
	int fd, one = 1;

	inet_pton(AF_INET, dst_ip, &dst.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("udp socket", errno);
	if (src_ip || src_port) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (src_ip)
			inet_pton(AF_INET, src_ip, &src.sin_addr);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			die("udp bind", errno);
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("udp connect", errno);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	cpu0 = thread_cpu();
	start = now = bench_now();
	while ((count > 0 && sent < count) || (count == 0 && now - start < seconds)) {
		unsigned n = BATCH;
		int r;

		if (count > 0 && count - sent < BATCH)
			n = (unsigned)(count - sent);
		r = sendmmsg(fd, msgs, n, 0);
		if (r > 0)
			sent += r;
		else if (r < 0 && errno != ENOBUFS && errno != ECONNREFUSED && errno != EINTR)
			die("sendmmsg", errno);
		now = bench_now();
		if (now - start > 60)
			die("sending took over 60 s", ETIMEDOUT);
	}
	struct blast b = { .sent = sent, .wall_s = now - start, .cpu_s = thread_cpu() - cpu0 };

	close(fd);
	usleep(50 * 1000); /* what is still queued on the veth is judged before counters are read */
	return b;
}

/* IPv4 + UDP headers and the payload of one datagram, as a raw socket sends it (IP_HDRINCL). */
struct raw_datagram {
	struct iphdr ip;
	struct udphdr udp;
	char payload[PAYLOAD];
} __attribute__((packed));

struct blast udp_alternate(const char *src_ip, const uint16_t *src_ports, int n, const char *dst_ip, uint16_t port,
			   long count)
{
	static struct raw_datagram d[BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	double start, cpu0;
	long sent = 0;
	int fd;

	if (n < 1 || n > UDP_ALTERNATE_MAX)
		die("udp_alternate: number of source ports", EINVAL);
	inet_pton(AF_INET, dst_ip, &dst.sin_addr);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		d[i] = (struct raw_datagram){
			.ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
				.tot_len = htons(sizeof(d[i])), .daddr = dst.sin_addr.s_addr },
			.udp = { .source = htons(src_ports[i % n]), .dest = htons(port),
				 .len = htons(sizeof(d[i].udp) + PAYLOAD) }, /* checksum 0: none (IPv4) */
			.payload = "pcmc-bench",
		};
		inet_pton(AF_INET, src_ip, &d[i].ip.saddr);
		iov[i] = (struct iovec){ .iov_base = &d[i], .iov_len = sizeof(d[i]) };
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov[i],
						   .msg_iovlen = 1 };
	}
	/* IPPROTO_RAW: the header is ours (IP_HDRINCL); the kernel fills in the id and checksum. */
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket", errno);
	cpu0 = thread_cpu();
	start = bench_now();
	while (sent < count) {
		unsigned k = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
		int r = sendmmsg(fd, msgs, k, 0);

		if (r > 0)
			sent += r;
		else if (r < 0 && errno != ENOBUFS && errno != EINTR)
			die("sendmmsg (raw)", errno);
		if (bench_now() - start > 60)
			die("sending took over 60 s", ETIMEDOUT);
	}
	struct blast b = { .sent = sent, .wall_s = bench_now() - start, .cpu_s = thread_cpu() - cpu0 };

	close(fd);
	usleep(50 * 1000);
	return b;
}

struct tcp_sink {
	pid_t pid;
	uint16_t port;
	struct {
		_Atomic uint64_t bytes;
		_Atomic uint64_t closed; /* connections read to their end */
		_Atomic int ready;
	} *shared;
};

static int sink_main(void *arg)
{
	struct tcp_sink *s = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(s->port) };
	static char buf[1 << 18];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return 1;
	atomic_store(&s->shared->ready, 1);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		ssize_t n;

		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			atomic_fetch_add(&s->shared->bytes, (uint64_t)n);
		close(c);
		atomic_fetch_add(&s->shared->closed, 1);
	}
}

struct tcp_sink *tcp_sink_start(struct testpod *pod, uint16_t port)
{
	struct tcp_sink *s = calloc(1, sizeof(*s));

	if (!s)
		die("calloc", ENOMEM);
	s->port = port;
	s->shared = mmap(NULL, sizeof(*s->shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->shared == MAP_FAILED)
		die("mmap", errno);
	s->pid = testpod_spawn(pod, 0, sink_main, s);
	if (s->pid < 0)
		die("testpod_spawn (TCP sink)", s->pid);
	for (int i = 0; i < 5000 && !atomic_load(&s->shared->ready); i++)
		usleep(1000);
	if (!atomic_load(&s->shared->ready))
		die("TCP sink in the pod did not start", ETIMEDOUT);
	return s;
}

double tcp_stream_gbps(struct tcp_sink *s, const char *ip, uint16_t port, double seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1 << 17];
	uint64_t bytes0 = atomic_load(&s->shared->bytes), closed0 = atomic_load(&s->shared->closed);
	double start, end;
	int fd;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("TCP connect to the sink", errno);
	start = bench_now();
	while (bench_now() - start < seconds)
		if (write(fd, buf, sizeof(buf)) < 0 && errno != EINTR)
			die("TCP write", errno);
	shutdown(fd, SHUT_WR);
	while (atomic_load(&s->shared->closed) == closed0) {
		if (bench_now() - start > seconds + 30)
			die("the sink did not read the stream to its end", ETIMEDOUT);
		usleep(100);
	}
	end = bench_now();
	close(fd);
	return (double)(atomic_load(&s->shared->bytes) - bytes0) * 8 / (end - start) / 1e9;
}

void tcp_sink_stop(struct tcp_sink *s)
{
	if (!s)
		return;
	kill(s->pid, SIGKILL);
	testpod_wait(s->pid, 5000);
	munmap(s->shared, sizeof(*s->shared));
	free(s);
}

int empty_tc_load(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = -1 }, /* r0 = TC_ACT_UNSPEC */
		{ .code = 0x95 },                          /* exit */
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "empty_tc", "GPL", insns, 2, NULL);

	if (fd < 0)
		die("loading the empty TC program", errno);
	return fd;
}

void empty_tc_attach(const char *ifname, uint16_t prio, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio, .prog_fd = prog_fd);
	int err;

	hook.ifindex = (int)if_nametoindex(ifname);
	bpf_tc_hook_create(&hook);
	if ((err = bpf_tc_attach(&hook, &opts)))
		die("attaching the empty TC program", err);
}

void empty_tc_detach(const char *ifname, uint16_t prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = prio);

	hook.ifindex = (int)if_nametoindex(ifname);
	bpf_tc_detach(&hook, &opts);
}
