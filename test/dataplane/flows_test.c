/* Flow state through the node's two firewall programs (BPF_PROG_TEST_RUN with the pod's host
 * veth as the device): what the pod sends starts flows, which replies that lets in, and a full
 * table never letting in a reply of a flow it does not hold. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/frame.h"
#include "test/dataplane/tests.h"

#define PASS (-1) /* TC_ACT_UNSPEC */
#define SHOT 2
#define REMOTE "10.244.5.250"
#define REMOTE6 "fd00:10:244:5::fa"
#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_RST 0x04
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

struct flows {
	struct testpod *pod;
	struct dataplane *dp;
	int in_fd, out_fd; /* pcmc_fw_pod_in (what the pod receives), pcmc_fw_pod_out (what it sends) */
	uint32_t ifindex;
};

static const uint16_t allow_a[] = { TCP_PORT_A }, block_b[] = { TCP_PORT_B };
static const struct pod_policy a_open_b_shut_default_block = {
	.firewall_enabled = true, .allowed = allow_a, .n_allowed = 1, .blocked = block_b, .n_blocked = 1,
	.default_block = true,
};

static int pinned_prog(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx_pin_dir(), name);
	fd = bpf_obj_get(path);
	ck_assert_msg(fd >= 0, "pinned program %s: %s", path, strerror(errno));
	return fd;
}

static struct flows setup(const char *name, int host)
{
	struct flows t;

	t.pod = fx_pod(name, 5, host, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	t.dp = fx_open(0);
	fx_apply(t.dp, t.pod, &a_open_b_shut_default_block);
	t.in_fd = pinned_prog("fw_pod_in");
	t.out_fd = pinned_prog("fw_pod_out");
	t.ifindex = if_nametoindex(testpod_host_veth(t.pod));
	ck_assert_uint_ne(t.ifindex, 0);
	return t;
}

static void teardown(struct flows *t)
{
	close(t->in_fd);
	close(t->out_fd);
	dataplane_close(t->dp);
}

static int run(const struct flows *t, int fd, struct frame *f)
{
	struct __sk_buff ctx = { .ifindex = t->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = (uint32_t)f->len, .repeat = 1,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err;

	frame_finish(f);
	err = bpf_prog_test_run_opts(fd, &opts);
	ck_assert_msg(err == 0, "test run: %s", strerror(-err));
	return (int)opts.retval;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pod sends proto from its port to remote:rport (v6: over IPv6); pcmc_fw_pod_out never drops. */
static void pod_sends(const struct flows *t, bool v6, const char *remote, uint8_t proto, uint16_t port,
		      uint16_t rport, uint8_t flags)
{
	struct frame f;

	frame_eth(&f, NULL, NULL, NULL, NULL, 0, v6 ? 0x86dd : 0x0800);
	if (v6)
		frame_ipv6(&f, proto, testpod_ipv6(t->pod), remote);
	else
		frame_ipv4(&f, 5, proto, 0, testpod_ipv4(t->pod), remote);
	frame_l4(&f, proto, port, rport, flags, FRAME_L4_FULL);
	ck_assert_int_eq(run(t, t->out_fd, &f), PASS);
}

/* remote:rport sends proto to the pod's port: the verdict of pcmc_fw_pod_in. */
static int pod_receives(const struct flows *t, bool v6, const char *remote, uint8_t proto, uint16_t rport,
			uint16_t port, uint8_t flags)
{
	struct frame f;

	frame_eth(&f, NULL, NULL, NULL, NULL, 0, v6 ? 0x86dd : 0x0800);
	if (v6)
		frame_ipv6(&f, proto, remote, testpod_ipv6(t->pod));
	else
		frame_ipv4(&f, 5, proto, 0, remote, testpod_ipv4(t->pod));
	frame_l4(&f, proto, rport, port, flags, FRAME_L4_FULL);
	return run(t, t->in_fd, &f);
}

START_TEST(a_syn_the_pod_sends_lets_exactly_its_replies_in_and_an_answer_of_the_pod_starts_nothing)
{
	struct flows t = setup("dpflt", 1);

	for (int v6 = 0; v6 <= 1; v6++) {
		const char *r = v6 ? REMOTE6 : REMOTE;
		struct pod_counters before = fx_counters(t.dp, testpod_uid(t.pod)), after;

		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40000, TCP_SYN | TCP_ACK), SHOT);
		pod_sends(&t, v6, r, IPPROTO_TCP, 40000, 443, TCP_SYN);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40000, TCP_SYN | TCP_ACK), PASS);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40000, TCP_ACK), PASS);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 444, 40000, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, v6 ? "fd00:10:244:5::fb" : "10.244.5.251", IPPROTO_TCP, 443,
					      40000, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40001, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_UDP, 443, 40000, 0), SHOT); /* another protocol */
		after = fx_counters(t.dp, testpod_uid(t.pod));
		ck_assert_uint_eq(after.packets_allowed_flow - before.packets_allowed_flow, 2);
		ck_assert_uint_eq(after.packets_blocked_reason[PCMC_FW_REASON_PORT] -
				  before.packets_blocked_reason[PCMC_FW_REASON_PORT], 5);

		/* The pod answering (SYN-ACK) or sending without SYN starts nothing. */
		pod_sends(&t, v6, r, IPPROTO_TCP, 40002, 5000, TCP_SYN | TCP_ACK);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 5000, 40002, TCP_ACK), SHOT);
		pod_sends(&t, v6, r, IPPROTO_TCP, 40003, 5000, TCP_ACK);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 5000, 40003, TCP_ACK), SHOT);
		/* A RST ends it: a closing flow still lets the last packets in, for seconds only. */
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40000, TCP_RST), PASS);
	}
	teardown(&t);
}
END_TEST

