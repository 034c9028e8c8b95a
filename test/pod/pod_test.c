/* Self-test of the test pod helper against the real kernel: cgroup layout for both drivers and
 * all QoS classes, host->pod TCP/UDP over IPv4 and IPv6, restart, cleanup, and the CLI. */
#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/pod/testclient.h"
#include "test/pod/testpod.h"

#ifndef TESTPOD_CLI
#define TESTPOD_CLI "build/pcmc-testpod"
#endif

#define TCP_PORT 8080
#define UDP_PORT 5353

/* ---- fixtures ---- */

/* Every pod this suite makes, so main() can purge what a killed earlier run left behind. */
static const char *const pod_names[] = {
	"tp-layout-0", "tp-layout-1", "tp-layout-2", "tp-layout-3", "tp-layout-4", "tp-layout-5",
	"tp-traffic", "tp-guard", "tp-spawn", "tp-restart", "tp-destroy", "tp-dup", "tp-share-a",
	"tp-share-b", "tp-root", "tp-p2p-a", "tp-p2p-b", "tp-janitor", "tp-janitor2", "tp-purge", "tp-cli", "tp-cli-nostate",
	"tp-cni",
};

/* The pod UID is derived from the name (FNV-1a), so a purge can find the cgroups. */
static void uid_for(const char *name, char *buf)
{
	unsigned long long h = 14695981039346656037ULL;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(buf, 37, "7e570000-0000-4000-8000-%012llx", h & 0xffffffffffffULL);
}

static struct testpod *make_pod(const char *name, int last_octet, enum testpod_driver driver,
				enum testpod_qos qos, int n_containers, char *uid_out)
{
	char uid[40], v4[32], v6[64];
	struct testpod_spec spec = {
		.name = name, .uid = uid, .driver = driver, .qos = qos,
		.ipv4 = v4, .ipv6 = v6, .tcp_ports = { TCP_PORT }, .n_tcp = 1,
		.udp_ports = { UDP_PORT }, .n_udp = 1, .n_containers = n_containers,
		.serve_mask = 1, /* container 0 serves: deterministic */
	};
	struct testpod *pod = NULL;
	int err;

	uid_for(name, uid);
	if (uid_out)
		strcpy(uid_out, uid);
	snprintf(v4, sizeof(v4), "10.244.250.%d", last_octet);
	snprintf(v6, sizeof(v6), "fd00:10:244:fa::%x", last_octet);
	err = testpod_create(&spec, &pod);
	ck_assert_msg(err == 0, "testpod_create(%s): %s", name, strerror(-err));
	return pod;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static const char *json_str(const cJSON *o, const char *key);

/* A record of our network in dir naming this host veth (what the agent would read). */
static bool cni_record_names(const char *dir, const char *veth)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -qs '{\"name\":\"%s\",' %s/results/pcmc-testpod-* 2>/dev/null", veth, dir);
	return system(cmd) == 0;
}

static const cJSON *cni_arg(const cJSON *record, const char *key)
{
	const cJSON *pair;

	cJSON_ArrayForEach(pair, cJSON_GetObjectItemCaseSensitive(record, "cniArgs"))
		if (strcmp(cJSON_GetArrayItem(pair, 0)->valuestring, key) == 0)
			return cJSON_GetArrayItem(pair, 1);
	return NULL;
}


/* The "0::/..." line of /proc/<pid>/cgroup as an absolute path under root. */
static bool cgroup_of(pid_t pid, const char *root, char *buf, size_t len)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s%s", root, line + 3);
			found = true;
		}
	}
	fclose(f);
	return found;
}

struct where {
	const char *root, *cgroup, *netns;
};

/* Runs inside the pod: exit 0 when /proc/self says we are in the container cgroup and netns. */
static int check_inside(void *arg)
{
	const struct where *w = arg;
	struct stat mine, pods;
	char cg[4096];

	if (!cgroup_of(getpid(), w->root, cg, sizeof(cg)) || strcmp(cg, w->cgroup) != 0)
		return 1;
	if (stat("/proc/self/ns/net", &mine) < 0 || stat(w->netns, &pods) < 0 || mine.st_ino != pods.st_ino)
		return 2;
	return 0;
}

static bool hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return false;
	return true;
}

/* ---- cgroup layout ---- */

