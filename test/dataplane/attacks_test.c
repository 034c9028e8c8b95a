/* The ways the per-pod firewall failed open, on the wire into real pods: stacked VID-0 VLAN tags
 * (TCP handshake and UDP, IPv4 and IPv6), a pod process with its own netns and eth0 made before
 * the agent attaches (unprivileged, and root in its user namespace), UDP-Lite to a blocked port. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/listener.h"
#include "test/dataplane/tests.h"

#define DROP_WAIT_MS 300
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static const uint16_t allow_a[] = { TCP_PORT_A, UDP_PORT_A };
static const uint16_t block_b[] = { TCP_PORT_B, UDP_PORT_B };
static const struct pod_policy a_open_b_shut = {
	.firewall_enabled = true, .allowed = allow_a, .n_allowed = 2, .blocked = block_b, .n_blocked = 2,
};

/* Another tool on the host veth's egress, before ours (priority 1): pushes n VLAN tags of VLAN ID
 * 0 onto every frame to the pod (the first becomes the outer one in skb metadata, earlier ones
 * move into the frame), then lets the next filter run. */
static void push_vlan_tags(struct testpod *pod, const uint16_t *tpids, int n)
{
	struct bpf_insn insns[32];
	int k = 0, fd;
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);

	insns[k++] = (struct bpf_insn){ .code = 0xbf, .dst_reg = 6, .src_reg = 1 };       /* r6 = ctx */
	for (int i = 0; i < n; i++) {
		insns[k++] = (struct bpf_insn){ .code = 0xbf, .dst_reg = 1, .src_reg = 6 }; /* r1 = ctx */
		insns[k++] = (struct bpf_insn){ .code = 0xb7, .dst_reg = 2, .imm = htons(tpids[i]) };
		insns[k++] = (struct bpf_insn){ .code = 0xb7, .dst_reg = 3, .imm = 0 };     /* VID 0 */
		insns[k++] = (struct bpf_insn){ .code = 0x85, .imm = BPF_FUNC_skb_vlan_push };
	}
	insns[k++] = (struct bpf_insn){ .code = 0xb7, .dst_reg = 0, .imm = -1 };          /* TC_ACT_UNSPEC */
	insns[k++] = (struct bpf_insn){ .code = 0x95 };
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "test_vlan_push", "GPL", insns, (size_t)k, NULL);
	ck_assert_msg(fd >= 0, "VLAN tag pusher: %s", strerror(errno));
	hook.ifindex = (int)if_nametoindex(testpod_host_veth(pod));
	bpf_tc_hook_create(&hook);
	opts.prog_fd = fd;
	opts.flags = BPF_TC_F_REPLACE;
	ck_assert_int_eq(bpf_tc_attach(&hook, &opts), 0);
	close(fd);
}

START_TEST(stacked_vid0_vlan_tags_reach_no_blocked_port_tcp_handshake_and_udp_over_ipv4_and_ipv6)
{
	static const uint16_t stacks[][3] = { { 0x8100, 0x8100 }, { 0x8100, 0x88a8 }, { 0x8100, 0x8100, 0x88a8 } };
	static const int depth[] = { 2, 2, 3 };
	struct testpod *pod = fx_pod("dpvlan", 6, 1, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);

	/* Without pcmc the tagged frames reach every port: the handshake completes (the hole). */
	for (int s = 0; s < 3; s++) {
		push_vlan_tags(pod, stacks[s], depth[s]);
		for (int v6 = 0; v6 <= 1; v6++) {
			const char *ip = v6 ? testpod_ipv6(pod) : testpod_ipv4(pod);

			ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_B, 2000), 0);
			ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_B, 2000), 0);
		}
	}
	fx_apply(dp, pod, &a_open_b_shut);
	for (int s = 0; s < 3; s++) {
		push_vlan_tags(pod, stacks[s], depth[s]);
		for (int v6 = 0; v6 <= 1; v6++) {
			const char *ip = v6 ? testpod_ipv6(pod) : testpod_ipv4(pod);
			struct pod_counters before = fx_counters(dp, testpod_uid(pod)), after;

			ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
			ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
			after = fx_counters(dp, testpod_uid(pod));
			ck_assert_uint_ge(after.packets_blocked_reason[PCMC_FW_REASON_PORT] -
					  before.packets_blocked_reason[PCMC_FW_REASON_PORT], 2);
			ck_assert_int_eq(testclient_tcp_connect(ip, TCP_PORT_A, 2000), 0);
			ck_assert_int_eq(testclient_udp_echo(ip, UDP_PORT_A, 2000), 0);
		}
	}
	dataplane_close(dp);
}
END_TEST

struct own_netns {
	bool root_in_userns;
	_Atomic int *ready; /* shared: 1 once the fake eth0 is up, -1 on failure */
};

/* In the pod: a process (unprivileged, or root) makes its own user + network namespace with a
 * veth named eth0, like `unshare -Urn`, and stays there. */
