/* Firewall cost: time inside the node's pcmc_fw_pod_in per packet (bpf_stats) with 1 and 1000
 * rules, and for an allowed packet of a flow the pod started against an empty TC program on the
 * same hook; small UDP packets dropped per second, ours vs a stateful nftables set in the pod;
 * TCP throughput into the pod with and without the filter. Traffic: host -> 10.244.20.2.
 * BENCH_FW_PARTS=rules,pass,drop,stream (any of them; unset: all) picks what runs. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "bpf/pcmc.h"
#include "test/bench/bench_env.h"
#include "test/bench/bpf_stats.h"
#include "test/bench/fw_traffic.h"
#include "test/pod/testclient.h"
#include "test/pod/testpod.h"

#define POD_NAME     "bench-fw"
#define POD_NETNS    "pcmc-" POD_NAME
#define POD_IPV4     "10.244.20.2"
#define POD_IPV6     "fd00:10:244:14::2"
#define HOST_IPV4    "10.244.20.254" /* on the pod's host veth: a service the pod talks to */
#define SERVED_PORT  8053  /* UDP echo in the pod, allowed: the pod is reachable at all */
#define STREAM_PORT  5201  /* TCP sink in the pod, allowed */
#define FLOW_PORT    40000 /* the pod's own UDP flow: from this port (no rule: default block) */
#define FLOW_PEER    40001 /* to HOST_IPV4:this */
#define FLOW_PEER2   40002 /* and to this: a second flow, interleaved with the first */
#define FIRST_RULE   9000  /* 1000 rules: 9000..9999 blocked */
#define N_RULES      1000
#define BLOCKED_PORT 9999  /* the port the drop measurements send to: blocked in both policies */
#define MISS_PORT    7777  /* no rule: the default (allow) */
#define EMPTY_BEFORE 1     /* the empty program's priorities on the same hook: before ours (7), */
#define EMPTY_AFTER  8     /* and after it */

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

/* Drops per second of a blast (best of rounds: the highest). */
struct drop_rate {
	double on_cpu, wall;
};

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

/* A pass round: ns per packet inside ours and inside the empty TC program, both over the same
 * packets (pass_round_of). */
struct pass_round {
	double ns, empty_ns;
};

static int pass_round_cmp(const void *a, const void *b)
{
	const struct pass_round *x = a, *y = b;
	double rx = x->ns / x->empty_ns, ry = y->ns / y->empty_ns;

	return rx < ry ? -1 : rx > ry;
}

/* The round with the median ratio (of n, sorted in place), both figures of it: a figure another
 * run reproduces, not the luckiest round. The spread goes to stderr. */
static struct pass_round median_round(const char *what, struct pass_round *r, int n)
{
	qsort(r, (size_t)n, sizeof(*r), pass_round_cmp);
	fprintf(stderr, "# %s vs empty over %d rounds: %.2f-%.2f, median %.2f\n", what, n, r[0].ns / r[0].empty_ns,
		r[n - 1].ns / r[n - 1].empty_ns, r[n / 2].ns / r[n / 2].empty_ns);
	return r[n / 2];
}

/* n_blocked of the 1000 rule ports blocked; allowed: the echo and stream ports. */
static void apply(struct dataplane *dp, struct testpod *pod, int n_blocked, bool default_block)
{
	static const uint16_t allowed[] = { SERVED_PORT, STREAM_PORT };
	struct pod_ref ref = { .uid = testpod_uid(pod), .namespace = "bench", .name = POD_NAME };
	struct pod_policy p = { .firewall_enabled = true, .blocked = ports + N_RULES - n_blocked,
				.n_blocked = n_blocked, .allowed = allowed, .n_allowed = 2,
				.default_block = default_block };
	int err = dataplane_apply_pod(dp, &ref, &p);

	if (err)
		fail(dataplane_pod_error(dp, ref.uid), err);
}

static int fw_prog(void)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/v%d/fw_pod_in", bench_pin_root(), PCMC_LAYOUT_VERSION);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fail(path, errno);
	return fd;
}

/* Pins the calling thread to the CPU it is on (saved: its CPUs before). The receive path runs in
 * the sender's softirq, so every packet of a window is then judged on one CPU, by both programs
 * alike, with that CPU's caches and per-CPU state, instead of wherever the scheduler moved the
 * sender in between. */
static void pin_to_this_cpu(cpu_set_t *saved)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	if (sched_getaffinity(0, sizeof(*saved), saved) || sched_setaffinity(0, sizeof(one), &one))
		fail("sched_setaffinity", errno);
}