static const struct {
	enum testpod_driver driver;
	enum testpod_qos qos;
	const char *pod_fmt;       /* %s = uid (systemd: with _), under the root */
	const char *container_fmt; /* %s = container id */
} layouts[] = {
	{ TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, "/kubepods/pod%s", "/%s" },
	{ TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, "/kubepods/burstable/pod%s", "/%s" },
	{ TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, "/kubepods/besteffort/pod%s", "/%s" },
	{ TESTPOD_SYSTEMD, TESTPOD_GUARANTEED, "/kubepods.slice/kubepods-pod%s.slice", "/cri-containerd-%s.scope" },
	{ TESTPOD_SYSTEMD, TESTPOD_BURSTABLE,
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice", "/cri-containerd-%s.scope" },
	{ TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT,
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice", "/cri-containerd-%s.scope" },
};

static void check_layout(int i)
{
	char uid[40], want_pod[4096], want_c[8192], name[32];
	struct testpod *pod;

	snprintf(name, sizeof(name), "tp-layout-%d", i);
	pod = make_pod(name, 10 + i, layouts[i].driver, layouts[i].qos, 2, uid);
	if (layouts[i].driver == TESTPOD_SYSTEMD)
		for (char *p = uid; *p; p++)
			if (*p == '-')
				*p = '_';
	snprintf(want_pod, sizeof(want_pod), "%s", testpod_cgroup_root(pod));
	snprintf(want_pod + strlen(want_pod), sizeof(want_pod) - strlen(want_pod), layouts[i].pod_fmt, uid);
	ck_assert_str_eq(testpod_cgroup_dir(pod), want_pod);
	ck_assert(path_exists(want_pod));
	for (int c = 0; c < 2; c++) {
		struct where w = { testpod_cgroup_root(pod), testpod_container_cgroup_dir(pod, c),
				   testpod_netns_path(pod) };
		char tail[128];

		ck_assert(hex64(testpod_container_id(pod, c)));
		snprintf(tail, sizeof(tail), layouts[i].container_fmt, testpod_container_id(pod, c));
		snprintf(want_c, sizeof(want_c), "%s%s", want_pod, tail);
		ck_assert_str_eq(testpod_container_cgroup_dir(pod, c), want_c);
		ck_assert(path_exists(want_c));
		ck_assert_int_eq(testpod_wait(testpod_spawn(pod, c, check_inside, &w), 10000), 0);
	}
	ck_assert_str_ne(testpod_container_id(pod, 0), testpod_container_id(pod, 1));
	ck_assert_uint_ne(testpod_cgroup_id(testpod_container_cgroup_dir(pod, 0)), 0);
	testpod_destroy(pod);
}

/* One named test per driver x QoS, so the TAP line says which layout broke. */
#define LAYOUT_TEST(name, i) \
	START_TEST(name) { check_layout(i); } END_TEST
LAYOUT_TEST(cgroupfs_guaranteed_cgroups_match_kubelet_and_spawned_process_is_inside, 0)
LAYOUT_TEST(cgroupfs_burstable_cgroups_match_kubelet_and_spawned_process_is_inside, 1)
LAYOUT_TEST(cgroupfs_besteffort_cgroups_match_kubelet_and_spawned_process_is_inside, 2)
LAYOUT_TEST(systemd_guaranteed_cgroups_match_kubelet_and_spawned_process_is_inside, 3)
LAYOUT_TEST(systemd_burstable_cgroups_match_kubelet_and_spawned_process_is_inside, 4)
LAYOUT_TEST(systemd_besteffort_cgroups_match_kubelet_and_spawned_process_is_inside, 5)

/* ---- traffic ---- */

START_TEST(tcp_and_udp_over_ipv4_and_ipv6_from_the_host_answer)
{
	struct testpod *pod = make_pod("tp-traffic", 20, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1, NULL);
	char greeting[64];

	/* Short timeouts on the first connections: they must work the moment create returns
	 * (no DAD on the host veth's link-local, no proxy ARP delay). */
	ck_assert_int_eq(testclient_tcp_connect("fd00:10:244:fa::14", TCP_PORT, 500), 0);
	ck_assert_int_eq(testclient_tcp_greeting("10.244.250.20", TCP_PORT, 500, greeting, sizeof(greeting)), 0);
	ck_assert_str_eq(greeting, "pcmc tp-traffic");
	ck_assert_int_eq(testclient_udp_echo("10.244.250.20", UDP_PORT, 3000), 0);
	ck_assert_int_eq(testclient_udp_echo("fd00:10:244:fa::14", UDP_PORT, 3000), 0);
	ck_assert_int_eq(testclient_udp_send("fd00:10:244:fa::14", UDP_PORT, 50), 50);
	/* nothing listens there: the pod's kernel refuses, quickly */
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.20", TCP_PORT + 1, 3000), -ECONNREFUSED);
	ck_assert_int_eq(testclient_tcp_connect("fd00:10:244:fa::14", TCP_PORT + 1, 3000), -ECONNREFUSED);
	ck_assert_int_eq(testclient_udp_echo("10.244.250.20", UDP_PORT + 1, 3000), -ECONNREFUSED);
	testpod_destroy(pod);
}
END_TEST

START_TEST(address_without_pod_is_unreachable_not_routed_off_the_machine)
{
	/* the guard routes installed by the first pod answer for every pod address with no pod */
	testpod_destroy(make_pod("tp-guard", 21, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1, NULL));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.21", TCP_PORT, 2000), -EHOSTUNREACH);
	ck_assert_int_eq(testclient_tcp_connect("fd00:10:244:fa::15", TCP_PORT, 2000), -EHOSTUNREACH);
}
END_TEST

struct probe {
	const char *ip;
	bool answers;
};

static bool unanswered(int err)
{
	/* The host's ICMP errors are rate limited (1/s per peer), so a second probe may just
	 * time out instead of getting "unreachable". */
	return err == -EHOSTUNREACH || err == -ENETUNREACH || err == -ETIMEDOUT;
}

/* Runs inside a pod: exit 0 when TCP and UDP to ip end as expected. */
static int probe_from_pod(void *arg)
{
	const struct probe *p = arg;
	int tcp = testclient_tcp_connect(p->ip, TCP_PORT, 700);
	int udp = testclient_udp_echo(p->ip, UDP_PORT, 700);

	if (p->answers ? tcp != 0 : !unanswered(tcp))
		return 1;
	if (p->answers ? udp != 0 : !unanswered(udp))
		return 2;
	return 0;
}

START_TEST(pod_to_pod_tcp_and_udp_over_ipv4_and_ipv6_answer)
{
	struct testpod *a = make_pod("tp-p2p-a", 34, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1, NULL);
	struct testpod *b = make_pod("tp-p2p-b", 35, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1, NULL);
	const struct probe probes[] = {
		{ "10.244.250.35", true },
		{ "fd00:10:244:fa::23", true },
		/* no pod there: the host's guard route ends it, nothing is forwarded off the machine */
		{ "10.244.250.36", false },
		{ "fd00:10:244:fa::24", false },
	};

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
	{
		int rc = testpod_wait(testpod_spawn(a, 0, probe_from_pod, (void *)&probes[i]), 15000);

		ck_assert_msg(rc == 0, "from pod a to %s: %s failed", probes[i].ip, rc == 1 ? "TCP" : "UDP");
	}
	testpod_destroy(a);
	testpod_destroy(b);
}
END_TEST

START_TEST(explicit_cgroup_root_is_used_and_a_non_cgroup2_root_is_refused)
{
	char root[4096], want[4096], uid[40];
	struct testpod_spec spec = { .name = "tp-root", .uid = uid, .cgroup_root = root,
				     .ipv6 = "fd00:10:244:fa::25", .tcp_ports = { TCP_PORT }, .n_tcp = 1,
				     .n_containers = 1 };
	struct testpod *pod = NULL;

	ck_assert_int_eq(testpod_detect_cgroup_root(root, sizeof(root)), 0);
	strcat(root, "/pcmc-tp-root");
	ck_assert(mkdir(root, 0755) == 0 || errno == EEXIST);
	uid_for("tp-root", uid);
	ck_assert_int_eq(testpod_create(&spec, &pod), 0);
	snprintf(want, sizeof(want), "%s/kubepods/pod%s", root, uid);
	ck_assert_str_eq(testpod_cgroup_dir(pod), want);
	ck_assert_ptr_null(testpod_ipv4(pod));
	ck_assert_int_eq(testclient_tcp_connect("fd00:10:244:fa::25", TCP_PORT, 500), 0); /* IPv6-only pod */
	ck_assert_int_eq(testpod_destroy_checked(pod), 0);
	ck_assert_int_eq(rmdir(root), 0); /* kubepods under it was ours and is gone too */

	spec.cgroup_root = "/tmp";
	ck_assert_int_eq(testpod_create(&spec, &pod), -EINVAL);
	ck_assert(!path_exists("/run/netns/pcmc-tp-root"));
}
END_TEST

/* ---- processes ---- */

static int sleep_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static int exit_seven(void *arg)
{
	(void)arg;
	return 7;
}

START_TEST(spawn_wait_and_exec_report_exit_status_and_timeout)
{
	struct testpod *pod = make_pod("tp-spawn", 22, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1, NULL);
	char *const sh[] = { "sh", "-c", "exit 5", NULL };
	char *const missing[] = { "/nonexistent/pcmc", NULL };

	ck_assert_int_eq(testpod_wait(testpod_spawn(pod, 0, exit_seven, NULL), 5000), 7);
	ck_assert_int_eq(testpod_wait(testpod_spawn(pod, 0, sleep_forever, NULL), 200), -ETIMEDOUT);
	ck_assert_int_eq(testpod_exec(pod, 0, sh), 5);
	ck_assert_int_eq(testpod_exec(pod, 0, missing), 127);
	ck_assert_int_eq(testpod_spawn(pod, 1, exit_seven, NULL), -EINVAL);
	testpod_destroy(pod);
}
END_TEST

START_TEST(restart_container_gives_new_cgroup_and_server_answers_again)
{
	struct testpod *pod = make_pod("tp-restart", 23, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 2, NULL);
	char old_id[65], old_cg[4096], cg[4096];
	pid_t old_pid = testpod_container_server_pid(pod, 0);

	snprintf(old_id, sizeof(old_id), "%s", testpod_container_id(pod, 0));
	snprintf(old_cg, sizeof(old_cg), "%s", testpod_container_cgroup_dir(pod, 0));
	ck_assert_int_eq(testpod_restart_container(pod, 0), 0);
	ck_assert(hex64(testpod_container_id(pod, 0)));
	ck_assert_str_ne(testpod_container_id(pod, 0), old_id);
	ck_assert_str_ne(testpod_container_cgroup_dir(pod, 0), old_cg);
	ck_assert(!path_exists(old_cg));
	ck_assert(path_exists(testpod_container_cgroup_dir(pod, 0)));
	ck_assert(!testpod_pid_alive(old_pid));
	ck_assert(cgroup_of(testpod_container_server_pid(pod, 0), testpod_cgroup_root(pod), cg, sizeof(cg)));
	ck_assert_str_eq(cg, testpod_container_cgroup_dir(pod, 0));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.23", TCP_PORT, 3000), 0);
	ck_assert_int_eq(testclient_udp_echo("fd00:10:244:fa::17", UDP_PORT, 3000), 0);
	testpod_destroy(pod);
}
END_TEST

/* ---- cleanup ---- */

static bool route_exists(const char *family, const char *prefix)
{
	char cmd[256], out[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip %s route show %s", family, prefix);
	p = popen(cmd, "re");
	ck_assert_ptr_nonnull(p);
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return out[0] != '\0';
}

START_TEST(destroy_leaves_no_netns_veth_cgroup_or_process_behind)
{
	struct testpod *pod = make_pod("tp-destroy", 24, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 3, NULL);
	char netns[256], veth[IFNAMSIZ], pod_cg[4096], sandbox_cg[4096], cg[3][4096];
	pid_t pids[5], sleeper;

	snprintf(netns, sizeof(netns), "%s", testpod_netns_path(pod));
	snprintf(veth, sizeof(veth), "%s", testpod_host_veth(pod));
	snprintf(pod_cg, sizeof(pod_cg), "%s", testpod_cgroup_dir(pod));
	snprintf(sandbox_cg, sizeof(sandbox_cg), "%s", testpod_sandbox_cgroup_dir(pod));
	for (int i = 0; i < 3; i++) {
		snprintf(cg[i], sizeof(cg[i]), "%s", testpod_container_cgroup_dir(pod, i));
		pids[i] = testpod_container_server_pid(pod, i);
	}
	pids[3] = testpod_pause_pid(pod);
	pids[4] = sleeper = testpod_spawn(pod, 2, sleep_forever, NULL); /* a process the pod did not start */
	ck_assert_int_gt(sleeper, 0);
	ck_assert(path_exists(netns));
	ck_assert_uint_ne(if_nametoindex(veth), 0);
	for (int i = 0; i < 5; i++)
		ck_assert(testpod_pid_alive(pids[i]));

	ck_assert_int_eq(testpod_destroy_checked(pod), 0);

	ck_assert(!path_exists(netns));
	ck_assert_uint_eq(if_nametoindex(veth), 0);
	ck_assert(!path_exists(pod_cg));
	ck_assert(!path_exists(sandbox_cg));
	for (int i = 0; i < 3; i++)
		ck_assert(!path_exists(cg[i]));
	for (int i = 0; i < 5; i++) /* our own children are reaped; the sleeper is the caller's */
		ck_assert_msg(i == 4 ? !testpod_pid_alive(pids[i]) : kill(pids[i], 0) < 0,
			      "pid %d still there", (int)pids[i]);
	ck_assert_int_eq(testpod_wait(sleeper, 1000), 128 + SIGKILL);
	ck_assert(!route_exists("-4", "10.244.250.24/32"));
	ck_assert(!route_exists("-6", "fd00:10:244:fa::18/128"));
	testpod_destroy(NULL);
}
END_TEST

START_TEST(failed_create_leaves_nothing_and_does_not_touch_the_existing_pod)
{
	struct testpod *pod = make_pod("tp-dup", 25, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1, NULL);
	struct testpod_spec dup = { .name = "tp-dup", .uid = "0b1c2d3e-0000-4000-8000-000000000001",
				    .ipv4 = "10.244.250.26", .n_containers = 1 };
	struct testpod_spec bad = dup;
	struct testpod *other = (struct testpod *)&dup;
	char cg[4096];

	ck_assert_int_eq(testpod_create(&dup, &other), -EEXIST); /* the netns name is taken */
	ck_assert_ptr_null(other);
	snprintf(cg, sizeof(cg), "%s/kubepods/burstable/pod%s", testpod_cgroup_root(pod), dup.uid);
	ck_assert(!path_exists(cg));
	bad.name = "tp-bad";
	bad.ipv4 = "10.244.250.300";
	ck_assert_int_eq(testpod_create(&bad, &other), -EINVAL);
	bad.ipv4 = NULL;
	bad.n_containers = 0;
	ck_assert_int_eq(testpod_create(&bad, &other), -EINVAL);
	ck_assert(!path_exists("/run/netns/pcmc-tp-bad"));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.25", TCP_PORT, 3000), 0);
	testpod_destroy(pod);
}
END_TEST

START_TEST(shared_kubepods_parents_outlive_the_first_pod)
{
	struct testpod *a = make_pod("tp-share-a", 27, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1, NULL);
	struct testpod *b = make_pod("tp-share-b", 28, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1, NULL);
	char b_cg[4096];

	snprintf(b_cg, sizeof(b_cg), "%s", testpod_container_cgroup_dir(b, 0));
	testpod_destroy(a);
	ck_assert(path_exists(b_cg));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.28", TCP_PORT, 3000), 0);
	ck_assert_int_eq(testpod_destroy_checked(b), 0);
}
END_TEST

/* Creates a pod in a child that then _exits without destroying it (what a failed ck_assert
 * does in a forked Check test); reports the pod cgroup + netns + veth. daemonize: the pod has
 * no janitor, like the CLI's. */
static void create_and_leave(const char *name, int last_octet, bool daemonize,
			     char *pod_cg, char *netns, char *veth)
{
	char buf[8192] = "";
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct testpod_spec spec = { .name = name, .n_containers = 2, .tcp_ports = { TCP_PORT },
					     .n_tcp = 1, .qos = TESTPOD_BURSTABLE, .daemonize = daemonize };
		char uid[40], v4[32];
		struct testpod *pod;

		uid_for(name, uid);
		snprintf(v4, sizeof(v4), "10.244.250.%d", last_octet);
		spec.uid = uid;
		spec.ipv4 = v4;
		if (testpod_create(&spec, &pod))
			_exit(3);
		dprintf(fds[1], "%s\n%s\n%s\n", testpod_cgroup_dir(pod), testpod_netns_path(pod),
			testpod_host_veth(pod));
		_exit(1);
	}
	close(fds[1]);
	ck_assert_int_gt(read(fds[0], buf, sizeof(buf) - 1), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(sscanf(buf, "%4095s %255s %15s", pod_cg, netns, veth), 3);
}

static bool gone_within(const char *pod_cg, const char *netns, const char *veth, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		if (!path_exists(pod_cg) && !path_exists(netns) && !if_nametoindex(veth))
			return true;
		usleep(20 * 1000);
	}
	return false;
}

START_TEST(pod_of_a_test_that_dies_without_destroy_is_removed_by_its_janitor)
{
	char pod_cg[4096], netns[256], veth[IFNAMSIZ];

	create_and_leave("tp-janitor", 31, false, pod_cg, netns, veth);
	ck_assert_msg(gone_within(pod_cg, netns, veth, 10000), "pod of a dead creator still there");
	ck_assert(!cni_record_names(TESTPOD_DEFAULT_CNI_DIR, veth));
}
END_TEST

START_TEST(janitor_never_removes_a_newer_pod_with_the_same_name)
{
	char pod_cg[4096], netns[256], veth[IFNAMSIZ];
	struct testpod *pod;

	/* the new pod is made while the old one's janitor may still be cleaning up */
	create_and_leave("tp-janitor2", 37, false, pod_cg, netns, veth);
	testpod_purge(NULL, "tp-janitor2", NULL);
	pod = make_pod("tp-janitor2", 38, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1, NULL);
	usleep(500 * 1000);
	ck_assert(path_exists(testpod_netns_path(pod)));
	ck_assert(path_exists(testpod_cgroup_dir(pod)));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.38", TCP_PORT, 1000), 0);
	ck_assert_int_eq(testpod_destroy_checked(pod), 0);
}
END_TEST

START_TEST(purge_removes_what_a_killed_creator_left_behind)
{
	char pod_cg[4096], netns[256], veth[IFNAMSIZ], uid[40];

	create_and_leave("tp-purge", 32, true, pod_cg, netns, veth);
	usleep(200 * 1000);
	ck_assert(path_exists(pod_cg)); /* no janitor: nobody cleaned up */
	ck_assert(path_exists(netns));
	uid_for("tp-purge", uid);
	ck_assert(cni_record_names(TESTPOD_DEFAULT_CNI_DIR, veth));
	ck_assert_int_eq(testpod_purge(NULL, "tp-purge", uid), 0);
	ck_assert(!path_exists(pod_cg));
	ck_assert(!path_exists(netns));
	ck_assert_uint_eq(if_nametoindex(veth), 0);
	ck_assert(!cni_record_names(TESTPOD_DEFAULT_CNI_DIR, veth));
	ck_assert_int_eq(testpod_purge(NULL, "tp-purge", uid), 0); /* nothing left: still fine */
}
END_TEST

START_TEST(cni_result_record_names_host_veth_sandbox_ips_and_uid_like_containerd_and_goes_with_the_pod)
{
	char dir[] = "/tmp/pcmc-tp-cni.XXXXXX", path[4096], uid[40], text[8192], veth[IFNAMSIZ];
	struct testpod_spec spec = {
		.name = "tp-cni", .uid = uid, .driver = TESTPOD_CGROUPFS, .qos = TESTPOD_BESTEFFORT,
		.ipv4 = "10.244.250.40", .ipv6 = "fd00:10:244:fa::28", .n_containers = 1, .serve_mask = 1,
		.cni_dir = dir,
	};
	const cJSON *ifaces, *ips, *v;
	struct testpod *pod;
	cJSON *rec;
	FILE *f;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	uid_for("tp-cni", uid);
	ck_assert_int_eq(testpod_create(&spec, &pod), 0);
	snprintf(veth, sizeof(veth), "%s", testpod_host_veth(pod));
	ck_assert_str_eq(testpod_cni_dir(pod), dir);
	snprintf(path, sizeof(path), "%s/results/pcmc-testpod-%s-eth0", dir, testpod_sandbox_id(pod));
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "no CNI record %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	rec = cJSON_Parse(text);
	ck_assert_ptr_nonnull(rec);
	ck_assert_str_eq(json_str(rec, "kind"), "cniCacheV1");
	ck_assert_str_eq(json_str(rec, "containerId"), testpod_sandbox_id(pod));
	ck_assert_str_eq(json_str(rec, "ifName"), "eth0");
	ck_assert_str_eq(cni_arg(rec, "K8S_POD_UID")->valuestring, uid);
	ck_assert_str_eq(cni_arg(rec, "K8S_POD_NAME")->valuestring, "tp-cni");
	ck_assert_str_eq(cni_arg(rec, "K8S_POD_INFRA_CONTAINER_ID")->valuestring, testpod_sandbox_id(pod));
	ifaces = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "result"), "interfaces");
	ck_assert_int_eq(cJSON_GetArraySize(ifaces), 2);
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(ifaces, 0), "name"), veth);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ifaces, 0), "sandbox"));
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(ifaces, 1), "name"), "eth0");
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(ifaces, 1), "sandbox"), testpod_netns_path(pod));
	ips = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "result"), "ips");
	ck_assert_int_eq(cJSON_GetArraySize(ips), 2);
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(ips, 0), "address"), "10.244.250.40/32");
	ck_assert_str_eq(json_str(cJSON_GetArrayItem(ips, 1), "address"), "fd00:10:244:fa::28/128");
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ips, 0), "interface");
	ck_assert(cJSON_IsNumber(v) && v->valueint == 1);
	cJSON_Delete(rec);
	ck_assert(cni_record_names(dir, veth));

	ck_assert_int_eq(testpod_destroy_checked(pod), 0);
	ck_assert(!path_exists(path));
	ck_assert(!cni_record_names(dir, veth));
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

