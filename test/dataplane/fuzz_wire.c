/* Delivery-oracle fuzzer: mutated frames to a real pod's blocked ports, sent on the wire into
 * its host veth (through our filter). Fails if a listener on a blocked port receives anything, or
 * if the pod answers anything to a blocked port (sniffed on its veth: SYN-ACK, RST, echo, ICMP
 * unreachable or reassembly timeout quoting it); shows that control frames to allowed ports
 * arrive. PCMC_FUZZ_FRAMES (100000), PCMC_FUZZ_SEED (1); PCMC_FUZZ=long: 10000000, a random seed. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/fuzz_frames.h"
#include "test/dataplane/listener.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define CONTROL_EVERY 50        /* mutated datagrams between two control frames */
#define CONTROL_SPORT 50000     /* control frames use source ports from here on */
#define ORACLE_CHECK_FRAMES 3000 /* sent before the policy: the oracle must see deliveries */

enum { L_TCP_BLOCKED, L_UDP_BLOCKED, L_LITE_BLOCKED, L_TCP_CTRL, L_UDP_CTRL, L_LITE_CTRL, N_LISTENERS };

static const struct listen_port listen_ports[N_LISTENERS] = {
	{ IPPROTO_TCP, 7001 }, { IPPROTO_UDP, 7002 }, { IPPROTO_UDPLITE, 7003 },
	{ IPPROTO_TCP, 7101 }, { IPPROTO_UDP, 7102 }, { IPPROTO_UDPLITE, 7103 },
};
static const uint16_t allowed[] = { 7101, 7102, 7103 };
static const uint16_t blocked[] = { 7001, 7002, 7003, 7004 };

/* Source addresses of the frames sent: before the policy (to see the oracle work) and after.
 * Answers are told apart by where they go, so a late answer to a frame of the first phase (a
 * SYN-ACK retransmitted seconds later) never counts in the second. */
enum phase { BEFORE_POLICY, WITH_POLICY, PHASES };
static const char *const peer_v4[PHASES] = { "10.244.12.201", "10.244.12.200" };
static const char *const peer_v6[PHASES] = { "fd00:10:244:c::c9", "fd00:10:244:c::c8" };

/* What the pod sent out of its veth, as the oracle reads it. */
struct sniffer {
	int fd;
	uint8_t pod_v4[4], pod_v6[16];
	uint8_t peer_v4[PHASES][4], peer_v6[PHASES][16];
	pthread_t thread;
	_Atomic int stop;
	_Atomic uint64_t violations[PHASES], control_synacks, frames;
	uint32_t synack_ack[65536]; /* by destination port: a retransmitted SYN-ACK counts once */
	char first[4][128]; /* the first violations with the policy, described */
};

static bool is_allowed(uint16_t port)
{
	return port == allowed[0] || port == allowed[1] || port == allowed[2];
}

static bool is_port_proto(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_UDPLITE || p == IPPROTO_SCTP || p == IPPROTO_DCCP;
}

static void violation(struct sniffer *s, int phase, const char *what, uint8_t proto, uint16_t port)
{
	uint64_t n = atomic_fetch_add(&s->violations[phase], 1);

	if (phase == WITH_POLICY && n < 4)
		snprintf(s->first[n], sizeof(s->first[n]), "%s (protocol %u, port %u)", what, proto, port);
}

/* A quoted datagram (ICMP error body): the port it was sent to, if a port protocol. */
static void quoted(struct sniffer *s, int phase, const uint8_t *q, size_t n, bool v6, const char *what)
{
	size_t l4;
	uint8_t proto;

	if (!v6 && n >= 20 && (q[0] >> 4) == 4) {
		l4 = (size_t)(q[0] & 0xf) * 4;
		proto = q[9];
	} else if (v6 && n >= 40) {
		l4 = 40;
		proto = q[6];
		for (int i = 0; i < 8 && (proto == 0 || proto == 43 || proto == 60 || proto == 44) && l4 + 8 <= n; i++) {
			size_t len = proto == 44 ? 8 : ((size_t)q[l4 + 1] + 1) * 8;

			proto = q[l4];
			l4 += len;
		}
	} else {
		return;
	}
	if (is_port_proto(proto) && l4 + 4 <= n) {
		uint16_t dport = (uint16_t)(q[l4 + 2] << 8 | q[l4 + 3]);

		if (!is_allowed(dport))
			violation(s, phase, what, proto, dport);
	}
}