/* ns per run of each program (fds[i]) while src sends packets to POD_IPV4:port; from src_port, or
 * (src_port 0 and src set) from FLOW_PEER and FLOW_PEER2 in turn. */
static void per_packet_ns_of(const int *fds, double *ns, int n, const char *src, uint16_t src_port, uint16_t port,
			     long packets)
{
	static const uint16_t peers[] = { FLOW_PEER, FLOW_PEER2 };
	struct prog_stats a[2], b[2];
	cpu_set_t all;
	int err;

	pin_to_this_cpu(&all);
	for (int i = 0; i < n; i++)
		if ((err = bpf_stats_read(fds[i], &a[i])))
			fail("bpf_obj_get_info_by_fd", err);
	if (src && !src_port)
		udp_alternate(src, peers, 2, POD_IPV4, port, packets);
	else
		udp_blast(src, src_port, POD_IPV4, port, packets, 0);
	if (sched_setaffinity(0, sizeof(all), &all))
		fail("sched_setaffinity (back to all CPUs)", errno);
	for (int i = 0; i < n; i++) {
		if ((err = bpf_stats_read(fds[i], &b[i])))
			fail("bpf_obj_get_info_by_fd", err);
		ns[i] = bpf_stats_ns_per_run(&a[i], &b[i]);
		if (ns[i] <= 0 || b[i].run_cnt - a[i].run_cnt < (uint64_t)packets / 2)
			fail("the program did not see the packets", EIO);
	}
}

/* ns inside the pod's firewall program per packet sent to port. */
static double per_packet_ns(uint16_t port, long packets)
{
	int fd = fw_prog();
	double ns;

	per_packet_ns_of(&fd, &ns, 1, NULL, 0, port, packets);
	close(fd);
	return ns;
}

/* In the pod: one datagram from FLOW_PORT to HOST_IPV4:FLOW_PEER and one to FLOW_PEER2, which
 * start two flows of its own. */
static int start_pod_flow(void *arg)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(FLOW_PORT) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(FLOW_PEER) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)arg;
	inet_pton(AF_INET, HOST_IPV4, &to.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    sendto(fd, "flow", 4, 0, (struct sockaddr *)&to, sizeof(to)) != 4)
		return 1;
	to.sin_port = htons(FLOW_PEER2);
	if (sendto(fd, "flow", 4, 0, (struct sockaddr *)&to, sizeof(to)) != 4)
		return 1;
	close(fd);
	return 0;
}

static struct pod_counters counters_of(struct dataplane *dp, const char *uid)
{
	static struct pod_counters all[8];
	int n = dataplane_read_counters(dp, all, 8);

	if (n < 0)
		fail("dataplane_read_counters", n);
	for (int i = 0; i < n; i++)
		if (strcmp(all[i].uid, uid) == 0)
			return all[i];
	fail("pod counters", ENOENT);
	return all[0];
}

