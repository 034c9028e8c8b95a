/* Crafted packets run through a pod's loaded firewall program (BPF_PROG_TEST_RUN): IPv4 options,
 * fragments, IPv6 extension headers, truncated and odd packets, each with its counter effect. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

#define PASS (-1) /* TC_ACT_UNSPEC */
#define SHOT 2    /* TC_ACT_SHOT */
#define ALLOWED_PORT TCP_PORT_A
#define BLOCKED_PORT TCP_PORT_B

struct packet {
	unsigned char b[512];
	size_t len;
	size_t ip_off;  /* where the IP header starts; 0: none */
	int ip_version; /* of the header built there */
	bool keep_len;  /* the IP length field was set on purpose: leave it */
};

/* IP total/payload length as the frame really is (set when the packet is run). */
static void fix_lengths(struct packet *p)
{
	size_t n;

	if (!p->ip_off || p->keep_len)
		return;
	n = p->len - p->ip_off;
	if (p->ip_version == 4) {
		p->b[p->ip_off + 2] = (unsigned char)(n >> 8);
		p->b[p->ip_off + 3] = (unsigned char)n;
	} else {
		p->b[p->ip_off + 4] = (unsigned char)((n - 40) >> 8);
		p->b[p->ip_off + 5] = (unsigned char)(n - 40);
	}
}

static void put(struct packet *p, const void *data, size_t len)
{
	memcpy(p->b + p->len, data, len);
	p->len += len;
}

static void eth(struct packet *p, uint16_t proto)
{
	unsigned char h[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, proto >> 8, proto & 0xff };

	p->len = 0;
	p->ip_off = 0;
	p->keep_len = false;
	put(p, h, sizeof(h));
}

/* IPv4 header with ihl 32-bit words (options are NOPs), protocol, fragment field. */
static void ipv4(struct packet *p, int ihl, uint8_t proto, uint16_t frag)
{
	unsigned char h[60] = { 0x40 | (ihl & 0xf), 0, 0, 0, 0, 1, frag >> 8, frag & 0xff, 64, proto, 0, 0,
				10, 244, 3, 1, 10, 244, 3, 2 };

	for (int i = 20; i < 60; i++)
		h[i] = 1; /* NOP */
	p->ip_off = p->len;
	p->ip_version = 4;
	put(p, h, ihl >= 5 ? (size_t)ihl * 4 : 20);
}

static void ipv6(struct packet *p, uint8_t next)
{
	unsigned char h[40] = { 0x60, 0, 0, 0, 0, 100, next, 64 };

	h[8] = 0xfd;
	h[24] = 0xfd;
	p->ip_off = p->len;
	p->ip_version = 6;
	put(p, h, sizeof(h));
}

/* An 8-byte extension header (hop-by-hop, routing, dest options: length 0; AH: length 0 means
 * 8 bytes too, (0 + 2) * 4) pointing at next. */
static void ext(struct packet *p, uint8_t next)
{
	unsigned char h[8] = { next, 0, 1, 0, 1, 0, 1, 0 };

	put(p, h, sizeof(h));
}

static void frag6(struct packet *p, uint8_t next, uint16_t offset_bytes, bool more)
{
	uint16_t f = (uint16_t)(offset_bytes & 0xfff8) | (more ? 1 : 0);
	unsigned char h[8] = { next, 0, f >> 8, f & 0xff, 0, 0, 0, 7 };

	put(p, h, sizeof(h));
}

static void tcp(struct packet *p, uint16_t dport, size_t len)
{
	unsigned char h[20] = { 0x9c, 0x40, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff };

	put(p, h, len);
}

static void udp(struct packet *p, uint16_t dport, size_t len)
{
	unsigned char h[8] = { 0x9c, 0x40, dport >> 8, dport & 0xff, 0, 8, 0, 0 };

	put(p, h, len);
}

static void pad(struct packet *p, size_t n)
{
	unsigned char zero[64] = { 0 };

	put(p, zero, n);
}

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