static void inspect(struct sniffer *s, const uint8_t *b, size_t n)
{
	size_t off = 12, l4;
	int phase = -1;
	uint16_t type;
	uint8_t proto;
	bool v6;

	if (n < 14)
		return;
	type = (uint16_t)(b[off] << 8 | b[off + 1]);
	off += 2;
	if (type == 0x0800 && n >= off + 20 && memcmp(b + off + 12, s->pod_v4, 4) == 0) {
		v6 = false;
		proto = b[off + 9];
		l4 = off + (size_t)(b[off] & 0xf) * 4;
		for (int p = 0; p < PHASES; p++)
			phase = memcmp(b + off + 16, s->peer_v4[p], 4) == 0 ? p : phase;
	} else if (type == 0x86dd && n >= off + 40 && memcmp(b + off + 8, s->pod_v6, 16) == 0) {
		v6 = true;
		proto = b[off + 6];
		l4 = off + 40;
		for (int p = 0; p < PHASES; p++)
			phase = memcmp(b + off + 24, s->peer_v6[p], 16) == 0 ? p : phase;
	} else {
		return;
	}
	if (phase < 0)
		return; /* to nobody we sent as */
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) && l4 + 4 <= n) {
		uint16_t sport = (uint16_t)(b[l4] << 8 | b[l4 + 1]);

		if (!is_allowed(sport))
			violation(s, phase, "the pod answered from a blocked port", proto, sport);
		else if (phase == WITH_POLICY && proto == IPPROTO_TCP && l4 + 14 <= n && (b[l4 + 13] & 0x12) == 0x12) {
			uint16_t to = (uint16_t)(b[l4 + 2] << 8 | b[l4 + 3]);
			/* It acknowledges our SYN's sequence number, unique per control SYN. */
			uint32_t ack = (uint32_t)b[l4 + 8] << 24 | (uint32_t)b[l4 + 9] << 16 | (uint32_t)b[l4 + 10] << 8 | b[l4 + 11];

			if (s->synack_ack[to] != ack)
				atomic_fetch_add(&s->control_synacks, 1);
			s->synack_ack[to] = ack;
		}
	} else if (!v6 && proto == IPPROTO_ICMP && l4 + 8 <= n && (b[l4] == 3 || (b[l4] == 11 && b[l4 + 1] == 1))) {
		quoted(s, phase, b + l4 + 8, n - l4 - 8, false, "the pod sent an ICMP error about a blocked port");
	} else if (v6 && proto == IPPROTO_ICMPV6 && l4 + 8 <= n && (b[l4] == 1 || (b[l4] == 3 && b[l4 + 1] == 1))) {
		quoted(s, phase, b + l4 + 8, n - l4 - 8, true, "the pod sent an ICMPv6 error about a blocked port");
	}
}

static void *sniff(void *arg)
{
	struct sniffer *s = arg;
	uint8_t buf[4096];

	while (!atomic_load(&s->stop)) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			atomic_fetch_add(&s->frames, 1);
			inspect(s, buf, (size_t)n);
		}
	}
	return NULL;
}

