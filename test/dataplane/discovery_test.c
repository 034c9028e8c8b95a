/* Finding a pod's interface: from the CNI result record of its UID, checked against the kernel.
 * No record: failed until one appears (inotify, refresh). Records that do not check out (another
 * sandbox, an address the peer lacks, a wrong name, no veth, no netns, an interface another pod
 * has): failed with the reason, no filter. Stale records ignored. A new sandbox: the filter follows. */
#include <bpf/bpf.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

#define DROP_WAIT_MS 300

static const uint16_t block_b[] = { TCP_PORT_B };
static const struct pod_policy b_shut = { .firewall_enabled = true, .blocked = block_b, .n_blocked = 1 };

/* A CNI cache dir of the test's own ("<dir>/results" made): the dataplane reads only this one. */
static char *cache_dir(void)
{
	static char dir[64];
	char results[96];

	snprintf(dir, sizeof(dir), "/tmp/pcmc-dp-cni-%d", (int)getpid());
	snprintf(results, sizeof(results), "%s/results", dir);
	ck_assert_int_eq(fx_sh("rm -rf %s && mkdir -p -m 0700 %s", dir, results), 0);
	return dir;
}

static void drop_cache_dir(const char *dir)
{
	fx_sh("rm -rf %s", dir);
}

static struct dataplane *open_on(const char *dir)
{
	struct dataplane_opts opts = { .pin_root = fx_pin_root(), .cni_cache_dir = dir };
	struct dataplane *dp = NULL;

	ck_assert_int_eq(dataplane_open(&opts, &dp), 0);
	return dp;
}

/* The record the test pod left (like the runtime would), parsed. */
static cJSON *record_of(struct testpod *pod)
{
	char path[512], text[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/results/pcmc-testpod-%s-eth0", testpod_cni_dir(pod), testpod_sandbox_id(pod));
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "record %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return cJSON_Parse(text);
}

/* Writes rec (taken) as <dir>/results/<file>. */
static void put_record(const char *dir, const char *file, cJSON *rec)
{
	char path[512], tmp[520];
	char *text = cJSON_PrintUnformatted(rec);
	FILE *f;

	snprintf(path, sizeof(path), "%s/results/%s", dir, file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(text);
	cJSON_Delete(rec);
}

static cJSON *result_item(cJSON *rec, const char *list, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "result"), list), i);
}

static void set_str(cJSON *o, const char *key, const char *value)
{
	cJSON_ReplaceItemInObject(o, key, cJSON_CreateString(value));
}

static void set_uid(cJSON *rec, const char *uid)
{
	cJSON *pair;

	cJSON_ArrayForEach(pair, cJSON_GetObjectItem(rec, "cniArgs"))
		if (strcmp(cJSON_GetArrayItem(pair, 0)->valuestring, "K8S_POD_UID") == 0)
			cJSON_ReplaceItemInArray(pair, 1, cJSON_CreateString(uid));
}

/* The pod's own record, as the runtime wrote it, into dir. */
static void put_own_record(const char *dir, struct testpod *pod)
{
	char file[128];

	snprintf(file, sizeof(file), "pcmc-testpod-%s-eth0", testpod_sandbox_id(pod));
	put_record(dir, file, record_of(pod));
}

/* Our filter on the pod's veth and its blocked port refused; then closes dp and drops dir. */
static void expect_enforced(struct dataplane *dp, struct testpod *pod, const char *dir)
{
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	dataplane_close(dp);
	drop_cache_dir(dir);
}

static void expect_failed(struct dataplane *dp, struct testpod *pod, const char *uid, const char *why)
{
	struct pod_ref ref = { .uid = uid, .namespace = "test", .name = "forged" };
	int err = dataplane_apply_pod(dp, &ref, &b_shut);
	const char *text = dataplane_pod_error(dp, uid);

	ck_assert_int_ne(err, 0);
	ck_assert_msg(text && strstr(text, why), "error \"%s\" does not say \"%s\"", text ? text : "(none)", why);
	ck_assert_uint_eq(fx_filter_prog_id(pod, true), 0);
	ck_assert_int_eq(dataplane_remove_pod(dp, uid), 0);
}

