/* L4 firewall with real traffic from the host into test pods: TCP/UDP x IPv4/IPv6 allowed,
 * blocked and default verdicts with exact counters, IPv4 options, two pods, in-place changes. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

#define DROP_WAIT_MS 300 /* below the first SYN retransmission (1 s): one SYN per attempt */

static const uint16_t allow_a[] = { TCP_PORT_A, UDP_PORT_A };
static const uint16_t block_b[] = { TCP_PORT_B, UDP_PORT_B, TCP_PORT_A + 1000 };

static struct pod_policy port_policy(bool default_block)
{
	return (struct pod_policy){
		.firewall_enabled = true, .allowed = allow_a, .n_allowed = 2,
		.blocked = block_b, .n_blocked = 3, .default_block = default_block,
	};
}

static void check_tcp(bool v6, int host)
{
	struct testpod *pod = fx_pod("dptcp", 2, host, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	const char *ip = v6 ? testpod_ipv6(pod) : testpod_ipv4(pod);
	struct dataplane *dp = fx_open(0);
	struct pod_policy p = port_policy(true);
	struct pod_counters before, after;

	ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_C, 2000), 0); /* served without policy */
	fx_apply(dp, pod, &p);
	before = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_A, 2000), 0);
	usleep(200 * 1000); /* the connection's last ACKs are still on their way */
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_blocked, before.packets_blocked);
	ck_assert_uint_ge(after.packets_allowed - before.packets_allowed, 2); /* SYN, ACK, ... */

	before = after;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 3); /* one SYN each */
	ck_assert_uint_eq(after.packets_allowed, before.packets_allowed);

	before = after;
	ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_C, DROP_WAIT_MS), -ETIMEDOUT); /* default */
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 1);

	p.default_block = false;
	fx_apply(dp, pod, &p);
	ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_C, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	dataplane_close(dp);
}

static void check_udp(bool v6, int host)
{
	struct testpod *pod = fx_pod("dpudp", 2, host, TESTPOD_SYSTEMD, TESTPOD_GUARANTEED, 1);
	const char *ip = v6 ? testpod_ipv6(pod) : testpod_ipv4(pod);
	struct dataplane *dp = fx_open(0);
	struct pod_policy p = port_policy(true);
	struct pod_counters before, after;

	ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_C, 2000), 0);
	fx_apply(dp, pod, &p);
	ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_A, 2000), 0);
	ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_C, DROP_WAIT_MS), -ETIMEDOUT);

	before = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_eq(testclient_udp_send(ip, UDP_PORT_A, 250), 250);
	ck_assert_int_eq(testclient_udp_send(ip, UDP_PORT_B, 300), 300);
	ck_assert_int_eq(testclient_udp_send(ip, UDP_PORT_C, 70), 70);
	usleep(200 * 1000);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_allowed - before.packets_allowed, 250);
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 370);

	p.default_block = false;
	fx_apply(dp, pod, &p);
	ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_C, 2000), 0);
	dataplane_close(dp);
}

START_TEST(tcp_ipv4_blocked_refused_allowed_served_default_block_drops) { check_tcp(false, 1); }
END_TEST
START_TEST(tcp_ipv6_blocked_refused_allowed_served_default_block_drops) { check_tcp(true, 2); }
END_TEST
START_TEST(udp_ipv4_blocked_dropped_allowed_echoed_counters_equal_packets_sent) { check_udp(false, 3); }
END_TEST
START_TEST(udp_ipv6_blocked_dropped_allowed_echoed_counters_equal_packets_sent) { check_udp(true, 4); }
END_TEST

