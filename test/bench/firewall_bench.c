/* Firewall cost: time inside the pod's TC program per packet (bpf_stats) with 1 and with 1000
 * rules, and small UDP packets dropped per second through the pod's veth, ours vs nftables
 * holding the same blocked ports in a set in the pod's netns. Traffic: host -> 10.244.20.2. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "bpf/pcmc.h"
#include "test/bench/bench_env.h"
#include "test/bench/bpf_stats.h"
#include "test/pod/testclient.h"
#include "test/pod/testpod.h"

#define POD_NAME     "bench-fw"
#define POD_NETNS    "pcmc-" POD_NAME
#define POD_IPV4     "10.244.20.2"
#define POD_IPV6     "fd00:10:244:14::2"
#define SERVED_PORT  8053  /* UDP echo in the pod, allowed: the pod is reachable at all */
#define FIRST_RULE   9000  /* 1000 rules: 9000..9999 blocked */
#define N_RULES      1000
#define BLOCKED_PORT 9999  /* the port every measurement sends to: blocked in both policies */
#define MISS_PORT    7777  /* no rule: the default (allow) */
#define PAYLOAD      18    /* 64-byte frames with the FCS */
#define BATCH        64

static uint16_t ports[N_RULES];
static bool nft_installed;

static void fail(const char *what, int err)
{
	fprintf(stderr, "firewall_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static struct testpod *pod_create(void)
{
	struct testpod_spec spec = {
		.name = POD_NAME, .driver = TESTPOD_SYSTEMD, .qos = TESTPOD_BURSTABLE,
		.ipv4 = POD_IPV4, .ipv6 = POD_IPV6, .udp_ports = { SERVED_PORT }, .n_udp = 1,
		.n_containers = 1, .serve_mask = 1,
	};
	struct testpod *pod = NULL;
	int err = bench_pod_create(&spec, &pod);

	if (err)
		fail("testpod_create " POD_NAME, err);
	return pod;
}

struct blast {
	long sent;
	double wall_s; /* elapsed */
	double cpu_s;  /* of it, on a CPU (this thread, softirq included) */
};

/* Drops per second of a blast (best of rounds: the highest). */
struct drop_rate {
	double on_cpu, wall;
};

/* Sends small datagrams to the pod until count are sent, or (count 0) seconds have passed. */
static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct blast blast(uint16_t port, long count, double seconds)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char payload[PAYLOAD] = "pcmc-bench";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	double start, now;
	long sent = 0;
	int fd;

	inet_pton(AF_INET, POD_IPV4, &dst.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		fail("udp socket", errno);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double cpu0 = thread_cpu();
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
			fail("sendmmsg", errno);
		now = bench_now();
		if (now - start > 60)
			fail("sending took over 60 s", ETIMEDOUT);
	}
	struct blast b = { .sent = sent, .wall_s = now - start, .cpu_s = thread_cpu() - cpu0 };

	close(fd);
	usleep(50 * 1000); /* what is still queued on the veth is judged before we read counters */
	return b;
}

static struct drop_rate drop_rate_of(struct blast b, uint64_t dropped)
{
	return (struct drop_rate){ .on_cpu = (double)dropped / b.cpu_s, .wall = (double)dropped / b.wall_s };
}

static void drop_rate_best(struct drop_rate *best, struct drop_rate r)
{
	if (r.on_cpu > best->on_cpu)
		best->on_cpu = r.on_cpu;
	if (r.wall > best->wall)
		best->wall = r.wall;
}

static void apply(struct dataplane *dp, struct testpod *pod, int n_blocked)
{
	struct pod_ref ref = { .uid = testpod_uid(pod), .namespace = "bench", .name = POD_NAME };
	struct pod_policy p = { .firewall_enabled = true, .blocked = ports + N_RULES - n_blocked,
				.n_blocked = n_blocked };
	int err = dataplane_apply_pod(dp, &ref, &p);

	if (err)
		fail(dataplane_pod_error(dp, ref.uid), err);
}

static int fw_prog(struct testpod *pod)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/v%d/pods/%s/fw", bench_pin_root(), PCMC_LAYOUT_VERSION,
		 testpod_uid(pod));
	fd = bpf_obj_get(path);
	if (fd < 0)
		fail(path, errno);
	return fd;
}

