/* Shared fixtures of the dataplane tests: the pin dir is removed by an exit handler even when a
 * Check assertion ends the test early (exit in fork mode); the test pod library does the same. */
#include "test/dataplane/fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/pcmc.h"
#include "test/common/tap_main.h"

#ifndef TESTPOD_CLI_PATH
#define TESTPOD_CLI_PATH "build/pcmc-testpod"
#endif

#define MAX_FX_PODS 16

static struct testpod *pods[MAX_FX_PODS];
static char pin_root[64];
static bool exit_registered;

static void cleanup(void)
{
	if (pin_root[0])
		fx_sh("rm -rf %s", pin_root);
}

static void register_cleanup(void)
{
	if (!exit_registered) {
		atexit(cleanup);
		exit_registered = true;
	}
}

const char *fx_pin_root(void)
{
	/* Fixed at the first call, in the test's own process: children (the CLI) inherit it. */
	if (!pin_root[0]) {
		register_cleanup();
		snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/pcmc-test-%d", (int)getpid());
	}
	return pin_root;
}

const char *fx_pin_dir(void)
{
	static char dir[96];

	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/v%d", fx_pin_root(), PCMC_LAYOUT_VERSION);
	return dir;
}

void fx_cleanup_leftovers(void)
{
	/* A failing Check assertion ends the test with _exit: no exit handler ran. */
	fx_sh("for d in /sys/fs/bpf/pcmc-test-*; do [ -d \"$d\" ] && ! kill -0 \"${d##*-}\" 2>/dev/null"
	      " && rm -rf \"$d\"; done; true");
	fx_sh("for n in $(ls /run/netns 2>/dev/null | sed -n 's/^pcmc-\\(dp.*\\)/\\1/p'); do"
	      " " TESTPOD_CLI_PATH " delete --state-dir /nonexistent --name $n; done; true");
}

int fx_run_suite(Suite *s)
{
	int status = run_suite_with_tap(s);

	fx_cleanup_leftovers();
	return status;
}

int fx_inject(struct testpod *pod, const void *frame, size_t len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	sll.sll_ifindex = (int)if_nametoindex(testpod_host_veth(pod));
	/* ENOBUFS: a filter on the veth's egress dropped it, which is what some tests want. */
	if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 && errno != ENOBUFS)
		err = -errno;
	close(fd);
	usleep(50 * 1000);
	return err;
}

struct testpod *fx_pod(const char *name, int subnet, int host, enum testpod_driver driver,
		       enum testpod_qos qos, int n_containers)
{
	char uid[40], v4[32], v6[64];
	struct testpod_spec spec = {
		.name = name, .uid = uid, .driver = driver, .qos = qos, .ipv4 = v4, .ipv6 = v6,
		.tcp_ports = { TCP_PORT_A, TCP_PORT_B, TCP_PORT_C }, .n_tcp = 3,
		.udp_ports = { UDP_PORT_A, UDP_PORT_B, UDP_PORT_C }, .n_udp = 3,
		.n_containers = n_containers, .serve_mask = 1,
	};
	struct testpod *pod = NULL;
	FILE *f;
	int err;

	testpod_purge(NULL, name, NULL); /* left by an earlier failed run */
	f = fopen("/proc/sys/kernel/random/uuid", "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(uid, 37, f));
	fclose(f);
	uid[36] = '\0';
	snprintf(v4, sizeof(v4), "10.244.%d.%d", subnet, host);
	snprintf(v6, sizeof(v6), "fd00:10:244:%x::%x", subnet, host);
	err = testpod_create(&spec, &pod);
	ck_assert_msg(err == 0, "testpod_create(%s): %s", name, strerror(-err));
	for (int i = 0; i < MAX_FX_PODS; i++) {
		if (!pods[i]) {
			pods[i] = pod;
			break;
		}
	}
	return pod;
}

void fx_pod_destroy(struct testpod *pod)
{
	for (int i = 0; i < MAX_FX_PODS; i++)
		if (pods[i] == pod)
			pods[i] = NULL;
	testpod_destroy(pod);
}

void fx_destroy_pods(void)
{
	for (int i = 0; i < MAX_FX_PODS; i++) {
		testpod_destroy(pods[i]);
		pods[i] = NULL;
	}
}

struct dataplane *fx_open(int layout)
{
	struct dataplane_opts opts = { .pin_root = fx_pin_root(), .layout_version = layout,
				       .cni_cache_dir = TESTPOD_DEFAULT_CNI_DIR };
	struct dataplane *dp = NULL;
	int err = dataplane_open(&opts, &dp);

	ck_assert_msg(err == 0, "dataplane_open: %s", strerror(-err));
	return dp;
}

struct pod_counters fx_counters(struct dataplane *dp, const char *uid)
{
	static struct pod_counters all[64];
	struct pod_counters none;
	int n = dataplane_read_counters(dp, all, 64);

	ck_assert_msg(n >= 0, "dataplane_read_counters: %s", strerror(-n));
	for (int i = 0; i < n; i++)
		if (strcmp(all[i].uid, uid) == 0)
			return all[i];
	memset(&none, 0, sizeof(none));
	return none;
}

uint64_t fx_listed(const struct pod_counters *c, int nr)
{
	for (int i = 0; i < c->n_listed; i++)
		if (c->listed_nr[i] == nr)
			return c->listed_count[i];
	return 0;
}

void fx_apply(struct dataplane *dp, struct testpod *pod, const struct pod_policy *p)
{
	struct pod_ref ref = { .uid = testpod_uid(pod), .namespace = "test", .name = testpod_name(pod) };
	int err = dataplane_apply_pod(dp, &ref, p);

	ck_assert_msg(err == 0, "apply %s: %s (%s)", testpod_name(pod), strerror(-err),
		      dataplane_pod_error(dp, testpod_uid(pod)));
}

uint32_t fx_filter_prog_id(struct testpod *pod, bool pod_in)
{
	char cmd[256], line[512];
	uint32_t id = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tc filter show dev %s %s 2>/dev/null", testpod_host_veth(pod),
		 pod_in ? "egress" : "ingress");
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "pref 7 bpf") ? strstr(line, "handle 0x70636d63") : NULL;
		char *q = p ? strstr(p, " id ") : NULL;

		if (q)
			id = (uint32_t)strtoul(q + 4, NULL, 10);
	}
	pclose(f);
	return id;
}

int fx_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc < 0 ? rc : WEXITSTATUS(rc);
}

bool fx_path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

pid_t fx_start_prober(const char *ip, uint16_t blocked, uint16_t allowed)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct timespec zero = { 0, 0 };
		int status = 0;
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		for (;;) {
			if (testclient_tcp_connect(ip, blocked, 50) != -ETIMEDOUT)
				status |= 1;
			if (allowed && testclient_tcp_connect(ip, allowed, 2000) != 0)
				status |= 2;
			if (sigtimedwait(&set, NULL, &zero) == SIGTERM)
				_exit(status);
		}
	}
	return pid;
}

int fx_stop_prober(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}
