/* Crafted frames run through the node's firewall program for a pod (BPF_PROG_TEST_RUN): VLAN
 * stacks, IPv4 options, fragments, IPv6 extension headers, the five port protocols, tunnels, odd
 * lengths and truncated headers, each with its verdict and counter (and drop reason). */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/frame.h"
#include "test/dataplane/tests.h"

#define PASS (-1) /* TC_ACT_UNSPEC */
#define SHOT 2    /* TC_ACT_SHOT */
#define ALLOWED_PORT TCP_PORT_A
#define BLOCKED_PORT TCP_PORT_B
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/* Short names for the frames these tests build (test/dataplane/frame.h). */
#define ETH(f, type)            frame_eth((f), NULL, NULL, NULL, NULL, 0, (type))
#define V4(f, ihl, proto, frag) frame_ipv4((f), (ihl), (proto), (frag), NULL, NULL)
#define V6(f, next)             frame_ipv6((f), (next), NULL, NULL)
#define TCP(f, dport, len)      frame_l4((f), IPPROTO_TCP, 40000, (dport), 0x02, (len))
#define UDP(f, dport, len)      frame_l4((f), IPPROTO_UDP, 40000, (dport), 0, (len))

struct fw_under_test {
	struct testpod *pod;
	struct dataplane *dp;
	int prog_fd;      /* pcmc_fw_pod_in: what the pod receives */
	uint32_t ifindex; /* the pod's host veth: the program knows the pod by it */
};

static struct fw_under_test setup_fw(const char *name, int host)
{
	static const uint16_t a[] = { ALLOWED_PORT }, b[] = { BLOCKED_PORT };
	struct pod_policy p = { .firewall_enabled = true, .allowed = a, .n_allowed = 1, .blocked = b,
				.n_blocked = 1, .default_block = true };
	struct fw_under_test t;
	char path[256];

