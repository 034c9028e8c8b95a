/* Stateful ingress on the wire: a block-by-default pod resolves a name and calls a service on
 * the host while its blocked ports stay shut; a connection that came in stops the moment its port
 * becomes blocked; a pod that keeps answering a peer on a now blocked port does not reopen it. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/listener.h"
#include "test/dataplane/tests.h"

#define DROP_WAIT_MS 300
#define SVC_V4 "10.244.7.254"
#define SVC_V6 "fd00:10:244:7::fe"
#define SVC_NAME "svc.pcmc.test"
#define SVC_PORT 8443

static const uint16_t allow_a[] = { TCP_PORT_A }, block_b[] = { TCP_PORT_B };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a name server and a service on the host, at addresses of the pod's host veth ---- */

struct host_services {
	int dns4, tcp4, tcp6;
	pthread_t thread;
	_Atomic int stop;
	_Atomic int queries;
};

/* Answers A and AAAA for SVC_NAME, NXDOMAIN for anything else. */
static void answer_dns(int fd)
{
	unsigned char q[512], r[600];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	size_t qend = 12, len;
	uint16_t qtype;
	char name[256] = "";

	if (n < 17)
		return;
	while (qend < (size_t)n && q[qend] && qend + q[qend] + 1 < (size_t)n) {
		strncat(name, (const char *)q + qend + 1, q[qend]);
		strcat(name, ".");
		qend += q[qend] + 1u;
	}
	qend++; /* the root label */
	if (qend + 4 > (size_t)n)
		return;
	qtype = (uint16_t)(q[qend] << 8 | q[qend + 1]);
	qend += 4;
	memcpy(r, q, qend);
	r[2] = 0x84 | (q[2] & 0x01); /* response, authoritative, RD copied */
	r[3] = 0;
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	len = qend;
	if (strcmp(name, SVC_NAME ".") == 0 && (qtype == 1 || qtype == 28)) {
		unsigned char rr[12] = { 0xc0, 12, 0, (unsigned char)qtype, 0, 1, 0, 0, 0, 5, 0, qtype == 1 ? 4 : 16 };

		r[7] = 1;
		memcpy(r + len, rr, sizeof(rr));
		len += sizeof(rr);
		inet_pton(qtype == 1 ? AF_INET : AF_INET6, qtype == 1 ? SVC_V4 : SVC_V6, r + len);
		len += qtype == 1 ? 4 : 16;
	} else if (strcmp(name, SVC_NAME ".") != 0) {
		r[3] = 3; /* NXDOMAIN */
	}
	sendto(fd, r, len, 0, (struct sockaddr *)&from, flen);
}

static void *serve_host(void *arg)
{
	struct host_services *h = arg;
	struct pollfd p[3] = { { .fd = h->dns4, .events = POLLIN }, { .fd = h->tcp4, .events = POLLIN },
			       { .fd = h->tcp6, .events = POLLIN } };

	while (!atomic_load(&h->stop)) {
		if (poll(p, 3, 50) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			atomic_fetch_add(&h->queries, 1);
			answer_dns(h->dns4);
		}
		for (int i = 1; i < 3; i++) {
			int c = (p[i].revents & POLLIN) ? accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC) : -1;

			if (c >= 0) {
				(void)!write(c, "svc\n", 4);
				close(c);
			}
		}
	}
	return NULL;
}

static int bound(int family, int type, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;
	socklen_t len;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		len = sizeof(struct sockaddr_in6);
	}
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s:%u: %s", ip, port, strerror(errno));
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static void host_services_start(struct host_services *h, struct testpod *pod)
{
	ck_assert_int_eq(fx_sh("ip addr add " SVC_V4 "/32 dev %s && ip -6 addr add " SVC_V6 "/128 dev %s nodad",
			       testpod_host_veth(pod), testpod_host_veth(pod)), 0);
	h->dns4 = bound(AF_INET, SOCK_DGRAM, SVC_V4, 53);
	h->tcp4 = bound(AF_INET, SOCK_STREAM, SVC_V4, SVC_PORT);
	h->tcp6 = bound(AF_INET6, SOCK_STREAM, SVC_V6, SVC_PORT);
	ck_assert_int_eq(pthread_create(&h->thread, NULL, serve_host, h), 0);
}