START_TEST(a_pod_without_a_cni_record_fails_until_its_record_appears_then_the_refresh_attaches)
{
	struct testpod *pod = fx_pod("dpnorec", 8, 1, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	char *dir = cache_dir();
	struct dataplane *dp = open_on(dir);
	struct pod_ref ref = { .uid = testpod_uid(pod), .namespace = "test", .name = "dpnorec" };
	struct pollfd pfd = { .fd = dataplane_event_fd(dp), .events = POLLIN };

	ck_assert_int_eq(dataplane_apply_pod(dp, &ref, &b_shut), -ESRCH);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, ref.uid), "no CNI result"));
	ck_assert_uint_eq(fx_filter_prog_id(pod, true), 0);
	ck_assert_int_eq(dataplane_refresh(dp) >= 0, 1);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, ref.uid), "no CNI result"));

	put_own_record(dir, pod);
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1); /* the runtime's write woke the agent */
	ck_assert_int_eq(dataplane_refresh(dp) >= 0, 1);
	ck_assert_str_eq(dataplane_pod_error(dp, ref.uid), "");
	expect_enforced(dp, pod, dir);
}
END_TEST

START_TEST(records_that_do_not_check_out_against_the_kernel_fail_the_pod_with_the_reason)
{
	struct testpod *pod = fx_pod("dpforge", 8, 2, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct testpod *other = fx_pod("dpother", 8, 3, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	char *dir = cache_dir(), file[128];
	struct dataplane *dp = open_on(dir);
	const char *uid = testpod_uid(pod);
	cJSON *rec;

	snprintf(file, sizeof(file), "pcmc-testpod-%s-eth0", testpod_sandbox_id(pod));
	rec = record_of(pod);
	set_str(result_item(rec, "interfaces", 1), "sandbox", testpod_netns_path(other));
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "is not in the sandbox");

	rec = record_of(pod);
	set_str(result_item(rec, "ips", 0), "address", "10.244.8.99/32");
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "does not hold address");

	rec = record_of(pod);
	set_str(rec, "ifName", "eth9");
	set_str(result_item(rec, "interfaces", 1), "name", "eth9");
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "is named eth0");

	ck_assert_int_eq(fx_sh("ip link add pcmcdpbr0 type bridge"), 0);
	rec = record_of(pod);
	set_str(result_item(rec, "interfaces", 0), "name", "pcmcdpbr0");
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "names no veth");
	fx_sh("ip link del pcmcdpbr0");

	rec = record_of(pod);
	set_str(result_item(rec, "interfaces", 1), "sandbox", "/etc/hostname");
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "not a network namespace");

	rec = record_of(pod);
	set_str(result_item(rec, "interfaces", 1), "sandbox", "/run/netns/pcmc-no-such-netns");
	put_record(dir, file, rec);
	expect_failed(dp, pod, uid, "sandbox netns /run/netns/pcmc-no-such-netns");

	/* A record that names another pod's interface (right sandbox, right addresses) for this pod:
	 * the interface stays the other pod's. */
	put_own_record(dir, pod);
	fx_apply(dp, pod, &b_shut);
	rec = record_of(pod);
	set_uid(rec, testpod_uid(other));
	snprintf(file, sizeof(file), "pcmc-testpod-%s-eth0", testpod_sandbox_id(other));
	put_record(dir, file, rec);
	ck_assert_int_eq(dataplane_apply_pod(dp, &(struct pod_ref){ .uid = testpod_uid(other) }, &b_shut), -EBUSY);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, testpod_uid(other)), "already the interface of pod test/dpforge"));
	ck_assert_uint_eq(fx_filter_prog_id(other, true), 0);
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	dataplane_close(dp);
	drop_cache_dir(dir);
}
END_TEST