/* Runs the packet; checks the verdict and which counter moved by one (or none). */
static void expect(struct fw_under_test *t, struct packet *p, int verdict, int d_allowed,
		   int d_blocked, const char *what)
{
	struct __sk_buff ctx = { .ifindex = t->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->b, .data_size_in = (uint32_t)p->len, .repeat = 1,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	struct pod_counters before = fx_counters(t->dp, testpod_uid(t->pod)), after;
	int err;

	fix_lengths(p);
	err = bpf_prog_test_run_opts(t->prog_fd, &opts);

	ck_assert_msg(err == 0, "%s: test run: %s", what, strerror(-err));
	after = fx_counters(t->dp, testpod_uid(t->pod));
	ck_assert_msg((int)opts.retval == verdict, "%s: verdict %d, want %d", what, (int)opts.retval, verdict);
	ck_assert_msg(after.packets_allowed - before.packets_allowed == (uint64_t)d_allowed &&
		      after.packets_blocked - before.packets_blocked == (uint64_t)d_blocked,
		      "%s: allowed +%llu blocked +%llu, want +%d +%d", what,
		      (unsigned long long)(after.packets_allowed - before.packets_allowed),
		      (unsigned long long)(after.packets_blocked - before.packets_blocked), d_allowed, d_blocked);
}

START_TEST(ipv4_options_fragments_and_truncated_headers)
{
	struct fw_under_test t = setup_fw("dppkt4", 1);
	struct packet p;

	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0); tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "tcp allowed port");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0); tcp(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "tcp blocked port");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_UDP, 0); udp(&p, 4444, 8);
	expect(&t, &p, SHOT, 0, 1, "udp unlisted port, default block");
	for (int ihl = 6; ihl <= 15; ihl++) {
		eth(&p, 0x0800); ipv4(&p, ihl, IPPROTO_TCP, 0); tcp(&p, ALLOWED_PORT, 20);
		expect(&t, &p, PASS, 1, 0, "ip options, allowed port");
		eth(&p, 0x0800); ipv4(&p, ihl, IPPROTO_UDP, 0); udp(&p, BLOCKED_PORT, 8);
		expect(&t, &p, SHOT, 0, 1, "ip options, blocked port");
	}
	eth(&p, 0x0800); ipv4(&p, 4, IPPROTO_TCP, 0); tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "ihl 4");
	eth(&p, 0x0800); p.b[14] = 0x65; ipv4(&p, 5, IPPROTO_TCP, 0); p.b[14] = 0x65; tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "version 6 in an IPv4 frame");
	eth(&p, 0x0800); ipv4(&p, 15, IPPROTO_TCP, 0);
	expect(&t, &p, SHOT, 0, 1, "options but no TCP header");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0); tcp(&p, ALLOWED_PORT, 19);
	expect(&t, &p, SHOT, 0, 1, "TCP header cut at 19 bytes");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_UDP, 0); udp(&p, ALLOWED_PORT, 7);
	expect(&t, &p, SHOT, 0, 1, "UDP header cut at 7 bytes");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0x2000); tcp(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "first fragment (MF, offset 0) is judged");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0x0003); tcp(&p, BLOCKED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "non-first fragment passes, counted allowed");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_UDP, 0x2001); pad(&p, 2);
	expect(&t, &p, PASS, 1, 0, "non-first fragment shorter than a UDP header");
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_ICMP, 0); pad(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMP passes uncounted");
	eth(&p, 0x0806); pad(&p, 28);
	expect(&t, &p, PASS, 0, 0, "ARP passes uncounted");
	eth(&p, 0x88cc); pad(&p, 2);
	expect(&t, &p, PASS, 0, 0, "short LLDP frame passes uncounted");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

START_TEST(ipv6_extension_headers_fragments_and_truncated_headers)
{
	struct fw_under_test t = setup_fw("dppkt6", 2);
	static const uint8_t walked[] = { 0, 60, 43, 51, 60, 43, 60, 51 }; /* 8: HBH DST RT AH ... */
	struct packet p;

	eth(&p, 0x86dd); ipv6(&p, IPPROTO_TCP); tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, PASS, 1, 0, "tcp allowed port");
	eth(&p, 0x86dd); ipv6(&p, IPPROTO_UDP); udp(&p, BLOCKED_PORT, 8);
	expect(&t, &p, SHOT, 0, 1, "udp blocked port");
	for (int n = 1; n <= 8; n++) {
		eth(&p, 0x86dd);
		ipv6(&p, walked[0]);
		for (int i = 0; i < n; i++)
			ext(&p, i + 1 < n ? walked[i + 1] : IPPROTO_TCP);
		tcp(&p, BLOCKED_PORT, 20);
		expect(&t, &p, SHOT, 0, 1, "blocked port behind 1..8 extension headers");
		p.b[p.len - 20 + 3] = ALLOWED_PORT & 0xff;
		p.b[p.len - 20 + 2] = ALLOWED_PORT >> 8;
		expect(&t, &p, PASS, 1, 0, "allowed port behind 1..8 extension headers");
	}
	eth(&p, 0x86dd); ipv6(&p, 60);
	for (int i = 0; i < 9; i++)
		ext(&p, i < 8 ? 60 : IPPROTO_TCP);
	tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "9 extension headers: dropped");
	eth(&p, 0x86dd); ipv6(&p, 44); frag6(&p, IPPROTO_TCP, 0, true); tcp(&p, BLOCKED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "first fragment judged");
	eth(&p, 0x86dd); ipv6(&p, 44); frag6(&p, IPPROTO_TCP, 1280, false); pad(&p, 16);
	expect(&t, &p, PASS, 1, 0, "non-first fragment passes, counted allowed");
	eth(&p, 0x86dd); ipv6(&p, 0); ext(&p, 44); frag6(&p, IPPROTO_UDP, 8, true); pad(&p, 4);
	expect(&t, &p, PASS, 1, 0, "non-first fragment after hop-by-hop");
	eth(&p, 0x86dd); ipv6(&p, 50); pad(&p, 24);
	expect(&t, &p, SHOT, 0, 1, "ESP (could carry any port) dropped");
	eth(&p, 0x86dd); ipv6(&p, 59);
	expect(&t, &p, PASS, 0, 0, "no next header passes uncounted");
	eth(&p, 0x86dd); ipv6(&p, 58); pad(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMPv6 passes uncounted");
	eth(&p, 0x86dd); ipv6(&p, 0); ext(&p, 58); pad(&p, 8);
	expect(&t, &p, PASS, 0, 0, "ICMPv6 behind hop-by-hop (MLD) passes uncounted");
	eth(&p, 0x86dd); ipv6(&p, 60); pad(&p, 1);
	expect(&t, &p, SHOT, 0, 1, "extension header cut short");
	eth(&p, 0x86dd); ipv6(&p, 0); ext(&p, IPPROTO_TCP);
	p.b[14 + 40 + 1] = 200; /* says 1608 bytes long */
	tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "extension header longer than the packet");
	eth(&p, 0x86dd); ipv6(&p, IPPROTO_TCP); tcp(&p, ALLOWED_PORT, 12);
	expect(&t, &p, SHOT, 0, 1, "TCP header cut at 12 bytes");
	eth(&p, 0x86dd); ipv6(&p, IPPROTO_TCP); p.b[14] = 0x40; tcp(&p, ALLOWED_PORT, 20);
	expect(&t, &p, SHOT, 0, 1, "version 4 in an IPv6 frame");
	close(t.prog_fd);
	dataplane_close(t.dp);
}
END_TEST

static int inject(struct fw_under_test *t, struct packet *p)
{
	fix_lengths(p);
	return fx_inject(t->pod, p->b, p->len);
}

/* BPF_PROG_TEST_RUN refuses IP frames too short for their IP header (EINVAL): such frames go
 * through the real hook instead, sent into the pod's veth. */
START_TEST(truncated_ip_headers_on_the_wire_are_dropped_and_counted)
{
	struct fw_under_test t = setup_fw("dppktw", 3);
	struct pod_counters before, after;
	struct packet p;

	before = fx_counters(t.dp, testpod_uid(t.pod));
	eth(&p, 0x0800); pad(&p, 10);
	ck_assert_int_eq(inject(&t, &p), 0);
	eth(&p, 0x86dd); pad(&p, 30);
	ck_assert_int_eq(inject(&t, &p), 0);
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0); tcp(&p, BLOCKED_PORT, 20);
	ck_assert_int_eq(inject(&t, &p), 0);
	eth(&p, 0x0800); ipv4(&p, 5, IPPROTO_TCP, 0); tcp(&p, ALLOWED_PORT, 20);
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
}