/* ---- CLI ---- */

/* Runs the CLI, returns its exit status; stdout into out (if given). */
static int cli(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cli(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t got = 0;
	va_list ap;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s ", getenv("PCMC_TESTPOD_CLI") ? getenv("PCMC_TESTPOD_CLI") : TESTPOD_CLI);
	va_start(ap, fmt);
	vsnprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "re");
	ck_assert_ptr_nonnull(p);
	for (size_t n; out && got < len - 1 && (n = fread(out + got, 1, len - 1 - got, p)) > 0;)
		got += n;
	if (out)
		out[got] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	ck_assert_msg(cJSON_IsString(v), "no string %s in JSON", key);
	return v->valuestring;
}

START_TEST(cli_create_exec_syscalls_delete_round_trip_leaves_nothing_behind)
{
	char dir[] = "/tmp/pcmc-testpod-XXXXXX", out[16384], uid[40];
	char paths[8][4096], state[4096];
	pid_t pids[8];
	int n_paths = 0, n_pids = 0;
	const cJSON *c;
	cJSON *json;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	uid_for("tp-cli", uid);
	ck_assert_int_eq(cli(out, sizeof(out),
			     "create --state-dir %s --name tp-cli --uid %s --driver systemd --qos burstable "
			     "--ipv4 10.244.250.30 --ipv6 fd00:10:244:fa::1e --tcp %d --udp %d --containers 2",
			     dir, uid, TCP_PORT, UDP_PORT), 0);
	json = cJSON_Parse(out);
	ck_assert_msg(json != NULL, "create printed no JSON: %s", out);
	ck_assert_str_eq(json_str(json, "podIP"), "10.244.250.30");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(json, "containerIDs")), 2);
	ck_assert(hex64(cJSON_GetArrayItem(cJSON_GetObjectItem(json, "containerIDs"), 1)->valuestring));
	snprintf(paths[n_paths++], 4096, "%s", json_str(json, "podCgroup"));
	snprintf(paths[n_paths++], 4096, "%s", json_str(json, "netns"));
	pids[n_pids++] = (pid_t)cJSON_GetObjectItem(cJSON_GetObjectItem(json, "sandbox"), "pid")->valuedouble;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(json, "containers")) {
		snprintf(paths[n_paths++], 4096, "%s", json_str(c, "cgroup"));
		pids[n_pids++] = (pid_t)cJSON_GetObjectItem(c, "pid")->valuedouble;
	}
	char veth[IFNAMSIZ];

	snprintf(veth, sizeof(veth), "%s", json_str(json, "hostVeth"));
	cJSON_Delete(json);
	snprintf(state, sizeof(state), "%s/tp-cli.json", dir);
	ck_assert(path_exists(state));

	/* the pod outlives the CLI: servers answer from their own sessions */
	for (int i = 0; i < n_pids; i++)
		ck_assert_msg(testpod_pid_alive(pids[i]) && getsid(pids[i]) == pids[i], "pid %d", (int)pids[i]);
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.30", TCP_PORT, 3000), 0);
	ck_assert_int_eq(testclient_udp_echo("fd00:10:244:fa::1e", UDP_PORT, 3000), 0);

	ck_assert_int_eq(cli(out, sizeof(out), "exec --state-dir %s --name tp-cli --container 1 -- "
			     "sh -c 'grep ^0:: /proc/self/cgroup; exit 3'", dir), 3);
	ck_assert_msg(strstr(out, "cri-containerd-") && strstr(out, uid + 9) == NULL, "exec cgroup: %s", out);
	ck_assert_int_eq(cli(out, sizeof(out), "restart --state-dir %s --name tp-cli --container 0", dir), 0);
	json = cJSON_Parse(out);
	ck_assert_msg(json != NULL, "restart printed no JSON: %s", out);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(json, "containers"), 0);
	ck_assert_str_ne(json_str(c, "cgroup"), paths[2]); /* a new cgroup ... */
	ck_assert(!path_exists(paths[2]));                /* ... and the old one is gone */
	snprintf(paths[n_paths++], 4096, "%s", json_str(c, "cgroup"));
	pids[n_pids++] = (pid_t)cJSON_GetObjectItem(c, "pid")->valuedouble;
	cJSON_Delete(json);
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.30", TCP_PORT, 3000), 0);
	ck_assert_int_eq(cli(out, sizeof(out), "syscalls --state-dir %s --name tp-cli --count 1000", dir), 0);
	json = cJSON_Parse(out);
	ck_assert_msg(json != NULL, "syscalls printed no JSON: %s", out);
	ck_assert_int_eq((int)cJSON_GetObjectItem(json, "count")->valuedouble, 1000);
	cJSON_Delete(json);

	/* usage errors name the flag and exit 2 */
	ck_assert_int_eq(cli(NULL, 0, "create --state-dir %s --name x --uid %s --qos gold 2>/dev/null", dir, uid), 2);
	ck_assert_int_eq(cli(NULL, 0, "syscalls --state-dir %s --name tp-cli 2>/dev/null", dir), 2);
	ck_assert_int_eq(cli(NULL, 0, "create --state-dir %s --name tp-cli --uid %s 2>/dev/null", dir, uid), 1);

	ck_assert_int_eq(cli(NULL, 0, "delete --state-dir %s --name tp-cli", dir), 0);
	for (int i = 0; i < n_paths; i++)
		ck_assert_msg(!path_exists(paths[i]), "%s still exists", paths[i]);
	for (int i = 0; i < n_pids; i++)
		ck_assert_msg(!testpod_pid_alive(pids[i]), "pid %d still alive", (int)pids[i]);
	ck_assert_uint_eq(if_nametoindex(veth), 0);
	ck_assert(!path_exists(state));
	ck_assert_int_eq(cli(NULL, 0, "delete --state-dir %s --name tp-cli", dir), 0); /* already gone */
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.30", TCP_PORT, 1000), -EHOSTUNREACH);
	rmdir(dir);
}
END_TEST