	t.pod = fx_pod(name, 3, host, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	t.dp = fx_open(0);
	fx_apply(t.dp, t.pod, &p);
	snprintf(path, sizeof(path), "%s/fw_pod_in", fx_pin_dir());
	t.prog_fd = bpf_obj_get(path);
	ck_assert_msg(t.prog_fd >= 0, "pinned firewall program %s: %s", path, strerror(errno));
	t.ifindex = if_nametoindex(testpod_host_veth(t.pod));
	ck_assert_uint_ne(t.ifindex, 0);
	return t;
}

/* Runs the frame as it is; checks the verdict and which counter moved by one (or none), and
 * for a drop with reason >= 0 that it was counted under that reason. */
static void expect_as_is(struct fw_under_test *t, const struct frame *p, int verdict, int d_allowed,
			 int d_blocked, int reason, const char *what)
{
	struct __sk_buff ctx = { .ifindex = t->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->b, .data_size_in = (uint32_t)p->len, .repeat = 1,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	struct pod_counters before = fx_counters(t->dp, testpod_uid(t->pod)), after;
	int err = bpf_prog_test_run_opts(t->prog_fd, &opts);

	ck_assert_msg(err == 0, "%s: test run: %s", what, strerror(-err));
	after = fx_counters(t->dp, testpod_uid(t->pod));
	if (reason >= 0)
		ck_assert_msg(after.packets_blocked_reason[reason] - before.packets_blocked_reason[reason] == 1,
			      "%s: not counted as blocked for %s", what, dataplane_fw_reason_name(reason));
	ck_assert_msg((int)opts.retval == verdict, "%s: verdict %d, want %d", what, (int)opts.retval, verdict);
	ck_assert_msg(after.packets_allowed - before.packets_allowed == (uint64_t)d_allowed &&
		      after.packets_blocked - before.packets_blocked == (uint64_t)d_blocked,
		      "%s: allowed +%llu blocked +%llu, want +%d +%d", what,
		      (unsigned long long)(after.packets_allowed - before.packets_allowed),
		      (unsigned long long)(after.packets_blocked - before.packets_blocked), d_allowed, d_blocked);
}

/* The frame with its lengths and checksums set (frame_finish), then expect_as_is. */
static void expect(struct fw_under_test *t, struct frame *p, int verdict, int d_allowed, int d_blocked,
		   const char *what)
{
	frame_finish(p);
	expect_as_is(t, p, verdict, d_allowed, d_blocked, -1, what);
}

/* Dropped and counted blocked for reason. */
static void expect_drop(struct fw_under_test *t, struct frame *p, int reason, const char *what)
{
	frame_finish(p);
	expect_as_is(t, p, SHOT, 0, 1, reason, what);
}

START_TEST(ipv4_options_fragments_and_truncated_headers)
{
	struct fw_under_test t = setup_fw("dppkt4", 1);
	struct frame p;

	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "tcp allowed port");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "tcp blocked port");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_UDP, 0); UDP(&p, 4444, 8);
	expect(&t, &p, SHOT, 0, 1, "udp unlisted port, default block");
	for (int ihl = 6; ihl <= 15; ihl++) {
		ETH(&p, 0x0800); V4(&p, ihl, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20);
		expect(&t, &p, PASS, 1, 0, "ip options, allowed port");
		ETH(&p, 0x0800); V4(&p, ihl, IPPROTO_UDP, 0); UDP(&p, BLOCKED_PORT, 8);
		expect(&t, &p, SHOT, 0, 1, "ip options, blocked port");
	}
	ETH(&p, 0x0800); V4(&p, 4, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "ihl 4");
	ETH(&p, 0x0800); p.b[14] = 0x65; V4(&p, 5, IPPROTO_TCP, 0); p.b[14] = 0x65; TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "version 6 in an IPv4 frame");
	ETH(&p, 0x0800); V4(&p, 15, IPPROTO_TCP, 0);
	expect(&t, &p, SHOT, 0, 1, "options but no TCP header");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 19);
	expect(&t, &p, SHOT, 0, 1, "TCP header cut at 19 bytes");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_UDP, 0); UDP(&p, ALLOWED_PORT, 7);
	expect(&t, &p, SHOT, 0, 1, "UDP header cut at 7 bytes");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0x2000); TCP(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "first fragment (MF, offset 0) is judged");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0x0003); TCP(&p, BLOCKED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "non-first fragment passes, counted allowed");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_UDP, 0x2001); frame_zeros(&p, 2);
	expect(&t, &p, PASS, 1, 0, "non-first fragment shorter than a UDP header");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_ICMP, 0); frame_zeros(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMP passes uncounted");
	ETH(&p, 0x0806); frame_zeros(&p, 28);
	expect(&t, &p, PASS, 0, 0, "ARP passes uncounted");
	ETH(&p, 0x88cc); frame_zeros(&p, 2);
	expect(&t, &p, PASS, 0, 0, "short LLDP frame passes uncounted");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

START_TEST(ipv6_extension_headers_fragments_and_truncated_headers)
{
	struct fw_under_test t = setup_fw("dppkt6", 2);
	static const uint8_t walked[] = { 0, 60, 43, 51, 60, 43, 60, 51 }; /* 8: HBH DST RT AH ... */
	struct frame p;

	ETH(&p, 0x86dd); V6(&p, IPPROTO_TCP); TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "tcp allowed port");
	ETH(&p, 0x86dd); V6(&p, IPPROTO_UDP); UDP(&p, BLOCKED_PORT, 8);
	expect(&t, &p, SHOT, 0, 1, "udp blocked port");
	for (int n = 1; n <= 8; n++) {
		ETH(&p, 0x86dd);
		V6(&p, walked[0]);
		for (int i = 0; i < n; i++)
			frame_ext6(&p, i + 1 < n ? walked[i + 1] : IPPROTO_TCP);
		TCP(&p, BLOCKED_PORT, 20);
		expect(&t, &p, SHOT, 0, 1, "blocked port behind 1..8 extension headers");
		p.b[p.len - 20 + 3] = ALLOWED_PORT & 0xff;
		p.b[p.len - 20 + 2] = ALLOWED_PORT >> 8;
		expect(&t, &p, PASS, 1, 0, "allowed port behind 1..8 extension headers");
	}
	ETH(&p, 0x86dd); V6(&p, 60);
	for (int i = 0; i < 9; i++)
		frame_ext6(&p, i < 8 ? 60 : IPPROTO_TCP);
	TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "9 extension headers: dropped");
	ETH(&p, 0x86dd); V6(&p, 44); frame_frag6(&p, IPPROTO_TCP, 0, true); TCP(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "first fragment judged");
	ETH(&p, 0x86dd); V6(&p, 44); frame_frag6(&p, IPPROTO_TCP, 1280, false); frame_zeros(&p, 16);
	expect(&t, &p, PASS, 1, 0, "non-first fragment passes, counted allowed");
	ETH(&p, 0x86dd); V6(&p, 0); frame_ext6(&p, 44); frame_frag6(&p, IPPROTO_UDP, 8, true); frame_zeros(&p, 4);
	expect(&t, &p, PASS, 1, 0, "non-first fragment after hop-by-hop");
	ETH(&p, 0x86dd); V6(&p, 50); frame_zeros(&p, 24);
	expect(&t, &p, SHOT, 0, 1, "ESP (could carry any port) dropped");
	ETH(&p, 0x86dd); V6(&p, 59);
	expect(&t, &p, PASS, 0, 0, "no next header passes uncounted");
	ETH(&p, 0x86dd); V6(&p, 58); frame_zeros(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMPv6 passes uncounted");
	ETH(&p, 0x86dd); V6(&p, 0); frame_ext6(&p, 58); frame_zeros(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMPv6 behind hop-by-hop (MLD) passes uncounted");
	ETH(&p, 0x86dd); V6(&p, 60); frame_zeros(&p, 1);
	expect(&t, &p, SHOT, 0, 1, "extension header cut short");
	ETH(&p, 0x86dd); V6(&p, 0); frame_ext6(&p, IPPROTO_TCP);
	p.b[14 + 40 + 1] = 200; /* says 1608 bytes long */
	TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "extension header longer than the packet");
	ETH(&p, 0x86dd); V6(&p, IPPROTO_TCP); TCP(&p, ALLOWED_PORT, 12);
	expect(&t, &p, SHOT, 0, 1, "TCP header cut at 12 bytes");
	ETH(&p, 0x86dd); V6(&p, IPPROTO_TCP); p.b[14] = 0x40; TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "version 4 in an IPv6 frame");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