static void host_services_stop(struct host_services *h)
{
	atomic_store(&h->stop, 1);
	pthread_join(h->thread, NULL);
	close(h->dns4);
	close(h->tcp4);
	close(h->tcp6);
}

/* In the pod: its own mount namespace with a resolv.conf naming the host's server, then the C
 * library's resolver (getaddrinfo) and a TCP call to every address it gave. 0 when the name
 * resolved to both addresses and both answered. */
static int resolve_and_call(void *arg)
{
	const char *conf = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int answered = 0;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		return 10;
	if (getaddrinfo(SVC_NAME, "8443", &hints, &res) != 0)
		return 11;
	for (ai = res; ai; ai = ai->ai_next) {
		char buf[8] = "";
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 && read(fd, buf, sizeof(buf)) == 4 &&
		    memcmp(buf, "svc\n", 4) == 0)
			answered |= ai->ai_family == AF_INET ? 1 : 2;
		if (fd >= 0)
			close(fd);
	}
	freeaddrinfo(res);
	return answered == 3 ? 0 : 20 + answered;
}

START_TEST(block_by_default_pod_resolves_a_name_and_calls_a_host_service_while_blocked_ports_stay_shut)
{
	struct testpod *pod = fx_pod("dpdns", 7, 1, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct pod_policy p = { .firewall_enabled = true, .allowed = allow_a, .n_allowed = 1, .blocked = block_b,
				.n_blocked = 1, .default_block = true };
	char conf[] = "/tmp/pcmc-dp-resolv.XXXXXX";
	struct host_services h = { 0 };
	struct pod_counters before, after;
	struct dataplane *dp;
	pid_t pid;
	int fd;

	fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	static const char resolv[] = "nameserver " SVC_V4 "\noptions timeout:2 attempts:2\n";

	ck_assert_int_eq(write(fd, resolv, sizeof(resolv) - 1), (ssize_t)sizeof(resolv) - 1);
	close(fd);
	host_services_start(&h, pod);
	dp = fx_open(0);
	fx_apply(dp, pod, &p);
	before = fx_counters(dp, testpod_uid(pod));

	pid = testpod_spawn(pod, 0, resolve_and_call, conf);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(testpod_wait(pid, 20000), 0);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_ge(atomic_load(&h.queries), 2);
	/* DNS answers and the service's replies came to ephemeral ports the policy blocks. */
	ck_assert_uint_ge(after.packets_allowed_flow - before.packets_allowed_flow, 4);
	/* Meanwhile nothing unasked gets in. */
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_C, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv6(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_udp_echo(testpod_ipv4(pod), UDP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	host_services_stop(&h);
	unlink(conf);
	dataplane_close(dp);
}
END_TEST

/* Waits until the pod's blocked-for-port counter reached at least want (the packets were seen and
 * dropped: the barrier of a negative check). */
static bool blocked_reaches(struct dataplane *dp, struct testpod *pod, uint64_t want, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (fx_counters(dp, testpod_uid(pod)).packets_blocked_reason[PCMC_FW_REASON_PORT] < want) {
		if (now_ms() > deadline)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

START_TEST(a_connection_that_came_in_stops_the_moment_its_port_becomes_blocked)
{
	struct testpod *pod = fx_pod("dpcut", 7, 2, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	static const struct listen_port ports[] = { { IPPROTO_TCP, 7070 } };
	static const uint16_t cut[] = { 7070 };
	struct pod_policy p = { .firewall_enabled = true };
	struct listener *l = listener_start(pod, ports, 1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7070) };
	struct dataplane *dp = fx_open(0);
	char data[100] = { 0 };
	uint64_t blocked;
	int fd;

	fx_apply(dp, pod, &p); /* firewall on, everything allowed */
	inet_pton(AF_INET, testpod_ipv4(pod), &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, data, sizeof(data)), sizeof(data));
	for (int i = 0; i < 2000 && listener_bytes(l, 0) < 100; i++)
		usleep(1000);
	ck_assert_uint_eq(listener_bytes(l, 0), 100);

	p.blocked = cut;
	p.n_blocked = 1;
	fx_apply(dp, pod, &p);
	blocked = fx_counters(dp, testpod_uid(pod)).packets_blocked_reason[PCMC_FW_REASON_PORT];
	ck_assert_int_eq(write(fd, data, sizeof(data)), sizeof(data));
	ck_assert(blocked_reaches(dp, pod, blocked + 1, 3000)); /* the segment reached our hook, dropped */
	ck_assert_uint_eq(listener_bytes(l, 0), 100);
	close(fd);
	listener_stop(l);
	dataplane_close(dp);
}
END_TEST

struct chatter {
	uint16_t port;
	_Atomic uint64_t *received;
};

/* In the pod: a UDP socket on port that counts what comes in and, once it has a peer, keeps
 * sending it a datagram every 20 ms (an answering pod that goes on talking). */
static int chatter(void *arg)
{
	struct chatter *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port) }, peer;
	socklen_t plen = sizeof(peer);
	bool have_peer = false;
	char buf[64];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 20) > 0 && recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen) > 0) {
			atomic_fetch_add(c->received, 1);
			have_peer = true;
		}
		if (have_peer)
			sendto(fd, "alive", 5, 0, (struct sockaddr *)&peer, plen);
	}
}