START_TEST(stale_records_loopback_records_and_files_that_are_no_records_are_ignored)
{
	struct testpod *pod = fx_pod("dpstale", 8, 4, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	char *dir = cache_dir();
	struct dataplane *dp = open_on(dir);
	cJSON *rec = record_of(pod);

	set_str(result_item(rec, "interfaces", 0), "name", "pcmcdead0");
	set_str(result_item(rec, "interfaces", 1), "sandbox", "/run/netns/pcmc-dead-sandbox");
	put_record(dir, "pcmc-testpod-0000-eth0", rec);
	/* containerd's loopback record of the same sandbox: the pod's lo, nothing on the host. */
	rec = cJSON_Parse("{\"kind\":\"cniCacheV1\",\"containerId\":\"x\",\"ifName\":\"lo\","
			  "\"networkName\":\"cni-loopback\",\"cniArgs\":[[\"K8S_POD_UID\",\"\"]],"
			  "\"result\":{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"lo\","
			  "\"mac\":\"00:00:00:00:00:00\",\"sandbox\":\"\"}],\"ips\":[{\"interface\":0,"
			  "\"address\":\"127.0.0.1/8\"},{\"interface\":0,\"address\":\"::1/128\"}]}}");
	set_uid(rec, testpod_uid(pod));
	set_str(result_item(rec, "interfaces", 0), "sandbox", testpod_netns_path(pod));
	put_record(dir, "cni-loopback-x-lo", rec);
	ck_assert_int_eq(fx_sh("echo 'not json' > %s/results/garbage && "
			       "echo '{\"cniVersion\":\"0.4.0\",\"ips\":[]}' > %s/results/legacy-result", dir, dir), 0);
	put_own_record(dir, pod);
	fx_apply(dp, pod, &b_shut);
	expect_enforced(dp, pod, dir);
}
END_TEST

START_TEST(a_new_sandbox_of_the_pod_gets_the_filter_on_its_new_veth)
{
	struct testpod *pod = fx_pod("dpresb", 8, 5, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	char uid[40], v4[32], v6[64];
	struct testpod_spec spec = {
		.name = "dpresb", .uid = uid, .driver = TESTPOD_CGROUPFS, .qos = TESTPOD_BURSTABLE, .ipv4 = v4,
		.ipv6 = v6, .tcp_ports = { TCP_PORT_A, TCP_PORT_B }, .n_tcp = 2, .n_containers = 1, .serve_mask = 1,
	};
	struct dataplane *dp = fx_open(0);
	struct testpod *again = NULL;
	unsigned old_ifindex;

	snprintf(uid, sizeof(uid), "%s", testpod_uid(pod));
	snprintf(v4, sizeof(v4), "%s", testpod_ipv4(pod));
	snprintf(v6, sizeof(v6), "%s", testpod_ipv6(pod));
	fx_apply(dp, pod, &b_shut);
	old_ifindex = if_nametoindex(testpod_host_veth(pod));
	fx_pod_destroy(pod); /* the sandbox died: veth, netns and record gone */
	ck_assert_int_eq(testpod_create(&spec, &again), 0);
	ck_assert_uint_ne(if_nametoindex(testpod_host_veth(again)), old_ifindex);
	ck_assert_uint_eq(fx_filter_prog_id(again, true), 0);
	ck_assert_int_eq(dataplane_refresh(dp) >= 0, 1);
	ck_assert_str_eq(dataplane_pod_error(dp, uid), "");
	ck_assert_uint_ne(fx_filter_prog_id(again, true), 0);
	ck_assert_int_eq(testclient_tcp_connect(v4, TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(v4, TCP_PORT_A, 2000), 0);
	testpod_destroy(again);
	dataplane_close(dp);
}
END_TEST

void add_discovery_tests(TCase *tc)
{
	tcase_add_test(tc, a_pod_without_a_cni_record_fails_until_its_record_appears_then_the_refresh_attaches);
	tcase_add_test(tc, records_that_do_not_check_out_against_the_kernel_fail_the_pod_with_the_reason);
	tcase_add_test(tc, stale_records_loopback_records_and_files_that_are_no_records_are_ignored);
	tcase_add_test(tc, a_new_sandbox_of_the_pod_gets_the_filter_on_its_new_veth);
}