START_TEST(port_in_both_lists_is_blocked)
{
	struct testpod *pod = fx_pod("dpboth", 2, 5, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	static const uint16_t a[] = { TCP_PORT_A, TCP_PORT_B };
	static const uint16_t b[] = { TCP_PORT_B };
	struct pod_policy p = { .firewall_enabled = true, .allowed = a, .n_allowed = 2, .blocked = b, .n_blocked = 1 };
	struct dataplane *dp = fx_open(0);

	fx_apply(dp, pod, &p);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	dataplane_close(dp);
}
END_TEST

/* A TCP connect whose packets carry IPv4 options (IHL 6): judged by the port after the options. */
static int connect_with_ip_options(const char *ip, uint16_t port, int timeout_ms)
{
	static const unsigned char nops[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, nops, sizeof(nops)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms) == 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	close(fd);
	return -err;
}

START_TEST(ipv4_with_ip_options_is_judged_by_its_port)
{
	struct testpod *pod = fx_pod("dpopt", 2, 6, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_policy p = port_policy(true);
	struct pod_counters before, after;

	fx_apply(dp, pod, &p);
	ck_assert_int_eq(connect_with_ip_options(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	before = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_eq(connect_with_ip_options(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 1);
	dataplane_close(dp);
}
END_TEST

/* A UDP echo whose datagram carries an IPv6 destination options header (and, with hop, a
 * hop-by-hop header too): 0 when echoed, -ETIMEDOUT when dropped. */
static int udp6_echo_with_ext_headers(const char *ip, uint16_t port, bool hop, int timeout_ms)
{
	static const unsigned char opts[8] = { 0, 0, 1, 4, 0, 0, 0, 0 }; /* PadN: 8 bytes */
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct pollfd pfd;
	char buf[16];
	int fd, err = 0;

	inet_pton(AF_INET6, ip, &sa.sin6_addr);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_DSTOPTS, opts, sizeof(opts)) < 0 ||
	    (hop && setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, opts, sizeof(opts)) < 0) ||
	    sendto(fd, "pcmc", 4, 0, (struct sockaddr *)&sa, sizeof(sa)) != 4) {
		err = -errno;
		close(fd);
		return err;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	err = poll(&pfd, 1, timeout_ms) == 1 && recv(fd, buf, sizeof(buf), 0) == 4 ? 0 : -ETIMEDOUT;
	close(fd);
	return err;
}

START_TEST(ipv6_with_extension_headers_is_judged_by_its_port)
{
	struct testpod *pod = fx_pod("dpext", 2, 11, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_policy p = port_policy(true);
	struct pod_counters before, after;
	const char *ip = testpod_ipv6(pod);

	fx_apply(dp, pod, &p);
	before = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_eq(udp6_echo_with_ext_headers(ip, UDP_PORT_A, false, 2000), 0);
	ck_assert_int_eq(udp6_echo_with_ext_headers(ip, UDP_PORT_A, true, 2000), 0);
	ck_assert_int_eq(udp6_echo_with_ext_headers(ip, UDP_PORT_B, false, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(udp6_echo_with_ext_headers(ip, UDP_PORT_B, true, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(udp6_echo_with_ext_headers(ip, UDP_PORT_C, true, DROP_WAIT_MS), -ETIMEDOUT);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_allowed - before.packets_allowed, 2);
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 3);
	dataplane_close(dp);
}
END_TEST

START_TEST(two_pods_with_different_policies_do_not_affect_each_other)
{
	struct testpod *one = fx_pod("dpone", 2, 7, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct testpod *two = fx_pod("dptwo", 2, 8, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	static const uint16_t a[] = { TCP_PORT_A }, b[] = { TCP_PORT_B };
	struct pod_policy p1 = { .firewall_enabled = true, .allowed = a, .n_allowed = 1, .blocked = b, .n_blocked = 1 };
	struct pod_policy p2 = { .firewall_enabled = true, .allowed = b, .n_allowed = 1, .blocked = a, .n_blocked = 1,
				 .default_block = true };
	struct dataplane *dp = fx_open(0);
	struct pod_counters c1, c2;

	fx_apply(dp, one, &p1);
	fx_apply(dp, two, &p2);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(one), TCP_PORT_A, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(one), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(one), TCP_PORT_C, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv6(two), TCP_PORT_A, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv6(two), TCP_PORT_B, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv6(two), TCP_PORT_C, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_udp_send(testpod_ipv4(one), UDP_PORT_A, 40), 40);
	usleep(100 * 1000);
	c1 = fx_counters(dp, testpod_uid(one));
	c2 = fx_counters(dp, testpod_uid(two));
	ck_assert_uint_eq(c1.packets_blocked, 1);
	ck_assert_uint_eq(c2.packets_blocked, 2);
	ck_assert_uint_ge(c1.packets_allowed, 40 + 4);
	ck_assert_uint_ge(c2.packets_allowed, 2);
	ck_assert_uint_lt(c2.packets_allowed, 40);
	dataplane_close(dp);
}
END_TEST

START_TEST(changing_a_policy_in_place_never_opens_or_closes_a_port_that_keeps_its_verdict)
{
	struct testpod *pod = fx_pod("dpinpl", 2, 9, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	static const uint16_t allowed[] = { TCP_PORT_A, TCP_PORT_C, 7000, 7001 };
	static const uint16_t blocked[] = { TCP_PORT_B, TCP_PORT_C, 7002, 7003 };
	struct dataplane *dp = fx_open(0);
	struct pod_policy p = { .firewall_enabled = true, .allowed = allowed, .blocked = blocked };
	pid_t prober;

	p.n_allowed = 1;
	p.n_blocked = 1;
	fx_apply(dp, pod, &p);
	prober = fx_start_prober(testpod_ipv4(pod), TCP_PORT_B, TCP_PORT_A);
	for (int i = 0; i < 200; i++) {
		/* A stays allowed and B blocked through every change of the other rules and the default. */
		p.n_allowed = 1 + i % 4;
		p.n_blocked = 1 + (i / 2) % 4;
		p.default_block = i % 3 == 0;
		fx_apply(dp, pod, &p);
		usleep(2000);
	}
	ck_assert_int_eq(fx_stop_prober(prober), 0);
	dataplane_close(dp);
}
END_TEST

START_TEST(turning_firewall_and_syscall_counting_off_and_on_again)
{
	struct testpod *pod = fx_pod("dpoff", 2, 10, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	static const int getppid_only[] = { 110 };
	struct pod_policy p = port_policy(true);
	struct dataplane *dp = fx_open(0);

	p.syscalls_enabled = true;
	p.syscall_nrs = getppid_only;
	p.n_syscalls = 1;
	fx_apply(dp, pod, &p);
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	ck_assert_uint_ne(fx_filter_prog_id(pod, false), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);

	p.firewall_enabled = false;
	p.syscalls_enabled = false;
	fx_apply(dp, pod, &p);
	ck_assert_uint_eq(fx_filter_prog_id(pod, true), 0);
	ck_assert_uint_eq(fx_filter_prog_id(pod, false), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_C, 2000), 0);
	uint64_t total = fx_counters(dp, testpod_uid(pod)).syscalls_total;
	ck_assert_int_eq(testpod_exec(pod, 0, (char *[]){ "true", NULL }), 0);
	ck_assert_uint_eq(fx_counters(dp, testpod_uid(pod)).syscalls_total, total);

	p.firewall_enabled = true;
	p.syscalls_enabled = true;
	fx_apply(dp, pod, &p);
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	ck_assert_int_eq(testpod_exec(pod, 0, (char *[]){ "true", NULL }), 0);
	ck_assert_uint_gt(fx_counters(dp, testpod_uid(pod)).syscalls_total, total);
	dataplane_close(dp);
}
END_TEST

void add_firewall_tests(TCase *tc)
{
	tcase_add_test(tc, turning_firewall_and_syscall_counting_off_and_on_again);
	tcase_add_test(tc, tcp_ipv4_blocked_refused_allowed_served_default_block_drops);
	tcase_add_test(tc, tcp_ipv6_blocked_refused_allowed_served_default_block_drops);
	tcase_add_test(tc, udp_ipv4_blocked_dropped_allowed_echoed_counters_equal_packets_sent);
	tcase_add_test(tc, udp_ipv6_blocked_dropped_allowed_echoed_counters_equal_packets_sent);
	tcase_add_test(tc, port_in_both_lists_is_blocked);
	tcase_add_test(tc, ipv4_with_ip_options_is_judged_by_its_port);
	tcase_add_test(tc, ipv6_with_extension_headers_is_judged_by_its_port);
	tcase_add_test(tc, two_pods_with_different_policies_do_not_affect_each_other);
	tcase_add_test(tc, changing_a_policy_in_place_never_opens_or_closes_a_port_that_keeps_its_verdict);
}