START_TEST(cli_delete_without_state_file_removes_the_pod_by_name_and_uid)
{
	char dir[] = "/tmp/pcmc-testpod-XXXXXX", out[16384], uid[40], state[4096], pod_cg[4096];
	cJSON *json;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	uid_for("tp-cli-nostate", uid);
	ck_assert_int_eq(cli(out, sizeof(out), "create --state-dir %s --name tp-cli-nostate --uid %s "
			     "--ipv4 10.244.250.33 --tcp %d", dir, uid, TCP_PORT), 0);
	json = cJSON_Parse(out);
	ck_assert_ptr_nonnull(json);
	snprintf(pod_cg, sizeof(pod_cg), "%s", json_str(json, "podCgroup"));
	cJSON_Delete(json);
	snprintf(state, sizeof(state), "%s/tp-cli-nostate.json", dir);
	ck_assert_int_eq(unlink(state), 0);
	ck_assert_int_eq(cli(NULL, 0, "delete --state-dir %s --name tp-cli-nostate --uid %s", dir, uid), 0);
	ck_assert(!path_exists(pod_cg));
	ck_assert(!path_exists("/run/netns/pcmc-tp-cli-nostate"));
	ck_assert_int_eq(testclient_tcp_connect("10.244.250.33", TCP_PORT, 1000), -EHOSTUNREACH);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("test pod");
	TCase *tc = tcase_create("pod");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cgroupfs_guaranteed_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, cgroupfs_burstable_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, cgroupfs_besteffort_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, systemd_guaranteed_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, systemd_burstable_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, systemd_besteffort_cgroups_match_kubelet_and_spawned_process_is_inside);
	tcase_add_test(tc, tcp_and_udp_over_ipv4_and_ipv6_from_the_host_answer);
	tcase_add_test(tc, address_without_pod_is_unreachable_not_routed_off_the_machine);
	tcase_add_test(tc, pod_to_pod_tcp_and_udp_over_ipv4_and_ipv6_answer);
	tcase_add_test(tc, explicit_cgroup_root_is_used_and_a_non_cgroup2_root_is_refused);
	tcase_add_test(tc, spawn_wait_and_exec_report_exit_status_and_timeout);
	tcase_add_test(tc, restart_container_gives_new_cgroup_and_server_answers_again);
	tcase_add_test(tc, destroy_leaves_no_netns_veth_cgroup_or_process_behind);
	tcase_add_test(tc, cni_result_record_names_host_veth_sandbox_ips_and_uid_like_containerd_and_goes_with_the_pod);
	tcase_add_test(tc, failed_create_leaves_nothing_and_does_not_touch_the_existing_pod);
	tcase_add_test(tc, shared_kubepods_parents_outlive_the_first_pod);
	tcase_add_test(tc, cli_create_exec_syscalls_delete_round_trip_leaves_nothing_behind);
	tcase_add_test(tc, pod_of_a_test_that_dies_without_destroy_is_removed_by_its_janitor);
	tcase_add_test(tc, janitor_never_removes_a_newer_pod_with_the_same_name);
	tcase_add_test(tc, purge_removes_what_a_killed_creator_left_behind);
	tcase_add_test(tc, cli_delete_without_state_file_removes_the_pod_by_name_and_uid);
	suite_add_tcase(s, tc);
	if (testpod_suite_lock("test-pod") < 0) {
		fprintf(stderr, "test-pod: cannot lock /run/lock/pcmc-test-pod.lock\n");
		return 1;
	}
	/* Leftovers of an earlier run that was SIGKILLed (timeouts) would make creates fail. */
	for (size_t i = 0; i < sizeof(pod_names) / sizeof(pod_names[0]); i++) {
		char uid[40];

		uid_for(pod_names[i], uid);
		testpod_purge(NULL, pod_names[i], uid);
	}
	{
		char root[4096], uid[40];

		if (testpod_detect_cgroup_root(root, sizeof(root)) == 0) {
			strcat(root, "/pcmc-tp-root");
			uid_for("tp-root", uid);
			if (path_exists(root))
				testpod_purge(root, "tp-root", uid);
		}
	}
	sr = srunner_create(s);
	srunner_set_tap(sr, "-"); /* "ok N - ..." lines on stdout */
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