START_TEST(datagrams_from_a_blocked_port_start_flows_from_an_allowed_port_they_never_open_it_later)
{
	struct flows t = setup("dpflu", 2);
	struct pod_policy p = a_open_b_shut_default_block;
	static const uint16_t none[] = { 0 };

	for (int lite = 0; lite <= 1; lite++) {
		uint8_t proto = lite ? IPPROTO_UDPLITE : IPPROTO_UDP;

		ck_assert_int_eq(pod_receives(&t, false, REMOTE, proto, 53, TCP_PORT_B, 0), SHOT);
		pod_sends(&t, false, REMOTE, proto, TCP_PORT_B, 53, 0);
		ck_assert_int_eq(pod_receives(&t, false, REMOTE, proto, 53, TCP_PORT_B, 0), PASS);
		ck_assert_int_eq(pod_receives(&t, false, REMOTE, proto, 54, TCP_PORT_B, 0), SHOT);
		pod_sends(&t, true, REMOTE6, proto, 41000, 53, 0); /* 41000: no rule, default block */
		ck_assert_int_eq(pod_receives(&t, true, REMOTE6, proto, 53, 41000, 0), PASS);
	}
	/* The pod answers on A (allowed) someone who came in; then A becomes blocked. */
	ck_assert_int_eq(pod_receives(&t, false, REMOTE, IPPROTO_UDP, 6000, TCP_PORT_A, 0), PASS);
	pod_sends(&t, false, REMOTE, IPPROTO_UDP, TCP_PORT_A, 6000, 0);
	p.allowed = none;
	p.n_allowed = 0;
	fx_apply(t.dp, t.pod, &p);
	ck_assert_int_eq(pod_receives(&t, false, REMOTE, IPPROTO_UDP, 6000, TCP_PORT_A, 0), SHOT);
	pod_sends(&t, false, REMOTE, IPPROTO_UDP, TCP_PORT_A, 6000, 0); /* keeps answering: stays shut */
	ck_assert_int_eq(pod_receives(&t, false, REMOTE, IPPROTO_UDP, 6000, TCP_PORT_A, 0), SHOT);
	teardown(&t);
}
END_TEST

START_TEST(sctp_init_and_dccp_request_start_flows_other_chunks_and_types_do_not)
{
	struct flows t = setup("dpfls", 3);

	pod_sends(&t, false, REMOTE, IPPROTO_SCTP, 42000, 3868, 0 /* DATA chunk */);
	ck_assert_int_eq(pod_receives(&t, false, REMOTE, IPPROTO_SCTP, 3868, 42000, 0), SHOT);
	pod_sends(&t, false, REMOTE, IPPROTO_SCTP, 42000, 3868, 1 /* INIT */);
	ck_assert_int_eq(pod_receives(&t, false, REMOTE, IPPROTO_SCTP, 3868, 42000, 2 /* INIT ACK */), PASS);
	pod_sends(&t, true, REMOTE6, IPPROTO_DCCP, 42001, 5001, 1 /* DCCP-Response */);
	ck_assert_int_eq(pod_receives(&t, true, REMOTE6, IPPROTO_DCCP, 5001, 42001, 1), SHOT);
	pod_sends(&t, true, REMOTE6, IPPROTO_DCCP, 42001, 5001, 0 /* DCCP-Request */);
	ck_assert_int_eq(pod_receives(&t, true, REMOTE6, IPPROTO_DCCP, 5001, 42001, 1), PASS);
	teardown(&t);
}
END_TEST