START_TEST(a_pod_that_keeps_answering_on_a_port_that_became_blocked_does_not_reopen_it)
{
	struct testpod *pod = fx_pod("dpchat", 7, 3, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	static const uint16_t cut[] = { 7071 };
	_Atomic uint64_t *received = mmap(NULL, sizeof(*received), PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct chatter c = { .port = 7071, .received = received };
	struct pod_policy p = { .firewall_enabled = true };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7071) };
	struct dataplane *dp = fx_open(0);
	uint64_t blocked, got_before;
	char buf[16];
	pid_t pid;
	int fd, alive = 0;

	ck_assert(received != MAP_FAILED);
	pid = testpod_spawn(pod, 0, chatter, &c);
	ck_assert_int_gt(pid, 0);
	fx_apply(dp, pod, &p);
	inet_pton(AF_INET, testpod_ipv4(pod), &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 200 && atomic_load(received) == 0; i++) {
		ck_assert_int_eq(send(fd, "hello", 5, 0), 5);
		usleep(10 * 1000);
	}
	ck_assert_uint_gt(atomic_load(received), 0);

	p.blocked = cut;
	p.n_blocked = 1;
	fx_apply(dp, pod, &p);
	got_before = atomic_load(received);
	blocked = fx_counters(dp, testpod_uid(pod)).packets_blocked_reason[PCMC_FW_REASON_PORT];
	/* The pod goes on sending to us from the blocked port... */
	for (int64_t deadline = now_ms() + 3000; alive < 10 && now_ms() < deadline;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		if (poll(&pf, 1, 100) > 0 && recv(fd, buf, sizeof(buf), 0) == 5)
			alive++;
	}
	ck_assert_int_ge(alive, 10);
	/* ...and what we send back still stops at the filter. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(send(fd, "again", 5, 0), 5);
	ck_assert(blocked_reaches(dp, pod, blocked + 20, 3000));
	ck_assert_uint_eq(atomic_load(received), got_before);
	close(fd);
	kill(pid, SIGKILL);
	testpod_wait(pid, 5000);
	munmap(received, sizeof(*received));
	dataplane_close(dp);
}
END_TEST

void add_stateful_tests(TCase *tc)
{
	tcase_add_test(tc, block_by_default_pod_resolves_a_name_and_calls_a_host_service_while_blocked_ports_stay_shut);
	tcase_add_test(tc, a_connection_that_came_in_stops_the_moment_its_port_becomes_blocked);
	tcase_add_test(tc, a_pod_that_keeps_answering_on_a_port_that_became_blocked_does_not_reopen_it);
}