static uint64_t blocked_count(struct dataplane *dp, const char *uid)
{
	return counters_of(dp, uid).packets_blocked;
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
	/* Stateful like ours: what belongs to a known connection passes, then the port set. */
	fprintf(f, " }\n }\n chain input {\n  type filter hook input priority 0; policy accept;\n"
		   "  ct state established,related accept\n  udp dport @blocked counter drop\n }\n}\n");
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

/* Whether BENCH_FW_PARTS (comma-separated: rules, pass, drop, stream; unset: all) names part. */
static bool part_wanted(const char *part)
{
	const char *want = getenv("BENCH_FW_PARTS");
	size_t len = strlen(part);

	if (!want || !*want)
		return true;
	for (const char *p = want; (p = strstr(p, part)); p += len)
		if ((p == want || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

/* Per packet, 1 vs 1000 rules alternating, best of the rounds for each. */
static void bench_rules(struct dataplane *dp, struct testpod *pod, long packets, int rounds)
{
	double one = 1e9, thousand = 1e9, miss = 1e9;
	int err;

	for (int i = 0; i < rounds; i++) {
		double hit1, hit1000, miss1000;

		apply(dp, pod, 1, false);
		if (i == 0 && (err = testclient_udp_echo(POD_IPV4, SERVED_PORT, 1000)))
			fail("the pod's allowed UDP port does not answer", err);
		hit1 = per_packet_ns(BLOCKED_PORT, packets);
		apply(dp, pod, N_RULES, false);
		hit1000 = per_packet_ns(BLOCKED_PORT, packets);
		miss1000 = per_packet_ns(MISS_PORT, packets);
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
}

/* What a pass window sends to POD_IPV4:port: from src:src_port, from src:FLOW_PEER and
 * src:FLOW_PEER2 in turn (src set, src_port 0), or from the host's own address (src NULL). */
struct pass_traffic {
	const char *src;
	uint16_t src_port, port;
};

/* One round of t against the empty program: two windows, the empty program first on the hook
 * (before ours), then last (after ours). Whichever program runs first on a packet pays for what the
 * chain leaves cold (measured: ours 0.4-4 ns more when first, the empty one 0.5-3 ns more; with the
 * empty program always first the ratio read 0.05-0.2 lower), so each takes both places and the
 * round is the mean of its two windows. */
static struct pass_round pass_round_of(int fw_fd, int empty_fd, const char *veth, struct pass_traffic t,
				       long packets, const char *what)
{
	static const uint16_t prio[2] = { EMPTY_BEFORE, EMPTY_AFTER };
	int fds[2] = { fw_fd, empty_fd };
	struct pass_round r = { 0, 0 };

	for (int i = 0; i < 2; i++) {
		double ns[2];

		empty_tc_attach(veth, prio[i], empty_fd);
		per_packet_ns_of(fds, ns, 2, t.src, t.src_port, t.port, packets);
		empty_tc_detach(veth, prio[i]);
		fprintf(stderr, "%s%s %.1f ns, empty %s %.1f ns", i ? "; " : "# ", what, ns[0], i ? "after" : "before",
			ns[1]);
		r.ns += ns[0] / 2;
		r.empty_ns += ns[1] / 2;
	}
	fprintf(stderr, "\n");
	return r;
}

/* An allowed packet of an established flow (the pod's own, to a port the default blocks) and of
 * an allowed port, against an empty TC program on the same hook, same packets; the median round. */
static void bench_pass(struct dataplane *dp, struct testpod *pod, long packets, int rounds)
{
	const struct pass_traffic flow_t = { HOST_IPV4, FLOW_PEER, FLOW_PORT },
				  interleaved_t = { HOST_IPV4, 0, FLOW_PORT }, rule_t = { NULL, 0, SERVED_PORT };
	struct pass_round *flow = calloc((size_t)rounds, sizeof(*flow)), *interleaved = calloc((size_t)rounds, sizeof(*flow)),
			  *rule = calloc((size_t)rounds, sizeof(*flow)), m;
	const char *veth = testpod_host_veth(pod);
	int fw_fd, empty_fd;
	uint64_t via_flow;
	char cmd[256];

	if (!flow || !interleaved || !rule)
		fail("calloc", ENOMEM);
	snprintf(cmd, sizeof(cmd), "ip addr add " HOST_IPV4 "/32 dev %s", veth);
	if (system(cmd) != 0)
		fail("adding " HOST_IPV4 " to the pod's host veth", EIO);
	apply(dp, pod, N_RULES, true);
	fw_fd = fw_prog();
	empty_fd = empty_tc_load();
	via_flow = counters_of(dp, testpod_uid(pod)).packets_allowed_flow;
	for (int i = 0; i < rounds; i++) {
		pid_t pid = testpod_spawn(pod, 0, start_pod_flow, NULL);

		if (pid < 0 || testpod_wait(pid, 5000) != 0)
			fail("the pod could not start its flow", pid < 0 ? pid : EIO);
		fprintf(stderr, "# pass round %d\n", i);
		flow[i] = pass_round_of(fw_fd, empty_fd, veth, flow_t, packets, "flow");
		interleaved[i] = pass_round_of(fw_fd, empty_fd, veth, interleaved_t, packets, "two flows interleaved");
		rule[i] = pass_round_of(fw_fd, empty_fd, veth, rule_t, packets, "allowed port");
	}
	if (counters_of(dp, testpod_uid(pod)).packets_allowed_flow - via_flow < (uint64_t)(2 * rounds * packets))
		fail("the flow's packets did not pass as part of a flow the pod started", EIO);
	close(empty_fd);
	close(fw_fd);
	m = median_round("flow", flow, rounds);
	bench_print("fw_pass_flow_ns", m.ns, "ns");
	bench_print("fw_empty_tc_ns", m.empty_ns, "ns");
	bench_print("fw_pass_vs_empty_tc", m.ns / m.empty_ns, "x");
	m = median_round("interleaved", interleaved, rounds);
	bench_print("fw_pass_interleaved_ns", m.ns, "ns");
	bench_print("fw_pass_interleaved_vs_empty_tc", m.ns / m.empty_ns, "x");
	m = median_round("allowed port", rule, rounds);
	bench_print("fw_pass_rule_ns", m.ns, "ns");
	bench_print("fw_pass_rule_vs_empty_tc", m.ns / m.empty_ns, "x");
	free(flow);
	free(interleaved);
	free(rule);
}

/* Drops per second: ours (1000 rules), then nftables alone (our policy removed), alternating.
 * Per second of the sender's time on a CPU: the receive side (veth backlog, our program or the
 * stack up to nft's input hook) runs inline in the sender's softirq (ksoftirqd stays idle) and
 * this kernel has no IRQ time accounting, so its thread CPU time holds the whole path, while wall
 * time also holds whatever other processes on this shared node took. */
static void bench_drop(struct dataplane *dp, struct testpod *pod, double seconds)
{
	struct drop_rate ours = { 0, 0 }, nft = { 0, 0 };
	int err;

	for (int i = 0; i < 3; i++) {
		struct drop_rate r;
		struct blast b;
		uint64_t before, after;

		apply(dp, pod, N_RULES, false);
		before = blocked_count(dp, testpod_uid(pod));
		b = udp_blast(NULL, 0, POD_IPV4, BLOCKED_PORT, 0, seconds);
		after = blocked_count(dp, testpod_uid(pod));
		if ((err = dataplane_remove_pod(dp, testpod_uid(pod))))
			fail("dataplane_remove_pod", err);
		r = drop_rate_of(b, after - before);
		fprintf(stderr, "# drop round %d: pcmc %.0f pps on CPU, %.0f pps wall", i, r.on_cpu, r.wall);
		drop_rate_best(&ours, r);

		nft_install();
		before = nft_dropped();
		b = udp_blast(NULL, 0, POD_IPV4, BLOCKED_PORT, 0, seconds);
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
}

/* TCP into the pod, one connection of BENCH_FW_SECONDS, with our filter (the port allowed by a
 * rule, 1000 rules) and with no filter on the veth at all, alternating; best of each over
 * BENCH_ROUNDS. */
static void bench_stream(struct dataplane *dp, struct testpod *pod, double seconds, int rounds)
{
	struct tcp_sink *sink = tcp_sink_start(pod, STREAM_PORT);
	double stream_on = 0, stream_off = 0;
	int err;

	for (int i = 0; i < rounds; i++) {
		double on, off;

		/* Which goes first alternates: neither side always gets the warmer (or colder) start. */
		if (i % 2) {
			off = tcp_stream_gbps(sink, POD_IPV4, STREAM_PORT, seconds);
			apply(dp, pod, N_RULES, false);
			on = tcp_stream_gbps(sink, POD_IPV4, STREAM_PORT, seconds);
		} else {
			apply(dp, pod, N_RULES, false);
			on = tcp_stream_gbps(sink, POD_IPV4, STREAM_PORT, seconds);
		}
		if ((err = dataplane_remove_pod(dp, testpod_uid(pod))))
			fail("dataplane_remove_pod", err);
		if (i % 2 == 0)
			off = tcp_stream_gbps(sink, POD_IPV4, STREAM_PORT, seconds);
		fprintf(stderr, "# stream round %d: pcmc %.2f Gbit/s, no filter %.2f Gbit/s\n", i, on, off);
		stream_on = on > stream_on ? on : stream_on;
		stream_off = off > stream_off ? off : stream_off;
	}
	tcp_sink_stop(sink);
	bench_print("fw_tcp_stream_gbps_pcmc", stream_on, "Gbit/s");
	bench_print("fw_tcp_stream_gbps_nofilter", stream_off, "Gbit/s");
	bench_print("fw_tcp_stream_vs_nofilter", stream_on / stream_off, "x");
}

int main(void)
{
	long packets = bench_env_long("BENCH_FW_PACKETS", 200000);
	int rounds = (int)bench_env_long("BENCH_ROUNDS", 5);
	double seconds = (double)bench_env_long("BENCH_FW_SECONDS", 2);
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

	if (part_wanted("rules"))
		bench_rules(dp, pod, packets, rounds);
	if (part_wanted("pass"))
		bench_pass(dp, pod, packets, rounds);
	if (part_wanted("drop"))
		bench_drop(dp, pod, seconds);
	if (part_wanted("stream"))
		bench_stream(dp, pod, seconds, rounds);

	dataplane_close(dp);
	testpod_destroy(pod);
	close(stats_fd);
	return 0;
}