static void remote_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "10.%d.%d.%d", 100 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
}

/* Whether the table holds the pod's TCP flow port -> remote:443 (looked up in the pinned map). */
static bool held(const struct flows *t, const char *remote, uint16_t port)
{
	struct pcmc_flow_key4 key = { .proto = IPPROTO_TCP, .pod_port = port, .remote_port = 443 };
	struct pcmc_fw_iface iface;
	struct pcmc_flow flow;
	char path[256];
	int ifaces, flows;
	bool found;

	snprintf(path, sizeof(path), "%s/fw_iface_slots", fx_pin_dir());
	ifaces = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/fw_flows4", fx_pin_dir());
	flows = bpf_obj_get(path);
	ck_assert(ifaces >= 0 && flows >= 0);
	ck_assert_uint_lt(t->ifindex, PCMC_IFINDEX_DIRECT);
	ck_assert_int_eq(bpf_map_lookup_elem(ifaces, &t->ifindex, &iface), 0);
	ck_assert_uint_ne(iface.gen, 0);
	key.slot = iface.slot;
	inet_pton(AF_INET, testpod_ipv4(t->pod), &key.pod_addr);
	inet_pton(AF_INET, remote, &key.remote_addr);
	found = bpf_map_lookup_elem(flows, &key, &flow) == 0;
	close(ifaces);
	close(flows);
	return found;
}

START_TEST(a_full_flow_table_evicts_but_never_lets_in_a_reply_of_a_flow_it_does_not_hold)
{
	struct flows t = setup("dpflf", 4);
	const int n = PCMC_MAX_FLOWS4 + PCMC_MAX_FLOWS4 / 4;
	struct dataplane_flow_stats before, after;
	int n_held = 0;
	char remote[32];

	ck_assert_int_eq(dataplane_read_flow_stats(t.dp, &before), 0);
	ck_assert_uint_eq(before.capacity, PCMC_MAX_FLOWS);
	for (int i = 0; i < n; i++) {
		remote_of(i, remote, sizeof(remote));
		pod_sends(&t, false, remote, IPPROTO_TCP, 43000, 443, TCP_SYN);
	}
	ck_assert_int_eq(dataplane_read_flow_stats(t.dp, &after), 0);
	ck_assert_uint_ge(after.created_total - before.created_total, (uint64_t)n);
	ck_assert_uint_le(after.entries, PCMC_MAX_FLOWS4);
	ck_assert_uint_ge(after.evicted_total, (uint64_t)(n - PCMC_MAX_FLOWS4));
	/* Never started: nothing gets in, whatever the table holds. */
	for (int i = n; i < n + 2000; i++) {
		remote_of(i, remote, sizeof(remote));
		ck_assert_int_eq(pod_receives(&t, false, remote, IPPROTO_TCP, 443, 43000, TCP_SYN | TCP_ACK), SHOT);
	}
	/* The oldest flows: a reply gets in exactly when the table still holds its flow; evicted ones
	 * are judged by the policy (port 43000: default block). */
	for (int i = 0; i < 2000; i++) {
		bool h;

		remote_of(i, remote, sizeof(remote));
		h = held(&t, remote, 43000);
		n_held += h;
		ck_assert_int_eq(pod_receives(&t, false, remote, IPPROTO_TCP, 443, 43000, TCP_ACK), h ? PASS : SHOT);
	}
	ck_assert_int_lt(n_held, 2000);
	/* The newest are still there. */
	for (int i = n - 1000; i < n; i++) {
		remote_of(i, remote, sizeof(remote));
		ck_assert_int_eq(pod_receives(&t, false, remote, IPPROTO_TCP, 443, 43000, TCP_ACK), PASS);
	}
	teardown(&t);
}
END_TEST