/* ns inside the pod's firewall program per packet sent to port. */
static double per_packet_ns(struct testpod *pod, uint16_t port, long packets)
{
	struct prog_stats a, b;
	double ns;
	int fd = fw_prog(pod), err;

	if ((err = bpf_stats_read(fd, &a)))
		fail("bpf_obj_get_info_by_fd", err);
	blast(port, packets, 0);
	if ((err = bpf_stats_read(fd, &b)))
		fail("bpf_obj_get_info_by_fd", err);
	close(fd);
	ns = bpf_stats_ns_per_run(&a, &b);
	if (ns <= 0 || b.run_cnt - a.run_cnt < (uint64_t)packets / 2)
		fail("the firewall program did not see the packets", EIO);
	return ns;
}

static uint64_t blocked_count(struct dataplane *dp, const char *uid)
{
	struct pod_counters all[8];
	int n = dataplane_read_counters(dp, all, 8);

	if (n < 0)
		fail("dataplane_read_counters", n);
	for (int i = 0; i < n; i++)
		if (strcmp(all[i].uid, uid) == 0)
			return all[i].packets_blocked;
	fail("pod counters", ENOENT);
	return 0;
}

static void nft_remove(void)
{
	/* At exit the pod (and its netns with the table) may already be gone. */
	if (nft_installed && access("/run/netns/" POD_NETNS, F_OK) == 0 && system("ip netns exec " POD_NETNS " nft delete table inet bench") != 0)
		fprintf(stderr, "firewall_bench: could not delete nft table inet bench in " POD_NETNS "\n");
	nft_installed = false;
}

static void nft_install(void)
{
	FILE *f = popen("ip netns exec " POD_NETNS " nft -f -", "w");

	if (!f)
		fail("nft", errno);
	nft_installed = true;
	fprintf(f, "table inet bench {\n set blocked { type inet_service; elements = { ");
	for (int i = 0; i < N_RULES; i++)
		fprintf(f, "%s%u", i ? ", " : "", ports[i]);
	fprintf(f, " }\n }\n chain input {\n  type filter hook input priority 0; policy accept;\n"
		   "  udp dport @blocked counter drop\n }\n}\n");
	if (pclose(f) != 0)
		fail("nft -f (is nftables installed?)", EIO);
}

static uint64_t nft_dropped(void)
{
	FILE *f = popen("ip netns exec " POD_NETNS " nft list chain inet bench input", "r");
	unsigned long long packets = 0;
	char line[512], *p;
	bool found = false;

	if (!f)
		fail("nft list", errno);
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "counter packets ")) && sscanf(p, "counter packets %llu", &packets) == 1)
			found = true;
	if (pclose(f) != 0 || !found)
		fail("reading the nft counter", EIO);
	return packets;
}