/* Tags of both kinds, VLAN ID 0 and others, 1 to 8 deep: the frame inside is judged; 9: dropped. */
START_TEST(vlan_tags_of_any_id_up_to_eight_deep_are_looked_through_and_more_are_dropped)
{
	struct fw_under_test t = setup_fw("dppktv", 4);
	uint16_t tpid[9], vid[9];
	struct frame p;

	for (int i = 0; i < 9; i++) {
		tpid[i] = i % 2 ? 0x8100 : 0x88a8;
		vid[i] = i % 3 == 1 ? 5 : 0;
	}
	for (int n = 1; n <= 8; n++) {
		frame_eth(&p, NULL, NULL, tpid, vid, n, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, BLOCKED_PORT, 20);
		expect_drop(&t, &p, PCMC_FW_REASON_PORT, "IPv4 TCP to a blocked port behind 1..8 tags");
		frame_eth(&p, NULL, NULL, tpid, vid, n, 0x0800); V4(&p, 5, IPPROTO_UDP, 0); UDP(&p, BLOCKED_PORT, 8);
		expect_drop(&t, &p, PCMC_FW_REASON_PORT, "IPv4 UDP to a blocked port behind 1..8 tags");
		frame_eth(&p, NULL, NULL, tpid, vid, n, 0x86dd); V6(&p, IPPROTO_TCP); TCP(&p, BLOCKED_PORT, 20);
		expect_drop(&t, &p, PCMC_FW_REASON_PORT, "IPv6 TCP to a blocked port behind 1..8 tags");
		frame_eth(&p, NULL, NULL, tpid, vid, n, 0x86dd); V6(&p, IPPROTO_UDP); UDP(&p, ALLOWED_PORT, 8);
		expect(&t, &p, PASS, 1, 0, "IPv6 UDP to an allowed port behind 1..8 tags");
		frame_eth(&p, NULL, NULL, tpid, vid, n, 0x0806); frame_zeros(&p, 28);
		expect(&t, &p, PASS, 0, 0, "ARP behind 1..8 tags");
	}
	frame_eth(&p, NULL, NULL, tpid, vid, 9, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20);
	expect_drop(&t, &p, PCMC_FW_REASON_TOO_DEEP, "9 tags, even to an allowed port");
	frame_eth(&p, NULL, NULL, NULL, NULL, 0, 0x8100); frame_zeros(&p, 1);
	expect_drop(&t, &p, PCMC_FW_REASON_MALFORMED, "tag cut short");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

/* Ethernet, IPv4 or IPv6, then proto to dport (its header cut to len). */
static void l4_frame(struct frame *p, bool v6, uint8_t proto, uint16_t dport, size_t len)
{
	ETH(p, v6 ? 0x86dd : 0x0800);
	if (v6)
		V6(p, proto);
	else
		V4(p, 5, proto, 0);
	frame_l4(p, proto, 40000, dport, 0, len);
}

START_TEST(udplite_sctp_and_dccp_are_judged_by_destination_port_like_tcp_and_udp)
{
	struct fw_under_test t = setup_fw("dppktp", 5);
	static const uint8_t protos[] = { IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP };
	static const size_t min_len[] = { 8, 12, 12 };
	struct frame p;

	for (size_t i = 0; i < sizeof(protos); i++) {
		for (int v6 = 0; v6 <= 1; v6++) {
			l4_frame(&p, v6, protos[i], BLOCKED_PORT, FRAME_L4_FULL);
			expect_drop(&t, &p, PCMC_FW_REASON_PORT, "to a blocked port");
			l4_frame(&p, v6, protos[i], 5555, FRAME_L4_FULL);
			expect_drop(&t, &p, PCMC_FW_REASON_PORT, "to a port in no list (default block)");
			l4_frame(&p, v6, protos[i], ALLOWED_PORT, FRAME_L4_FULL);
			expect(&t, &p, PASS, 1, 0, "to an allowed port");
			l4_frame(&p, v6, protos[i], ALLOWED_PORT, min_len[i] - 1);
			expect_drop(&t, &p, PCMC_FW_REASON_MALFORMED, "header one byte short");
			ETH(&p, v6 ? 0x86dd : 0x0800);
			v6 ? V6(&p, IPPROTO_FRAGMENT) : V4(&p, 5, protos[i], 0x2000);
			if (v6)
				frame_frag6(&p, protos[i], 0, true);
			frame_l4(&p, protos[i], 40000, BLOCKED_PORT, 0, FRAME_L4_FULL);
			expect_drop(&t, &p, PCMC_FW_REASON_PORT, "first fragment to a blocked port");
		}
	}
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

START_TEST(tunnels_encrypted_payloads_and_other_ethertypes_are_dropped_with_a_reason)
{
	struct fw_under_test t = setup_fw("dppkte", 6);
	static const uint8_t tunnels[] = { 4, 41, 47, 50, 97, 98, 108, 115, 137, 143 };
	static const uint16_t ethertypes[] = { 0x8847, 0x8848, 0x8864, 0x88e5, 0x892f, 0x1234, 0xffff };
	static const uint16_t harmless[] = { 0x0806, 0x8035, 0x88cc, 0x888e, 0x88f7, 0x8809, 0x05dc };
	struct frame p;

	for (size_t i = 0; i < sizeof(tunnels); i++) {
		ETH(&p, 0x0800); V4(&p, 5, tunnels[i], 0); frame_zeros(&p, 40);
		expect_drop(&t, &p, PCMC_FW_REASON_ENCAPSULATED, "IPv4 carrying a tunnel or ESP");
		ETH(&p, 0x86dd); V6(&p, 60); frame_ext6(&p, tunnels[i]); frame_zeros(&p, 40);
		expect_drop(&t, &p, PCMC_FW_REASON_ENCAPSULATED, "IPv6 carrying a tunnel or ESP");
	}
	ETH(&p, 0x0800); V4(&p, 5, 51, 0); frame_bytes(&p, (uint8_t[12]){ IPPROTO_TCP, 1 }, 12);
	TCP(&p, BLOCKED_PORT, 20);
	expect_drop(&t, &p, PCMC_FW_REASON_PORT, "IPv4 AH is walked: the TCP port behind it is judged");
	ETH(&p, 0x0800); V4(&p, 5, 51, 0); frame_bytes(&p, (uint8_t[12]){ IPPROTO_TCP, 1 }, 12);
	TCP(&p, ALLOWED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "IPv4 AH, allowed port behind it");
	for (size_t i = 0; i < sizeof(ethertypes) / sizeof(ethertypes[0]); i++) {
		ETH(&p, ethertypes[i]); frame_zeros(&p, 46);
		expect_drop(&t, &p, PCMC_FW_REASON_ENCAPSULATED, "MPLS, PPPoE, MACsec, HSR or unknown ethertype");
	}
	for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++) {
		ETH(&p, harmless[i]); frame_zeros(&p, 46);
		expect(&t, &p, PASS, 0, 0, "ARP, RARP, LLDP, EAPOL, PTP, slow protocols, 802.3 length");
	}
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_IGMP, 0); frame_zeros(&p, 8);
	expect(&t, &p, PASS, 0, 0, "IGMP has no port: passes uncounted");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

START_TEST(ip_length_fields_that_disagree_with_the_frame_are_dropped)
{
	struct fw_under_test t = setup_fw("dppktl", 7);
	struct frame p;

	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20); frame_finish(&p);
	p.b[p.ip_off + 3] += 1; /* one byte more than the frame has */
	expect_as_is(&t, &p, SHOT, 0, 1, PCMC_FW_REASON_MALFORMED, "IPv4 total length beyond the frame");
	ETH(&p, 0x0800); V4(&p, 6, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20); frame_finish(&p);
	p.b[p.ip_off + 2] = 0;
	p.b[p.ip_off + 3] = 20; /* shorter than its own 24-byte header */
	expect_as_is(&t, &p, SHOT, 0, 1, PCMC_FW_REASON_MALFORMED, "IPv4 total length under the header length");
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_UDP, 0); frame_finish(&p); UDP(&p, ALLOWED_PORT, 8);
	expect_as_is(&t, &p, SHOT, 0, 1, PCMC_FW_REASON_MALFORMED,
		     "UDP header in the padding after the IPv4 total length (the kernel trims it away)");
	ETH(&p, 0x86dd); V6(&p, IPPROTO_UDP); UDP(&p, ALLOWED_PORT, 8); frame_finish(&p);
	p.b[p.ip_off + 5] += 1;
	expect_as_is(&t, &p, SHOT, 0, 1, PCMC_FW_REASON_MALFORMED, "IPv6 payload length beyond the frame");
	ETH(&p, 0x86dd); V6(&p, IPPROTO_TCP); frame_finish(&p); TCP(&p, BLOCKED_PORT, 20);
	p.b[p.ip_off + 4] = p.b[p.ip_off + 5] = 0; /* 0: no jumbogram option either, judged to the frame's end */
	expect_as_is(&t, &p, SHOT, 0, 1, PCMC_FW_REASON_PORT, "IPv6 payload length 0");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