static void sniffer_start(struct sniffer *s, struct testpod *pod)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct timeval tv = { .tv_usec = 100 * 1000 };
	int one = 1, big = 8 << 20;

	inet_pton(AF_INET, testpod_ipv4(pod), s->pod_v4);
	inet_pton(AF_INET6, testpod_ipv6(pod), s->pod_v6);
	for (int p = 0; p < PHASES; p++) {
		inet_pton(AF_INET, peer_v4[p], s->peer_v4[p]);
		inet_pton(AF_INET6, peer_v6[p], s->peer_v6[p]);
	}
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(s->fd, 0);
	sll.sll_ifindex = (int)if_nametoindex(testpod_host_veth(pod));
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(pthread_create(&s->thread, NULL, sniff, s), 0);
}

/* Frames the sniffer socket lost (its buffer was full): answers the oracle may not have seen. */
static unsigned sniffer_stop(struct sniffer *s)
{
	struct tpacket_stats st = { 0 };
	socklen_t len = sizeof(st);

	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len);
	close(s->fd);
	return st.tp_drops;
}

static void read_mac(struct testpod *pod, const char *ns_prefix, const char *dev, uint8_t *mac)
{
	char cmd[256], line[256];
	unsigned m[6];
	FILE *f;
	bool found = false;

	snprintf(cmd, sizeof(cmd), "ip %s%s link show %s", ns_prefix, ns_prefix[0] ? testpod_name(pod) : "", dev);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "link/ether ");

		found = p && sscanf(p + 11, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6;
	}
	pclose(f);
	ck_assert_msg(found, "MAC of %s", dev);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
}

struct wire {
	int fd;
	struct sockaddr_ll sll;
	uint64_t frames;
};

static void send_frame(struct wire *w, const struct frame *f)
{
	/* ENOBUFS: our filter dropped it (TC_ACT_SHOT at the veth's egress), which is the point. */
	if (sendto(w->fd, f->b, f->len, 0, (struct sockaddr *)&w->sll, sizeof(w->sll)) < 0)
		ck_assert_msg(errno == ENOBUFS || errno == EINVAL || errno == EMSGSIZE, "send: %s", strerror(errno));
	w->frames++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

struct control_sent {
	uint64_t tcp, udp, lite;
};

static void send_control(struct wire *w, const struct fuzz_target *t, uint64_t i, struct control_sent *c)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE };
	uint8_t proto = protos[i % 3];
	/* A TCP control SYN on a 4-tuple of its own (a repeated one would meet the earlier half-open
	 * connection): source ports 1024..65535 in turn, 64512 SYNs before one repeats. */
	uint16_t sport = proto == IPPROTO_TCP ? (uint16_t)(1024 + c->tcp % 64512) : (uint16_t)(CONTROL_SPORT + i % 15000);
	struct frame f;

	fuzz_control(t, proto, (i / 3) % 2, sport, (uint32_t)i * 7919u + 1, &f);
	send_frame(w, &f);
	if (proto == IPPROTO_TCP)
		c->tcp++;
	else if (proto == IPPROTO_UDP)
		c->udp++;
	else
		c->lite++;
}

/* Sends n frames of mutated datagrams (a control frame after every CONTROL_EVERY datagrams). */
static void blast(struct wire *w, struct fuzz_rng *r, const struct fuzz_target *t, uint64_t n,
		  struct control_sent *c, uint64_t *datagrams)
{
	static struct frame frames[FUZZ_MAX_FRAMES];
	uint64_t start = w->frames;

	while (w->frames - start < n) {
		int k = fuzz_mutated(r, t, frames);

		for (int i = 0; i < k; i++)
			send_frame(w, &frames[i]);
		if (++*datagrams % CONTROL_EVERY == 0)
			send_control(w, t, c->tcp + c->udp + c->lite, c);
	}
}