int main(void)
{
	long packets = bench_env_long("BENCH_FW_PACKETS", 200000);
	int rounds = (int)bench_env_long("BENCH_ROUNDS", 5);
	double seconds = (double)bench_env_long("BENCH_FW_SECONDS", 2);
	double one = 1e9, thousand = 1e9, miss = 1e9;
	struct dataplane *dp = NULL;
	struct testpod *pod;
	int err, stats_fd;

	for (int i = 0; i < N_RULES; i++)
		ports[i] = (uint16_t)(FIRST_RULE + i);
	bench_exit_on_signals();
	atexit(nft_remove);
	if ((err = testpod_suite_lock("bench-firewall")) < 0)
		fail("suite lock", err);
	stats_fd = bpf_stats_enable();
	if (stats_fd < 0)
		fail("BPF_ENABLE_STATS", stats_fd);
	pod = pod_create();
	if ((err = bench_dataplane_open(&dp)))
		fail("dataplane_open", err);

	/* Per packet, 1 vs 1000 rules alternating, best of the rounds for each. */
	for (int i = 0; i < rounds; i++) {
		double hit1, hit1000, miss1000;

		apply(dp, pod, 1);
		if (i == 0 && (err = testclient_udp_echo(POD_IPV4, SERVED_PORT, 1000)))
			fail("the pod's allowed UDP port does not answer", err);
		hit1 = per_packet_ns(pod, BLOCKED_PORT, packets);
		apply(dp, pod, N_RULES);
		hit1000 = per_packet_ns(pod, BLOCKED_PORT, packets);
		miss1000 = per_packet_ns(pod, MISS_PORT, packets);
		fprintf(stderr, "# fw round %d: 1 rule %.1f ns, 1000 rules %.1f ns (miss %.1f)\n",
			i, hit1, hit1000, miss1000);
		one = hit1 < one ? hit1 : one;
		thousand = hit1000 < thousand ? hit1000 : thousand;
		miss = miss1000 < miss ? miss1000 : miss;
	}
	bench_print("fw_1_rule_ns", one, "ns");
	bench_print("fw_1000_rules_ns", thousand, "ns");
	bench_print("fw_1000_rules_miss_ns", miss, "ns");
	bench_print("fw_1000_vs_1_rules", thousand / one, "x");

	/* Drops per second: ours (1000 rules), then nftables alone (our policy removed), alternating.
	 * Per second of the sender's time on a CPU: the receive side (veth backlog, our program or
	 * the stack up to nft's input hook) runs inline in the sender's softirq (ksoftirqd stays
	 * idle) and this kernel has no IRQ time accounting, so its thread CPU time holds the whole
	 * path, while wall time also holds whatever other processes on this shared node took. */
	struct drop_rate ours = { 0, 0 }, nft = { 0, 0 };

	for (int i = 0; i < 3; i++) {
		struct drop_rate r;
		struct blast b;
		uint64_t before, after;

		apply(dp, pod, N_RULES);
		before = blocked_count(dp, testpod_uid(pod));
		b = blast(BLOCKED_PORT, 0, seconds);
		after = blocked_count(dp, testpod_uid(pod));
		if ((err = dataplane_remove_pod(dp, testpod_uid(pod))))
			fail("dataplane_remove_pod", err);
		r = drop_rate_of(b, after - before);
		fprintf(stderr, "# drop round %d: pcmc %.0f pps on CPU, %.0f pps wall", i, r.on_cpu, r.wall);
		drop_rate_best(&ours, r);

		nft_install();
		before = nft_dropped();
		b = blast(BLOCKED_PORT, 0, seconds);
		after = nft_dropped();
		nft_remove();
		r = drop_rate_of(b, after - before);
		fprintf(stderr, "; nftables %.0f pps on CPU, %.0f pps wall\n", r.on_cpu, r.wall);
		drop_rate_best(&nft, r);
	}
	if (ours.on_cpu <= 0 || nft.on_cpu <= 0)
		fail("no drops counted", EIO);
	bench_print("fw_drop_pps_pcmc", ours.on_cpu, "pps");
	bench_print("fw_drop_pps_nftables", nft.on_cpu, "pps");
	bench_print("fw_drop_pps_vs_nftables", ours.on_cpu / nft.on_cpu, "x");
	bench_print("fw_drop_pps_wall_pcmc", ours.wall, "pps");
	bench_print("fw_drop_pps_wall_nftables", nft.wall, "pps");
	bench_print("fw_drop_pps_wall_vs_nftables", ours.wall / nft.wall, "x");

	dataplane_close(dp);
	testpod_destroy(pod);
	close(stats_fd);
	return 0;
}