static int make_own_netns(void *arg)
{
	struct own_netns *o = arg;
	char map[64];
	int fd;
	uid_t uid;

	/* Dropping root makes the process undumpable, its /proc files root's: undo that, as an exec would. */
	if (!o->root_in_userns && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
				   prctl(PR_SET_DUMPABLE, 1) < 0))
		goto fail;
	uid = getuid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		goto fail;
	fd = open("/proc/self/setgroups", O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "deny", 4);
		close(fd);
	}
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	fd = open("/proc/self/uid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		goto fail;
	close(fd);
	fd = open("/proc/self/gid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		goto fail;
	close(fd);
	if (system("ip link add eth0 type veth peer name eth1 && ip link set eth0 up && "
		   "ip addr add 10.244.6.2/32 dev eth0") != 0)
		goto fail;
	*o->ready = 1;
	for (;;)
		pause();
fail:
	*o->ready = -1;
	return 1;
}

static void check_own_netns(bool root_in_userns, int host)
{
	char name[32], cmd[256];
	struct testpod *pod;
	struct dataplane *dp;
	_Atomic int *ready = mmap(NULL, sizeof(*ready), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct own_netns o = { .root_in_userns = root_in_userns, .ready = ready };
	pid_t pid;

	snprintf(name, sizeof(name), "dpown%d", host);
	pod = fx_pod(name, 6, host, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	ck_assert(ready != MAP_FAILED);
	pid = testpod_spawn(pod, 0, make_own_netns, &o);
	ck_assert_int_gt(pid, 0);
	for (int i = 0; i < 5000 && !*ready; i++)
		usleep(1000);
	ck_assert_msg(*ready == 1, "the pod process could not make its own netns with an eth0");
	/* The process's own eth0 exists and is not the pod's. */
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n ip link show eth0 >/dev/null", (int)pid);
	ck_assert_int_eq(fx_sh("%s", cmd), 0);

	dp = fx_open(0);
	fx_apply(dp, pod, &a_open_b_shut);
	ck_assert_int_eq(dataplane_refresh(dp) >= 0, 1);
	ck_assert_str_eq(dataplane_pod_error(dp, testpod_uid(pod)), "");
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	ck_assert_uint_ne(fx_filter_prog_id(pod, false), 0);
	snprintf(cmd, sizeof(cmd), "nsenter -t %d -n tc filter show dev eth0 ingress | grep -q bpf", (int)pid);
	ck_assert_int_ne(fx_sh("%s", cmd), 0); /* nothing of ours in the process's own netns */
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv6(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	ck_assert_uint_ge(fx_counters(dp, testpod_uid(pod)).packets_blocked, 2);
	kill(pid, SIGKILL);
	testpod_wait(pid, 5000);
	munmap(ready, sizeof(*ready));
	dataplane_close(dp);
}

START_TEST(unprivileged_process_with_its_own_netns_and_eth0_cannot_take_the_filter)
{
	check_own_netns(false, 2);
}
END_TEST

START_TEST(root_in_its_own_user_namespace_with_an_eth0_cannot_take_the_filter)
{
	check_own_netns(true, 3);
}
END_TEST

/* count UDP-Lite datagrams from the host to ip:port; 0 or -errno */
static int udplite_send(const char *ip, uint16_t port, int count)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = 0;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < count && !err; i++)
		if (sendto(fd, "pcmc-lite", 9, 0, (struct sockaddr *)&ss, len) != 9)
			err = -errno;
	close(fd);
	return err;
}

START_TEST(udp_lite_to_a_blocked_port_never_reaches_its_socket_over_ipv4_and_ipv6)
{
	struct testpod *pod = fx_pod("dplite", 6, 4, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	static const struct listen_port ports[] = { { IPPROTO_UDPLITE, TCP_PORT_B }, { IPPROTO_UDPLITE, TCP_PORT_A } };
	static const uint16_t a[] = { TCP_PORT_A }, b[] = { TCP_PORT_B };
	struct pod_policy p = { .firewall_enabled = true, .allowed = a, .n_allowed = 1, .blocked = b, .n_blocked = 1 };
	struct listener *l = listener_start(pod, ports, 2);
	struct dataplane *dp = fx_open(0);
	struct pod_counters before, after;

	/* Without pcmc it is delivered (the hole this closes). */
	ck_assert_int_eq(udplite_send(testpod_ipv4(pod), TCP_PORT_B, 1), 0);
	for (int i = 0; i < 2000 && listener_hits(l, 0) < 1; i++)
		usleep(1000);
	ck_assert_uint_eq(listener_hits(l, 0), 1);

	fx_apply(dp, pod, &p);
	before = fx_counters(dp, testpod_uid(pod));
	ck_assert_int_eq(udplite_send(testpod_ipv4(pod), TCP_PORT_B, 50), 0);
	ck_assert_int_eq(udplite_send(testpod_ipv6(pod), TCP_PORT_B, 50), 0);
	/* Barrier: datagrams sent after them to the allowed port arrived, so the blocked ones had
	 * every chance to. */
	ck_assert_int_eq(udplite_send(testpod_ipv4(pod), TCP_PORT_A, 10), 0);
	ck_assert_int_eq(udplite_send(testpod_ipv6(pod), TCP_PORT_A, 10), 0);
	for (int i = 0; i < 2000 && listener_hits(l, 1) < 20; i++)
		usleep(1000);
	ck_assert_uint_eq(listener_hits(l, 1), 20);
	ck_assert_uint_eq(listener_hits(l, 0), 1);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(after.packets_blocked_reason[PCMC_FW_REASON_PORT] - before.packets_blocked_reason[PCMC_FW_REASON_PORT], 100);
	ck_assert_uint_ge(after.packets_allowed - before.packets_allowed, 20);
	listener_stop(l);
	dataplane_close(dp);
}
END_TEST

void add_attack_tests(TCase *tc)
{
	tcase_add_test(tc, stacked_vid0_vlan_tags_reach_no_blocked_port_tcp_handshake_and_udp_over_ipv4_and_ipv6);
	tcase_add_test(tc, unprivileged_process_with_its_own_netns_and_eth0_cannot_take_the_filter);
	tcase_add_test(tc, root_in_its_own_user_namespace_with_an_eth0_cannot_take_the_filter);
	tcase_add_test(tc, udp_lite_to_a_blocked_port_never_reaches_its_socket_over_ipv4_and_ipv6);
}