START_TEST(mutated_frames_on_the_wire_reach_no_blocked_port_and_control_frames_still_arrive)
{
	bool long_run = getenv("PCMC_FUZZ") && strcmp(getenv("PCMC_FUZZ"), "long") == 0;
	uint64_t seed = env_u64("PCMC_FUZZ_SEED", 0), n = env_u64("PCMC_FUZZ_FRAMES", long_run ? 10000000 : 100000);
	struct testpod *pod = fx_pod("dpfuzz", 12, 1, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct pod_policy p = { .firewall_enabled = true, .allowed = allowed, .n_allowed = 3, .blocked = blocked,
				.n_blocked = 4, .default_block = true };
	struct fuzz_target t = { .pod_v4 = testpod_ipv4(pod), .pod_v6 = testpod_ipv6(pod),
				 .peer_v4 = peer_v4[BEFORE_POLICY], .peer_v6 = peer_v6[BEFORE_POLICY],
				 .blocked = { 7001, 7002, 7003, 7004 }, .allowed = { 7101, 7102, 7103 } };
	struct wire w = { .sll = { .sll_family = AF_PACKET, .sll_halen = 6 } };
	struct control_sent c = { 0 }, c0;
	static struct sniffer s;
	struct listener *l;
	struct dataplane *dp;
	struct pod_counters before, after;
	uint64_t hits[N_LISTENERS], datagrams = 0, synacks;
	unsigned lost;
	struct fuzz_rng r;
	double t0, t1;

	if (!seed && long_run && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL);
	if (!seed)
		seed = 1;
	r.s = seed;
	read_mac(pod, "-n pcmc-", "eth0", t.pod_mac);
	read_mac(pod, "", testpod_host_veth(pod), t.host_mac);
	l = listener_start(pod, listen_ports, N_LISTENERS);
	w.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(w.fd, 0);
	w.sll.sll_ifindex = (int)if_nametoindex(testpod_host_veth(pod));
	sniffer_start(&s, pod);

	/* Without the firewall the same frames are delivered: the oracle sees it. */
	blast(&w, &r, &t, ORACLE_CHECK_FRAMES, &c, &datagrams);
	for (int i = 0; i < 200 && atomic_load(&s.violations[BEFORE_POLICY]) == 0; i++)
		usleep(10 * 1000);
	printf("# oracle check (no firewall yet, %d frames): %llu answers from blocked ports sniffed, "
	       "listeners on blocked ports got %llu/%llu/%llu\n", ORACLE_CHECK_FRAMES,
	       (unsigned long long)atomic_load(&s.violations[BEFORE_POLICY]), (unsigned long long)listener_hits(l, L_TCP_BLOCKED),
	       (unsigned long long)listener_hits(l, L_UDP_BLOCKED), (unsigned long long)listener_hits(l, L_LITE_BLOCKED));
	ck_assert_msg(atomic_load(&s.violations[BEFORE_POLICY]) > 0 && listener_hits(l, L_UDP_BLOCKED) > 0 &&
		      listener_hits(l, L_LITE_BLOCKED) > 0, "the oracle saw no delivery without a firewall");

	dp = fx_open(0);
	fx_apply(dp, pod, &p);
	t.peer_v4 = peer_v4[WITH_POLICY];
	t.peer_v6 = peer_v6[WITH_POLICY];
	for (int i = 0; i < N_LISTENERS; i++)
		hits[i] = listener_hits(l, i);
	synacks = atomic_load(&s.control_synacks);
	c0 = c;
	before = fx_counters(dp, testpod_uid(pod));
	t0 = now_s();
	blast(&w, &r, &t, n, &c, &datagrams);
	t1 = now_s();
	/* Barrier: a last round of control frames; once their answers are back, every earlier frame
	 * had its chance to be delivered and answered. */
	for (int i = 0; i < 30; i++)
		send_control(&w, &t, c.tcp + c.udp + c.lite, &c);
	for (int i = 0; i < 500; i++) {
		if (listener_hits(l, L_UDP_CTRL) - hits[L_UDP_CTRL] >= c.udp - c0.udp &&
		    listener_hits(l, L_LITE_CTRL) - hits[L_LITE_CTRL] >= c.lite - c0.lite &&
		    atomic_load(&s.control_synacks) - synacks >= c.tcp - c0.tcp)
			break;
		usleep(10 * 1000);
	}
	usleep(200 * 1000);
	lost = sniffer_stop(&s);
	after = fx_counters(dp, testpod_uid(pod));

	printf("# seed %llu: %llu frames (%llu mutated datagrams, %llu control frames) in %.2f s: %.0f frames/s\n",
	       (unsigned long long)seed, (unsigned long long)n, (unsigned long long)datagrams,
	       (unsigned long long)(c.tcp + c.udp + c.lite - c0.tcp - c0.udp - c0.lite), t1 - t0, (double)n / (t1 - t0));
	printf("# firewall: allowed %llu, blocked %llu (port %llu, malformed %llu, too deep %llu, encapsulated %llu)\n",
	       (unsigned long long)(after.packets_allowed - before.packets_allowed),
	       (unsigned long long)(after.packets_blocked - before.packets_blocked),
	       (unsigned long long)(after.packets_blocked_reason[0] - before.packets_blocked_reason[0]),
	       (unsigned long long)(after.packets_blocked_reason[1] - before.packets_blocked_reason[1]),
	       (unsigned long long)(after.packets_blocked_reason[2] - before.packets_blocked_reason[2]),
	       (unsigned long long)(after.packets_blocked_reason[3] - before.packets_blocked_reason[3]));
	printf("# control frames arrived: TCP SYN-ACKs %llu/%llu (sniffer lost %u frames), UDP %llu/%llu, UDP-Lite %llu/%llu\n",
	       (unsigned long long)(atomic_load(&s.control_synacks) - synacks), (unsigned long long)(c.tcp - c0.tcp), lost,
	       (unsigned long long)(listener_hits(l, L_UDP_CTRL) - hits[L_UDP_CTRL]), (unsigned long long)(c.udp - c0.udp),
	       (unsigned long long)(listener_hits(l, L_LITE_CTRL) - hits[L_LITE_CTRL]),
	       (unsigned long long)(c.lite - c0.lite));
	for (int i = 0; i < 4 && s.first[i][0]; i++)
		printf("# violation: %s\n", s.first[i]);
	fflush(stdout);
	ck_assert_msg(lost == 0, "the sniffer lost %u frames: the oracle is blind to them", lost);
	ck_assert_msg(atomic_load(&s.violations[WITH_POLICY]) == 0, "%llu answers to blocked ports: %s",
		      (unsigned long long)atomic_load(&s.violations[WITH_POLICY]), s.first[0]);
	ck_assert_uint_eq(listener_hits(l, L_TCP_BLOCKED), hits[L_TCP_BLOCKED]);
	ck_assert_uint_eq(listener_hits(l, L_UDP_BLOCKED), hits[L_UDP_BLOCKED]);
	ck_assert_uint_eq(listener_hits(l, L_LITE_BLOCKED), hits[L_LITE_BLOCKED]);
	ck_assert_uint_ge(listener_hits(l, L_UDP_CTRL) - hits[L_UDP_CTRL], c.udp - c0.udp);
	ck_assert_uint_ge(listener_hits(l, L_LITE_CTRL) - hits[L_LITE_CTRL], c.lite - c0.lite);
	ck_assert_uint_ge(atomic_load(&s.control_synacks) - synacks, c.tcp - c0.tcp);
	ck_assert_uint_ge(n, 100000);
	listener_stop(l);
	close(w.fd);
	dataplane_close(dp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("firewall fuzz");
	TCase *tc = tcase_create("fuzz");
	bool long_run = getenv("PCMC_FUZZ") && strcmp(getenv("PCMC_FUZZ"), "long") == 0;

	if (testpod_suite_lock("test-dataplane-fuzz") < 0) {
		printf("not ok 1 - cannot take the fuzz suite lock\n");
		return 1;
	}
	tcase_set_timeout(tc, long_run ? 3600 : 300);
	tcase_add_checked_fixture(tc, NULL, fx_destroy_pods);
	tcase_add_test(tc, mutated_frames_on_the_wire_reach_no_blocked_port_and_control_frames_still_arrive);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