/* Deletes the pod's TCP flow port -> remote:443 from the pinned table, as an eviction would. */
static void forget(const struct flows *t, bool v6, const char *remote, uint16_t port)
{
	struct pcmc_flow_key4 k4 = { .proto = IPPROTO_TCP, .pod_port = port, .remote_port = 443 };
	struct pcmc_flow_key6 k6 = { .proto = IPPROTO_TCP, .pod_port = port, .remote_port = 443 };
	struct pcmc_fw_iface iface;
	char path[256];
	int ifaces, flows;

	snprintf(path, sizeof(path), "%s/fw_iface_slots", fx_pin_dir());
	ifaces = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", fx_pin_dir(), v6 ? "fw_flows6" : "fw_flows4");
	flows = bpf_obj_get(path);
	ck_assert(ifaces >= 0 && flows >= 0);
	ck_assert_int_eq(bpf_map_lookup_elem(ifaces, &t->ifindex, &iface), 0);
	k4.slot = k6.slot = iface.slot;
	inet_pton(AF_INET, testpod_ipv4(t->pod), &k4.pod_addr);
	inet_pton(AF_INET, remote, &k4.remote_addr);
	inet_pton(AF_INET6, testpod_ipv6(t->pod), k6.pod_addr);
	inet_pton(AF_INET6, remote, k6.remote_addr);
	ck_assert_int_eq(bpf_map_delete_elem(flows, v6 ? (void *)&k6 : (void *)&k4), 0);
	close(ifaces);
	close(flows);
}

/* Each CPU remembers the last reply it let in (FW_FLOW_HIT_JIFFIES in bpf/fw_flow.h: 100 jiffies,
 * 1 s at most): that flow only, never a FIN or RST, and for a second at most once the table no
 * longer holds it. */
START_TEST(a_reply_a_cpu_remembers_lets_in_only_its_flow_and_for_a_second_at_most_after_the_table_forgot_it)
{
	struct flows t = setup("dpflh", 5);
	cpu_set_t one, all;

	/* BPF_PROG_TEST_RUN runs on the caller's CPU: stay on one, as a stream's softirq does. */
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	for (int v6 = 0; v6 <= 1; v6++) {
		const char *r = v6 ? REMOTE6 : REMOTE, *other = v6 ? "fd00:10:244:5::fb" : "10.244.5.251";
		int64_t forgotten, deadline;
		int verdict;

		pod_sends(&t, v6, r, IPPROTO_TCP, 40100, 443, TCP_SYN);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_SYN | TCP_ACK), PASS);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_ACK), PASS);
		forget(&t, v6, r, 40100);
		forgotten = now_ms();
		/* Remembered: the flow itself passes; a neighbour of it does not. */
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_ACK), PASS);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 444, 40100, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, other, IPPROTO_TCP, 443, 40100, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40101, TCP_ACK), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_UDP, 443, 40100, 0), SHOT);
		/* A FIN or RST always asks the table, which no longer holds the flow. */
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_RST), SHOT);
		ck_assert_int_eq(pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_ACK | 0x01 /* FIN */), SHOT);
		/* The shots above were other flows: the CPU still remembers this one, until the second is up. */
		deadline = forgotten + 3000;
		while ((verdict = pod_receives(&t, v6, r, IPPROTO_TCP, 443, 40100, TCP_ACK)) == PASS && now_ms() < deadline)
			usleep(20 * 1000);
		ck_assert_int_eq(verdict, SHOT);
	}
	ck_assert_int_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	teardown(&t);
}
END_TEST

void add_flow_tests(TCase *tc)
{
	tcase_add_test(tc, a_syn_the_pod_sends_lets_exactly_its_replies_in_and_an_answer_of_the_pod_starts_nothing);
	tcase_add_test(tc, datagrams_from_a_blocked_port_start_flows_from_an_allowed_port_they_never_open_it_later);
	tcase_add_test(tc, sctp_init_and_dccp_request_start_flows_other_chunks_and_types_do_not);
	tcase_add_test(tc, a_full_flow_table_evicts_but_never_lets_in_a_reply_of_a_flow_it_does_not_hold);
	tcase_add_test(tc, a_reply_a_cpu_remembers_lets_in_only_its_flow_and_for_a_second_at_most_after_the_table_forgot_it);
}