static int inject(struct fw_under_test *t, struct frame *p)
{
	frame_finish(p);
	return fx_inject(t->pod, p->b, p->len);
}

/* BPF_PROG_TEST_RUN refuses IP frames too short for their IP header (EINVAL): such frames go
 * through the real hook instead, sent into the pod's veth. */
START_TEST(truncated_ip_headers_on_the_wire_are_dropped_and_counted)
{
	struct fw_under_test t = setup_fw("dppktw", 3);
	struct pod_counters before, after;
	struct frame p;

	before = fx_counters(t.dp, testpod_uid(t.pod));
	ETH(&p, 0x0800); frame_zeros(&p, 10);
	ck_assert_int_eq(inject(&t, &p), 0);
	ETH(&p, 0x86dd); frame_zeros(&p, 30);
	ck_assert_int_eq(inject(&t, &p), 0);
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, BLOCKED_PORT, 20);
	ck_assert_int_eq(inject(&t, &p), 0);
	ETH(&p, 0x0800); V4(&p, 5, IPPROTO_TCP, 0); TCP(&p, ALLOWED_PORT, 20);
	ck_assert_int_eq(inject(&t, &p), 0);
	after = fx_counters(t.dp, testpod_uid(t.pod));
	ck_assert_uint_eq(after.packets_blocked - before.packets_blocked, 3);
	ck_assert_uint_eq(after.packets_allowed - before.packets_allowed, 1);
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

void add_packet_tests(TCase *tc)
{
	tcase_add_test(tc, truncated_ip_headers_on_the_wire_are_dropped_and_counted);
	tcase_add_test(tc, ipv4_options_fragments_and_truncated_headers);
	tcase_add_test(tc, ipv6_extension_headers_fragments_and_truncated_headers);
	tcase_add_test(tc, vlan_tags_of_any_id_up_to_eight_deep_are_looked_through_and_more_are_dropped);
	tcase_add_test(tc, udplite_sctp_and_dccp_are_judged_by_destination_port_like_tcp_and_udp);
	tcase_add_test(tc, tunnels_encrypted_payloads_and_other_ethertypes_are_dropped_with_a_reason);
	tcase_add_test(tc, ip_length_fields_that_disagree_with_the_frame_are_dropped);
}
