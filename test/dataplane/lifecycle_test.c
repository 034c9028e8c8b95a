/* Dataplane lifecycle: SIGKILLed applier restarted without a gap, orphans removed, layout upgrade
 * without a gap, other tools' filters left alone, full maps reported per pod. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

#ifndef DATAPLANE_CLI
#define DATAPLANE_CLI "build/pcmc-dataplane"
#endif

#define DROP_WAIT_MS 300

static const uint16_t allow_a[] = { TCP_PORT_A }, block_b[] = { TCP_PORT_B };
static const int getppid_list[] = { SYS_getppid };
static const struct pod_policy a_open_b_shut = {
	.syscalls_enabled = true, .syscall_nrs = getppid_list, .n_syscalls = 1,
	.firewall_enabled = true, .allowed = allow_a, .n_allowed = 1, .blocked = block_b, .n_blocked = 1,
	.default_block = true,
};

/* Runs the CLI with --stay; returns when it printed "ready" (policy applied). */
static pid_t start_cli(struct testpod *pod)
{
	const char *pin_root = fx_pin_root(); /* before fork: the child would name its own */
	char allow[16], block[16];
	int fds[2];
	char buf[64];
	ssize_t n;
	pid_t pid;

	snprintf(allow, sizeof(allow), "%d", TCP_PORT_A);
	snprintf(block, sizeof(block), "%d", TCP_PORT_B);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execl(DATAPLANE_CLI, DATAPLANE_CLI, "--pin-root", pin_root, "--cni-cache-dir", TESTPOD_DEFAULT_CNI_DIR,
		      "--pod", testpod_uid(pod),
		      "--syscalls", "110", "--allow", allow, "--block", block, "--default-block", "--orphans",
		      "--stay", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	ck_assert_msg(n > 0 && strncmp(buf, "ready", 5) == 0, "pcmc-dataplane did not get ready");
	return pid;
}

static int getppid_times(void *arg)
{
	for (int i = 0; i < *(int *)arg; i++)
		syscall(SYS_getppid);
	return 0;
}

static void run_getppid(struct testpod *pod, int n)
{
	pid_t pid = testpod_spawn(pod, 0, getppid_times, &n);

	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(testpod_wait(pid, 10000), 0);
}

START_TEST(blocked_port_stays_refused_while_the_applier_is_sigkilled_and_restarted)
{
	struct testpod *pod = fx_pod("dpkill", 4, 1, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	struct pod_counters before, after;
	struct dataplane *dp;
	uint32_t prog_id;
	pid_t cli, prober;
	int status;

	cli = start_cli(pod);
	prog_id = fx_filter_prog_id(pod, true);
	ck_assert_uint_ne(prog_id, 0);
	prober = fx_start_prober(testpod_ipv4(pod), TCP_PORT_B, TCP_PORT_A);
	usleep(300 * 1000);
	dp = fx_open(0);
	before = fx_counters(dp, testpod_uid(pod));
	dataplane_close(dp);

	kill(cli, SIGKILL);
	ck_assert_int_eq(waitpid(cli, &status, 0), cli);
	usleep(300 * 1000); /* no agent at all for a while */
	cli = start_cli(pod);
	usleep(300 * 1000);

	ck_assert_int_eq(fx_stop_prober(prober), 0); /* blocked never answered, allowed always did */
	ck_assert_uint_eq(fx_filter_prog_id(pod, true), prog_id); /* adopted: never detached or replaced */
	run_getppid(pod, 77);
	dp = fx_open(0);
	after = fx_counters(dp, testpod_uid(pod));
	dataplane_close(dp);
	ck_assert_uint_gt(after.packets_blocked, before.packets_blocked + 3);
	ck_assert_uint_gt(after.packets_allowed, before.packets_allowed);
	ck_assert_uint_eq(fx_listed(&after, SYS_getppid), fx_listed(&before, SYS_getppid) + 77);
	kill(cli, SIGTERM);
	ck_assert_int_eq(waitpid(cli, &status, 0), cli);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static bool cgroup_tracked(const char *pin_dir, const char *cgroup_dir)
{
	char path[512];
	uint64_t value;
	int map, cg;
	bool tracked;

	snprintf(path, sizeof(path), "%s/tracked_cgroups", pin_dir);
	map = bpf_obj_get(path);
	ck_assert_int_ge(map, 0);
	cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(cg, 0);
	tracked = bpf_map_lookup_elem(map, &cg, &value) == 0;
	close(cg);
	close(map);
	return tracked;
}

/* Entries of the pinned map <pin_dir>/<name> (keys of key_size bytes). */
static int count_keys(const char *pin_dir, const char *name, size_t key_size)
{
	char path[512], key[64], next[64];
	void *prev = NULL;
	int map, n = 0;

	ck_assert_uint_le(key_size, sizeof(key));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	map = bpf_obj_get(path);
	ck_assert_int_ge(map, 0);
	while (bpf_map_get_next_key(map, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	close(map);
	return n;
}

#define count_rules(dir) count_keys((dir), "fw_rules", sizeof(struct pcmc_fw_rule_key))

/* Interfaces claimed for a pod slot: fw_iface_slots entries with a generation, fw_ifaces' keys. */
static int count_ifaces(const char *pin_dir)
{
	struct pcmc_fw_iface iface;
	char path[512];
	int map, n = count_keys(pin_dir, "fw_ifaces", sizeof(uint32_t));

	snprintf(path, sizeof(path), "%s/fw_iface_slots", pin_dir);
	map = bpf_obj_get(path);
	ck_assert_int_ge(map, 0);
	for (uint32_t i = 0; i < PCMC_IFINDEX_DIRECT; i++)
		n += bpf_map_lookup_elem(map, &i, &iface) == 0 && iface.gen;
	close(map);
	return n;
}

START_TEST(restart_with_only_pod_a_wanted_removes_running_and_deleted_pods_filters_entries_and_pins)
{
	struct testpod *a = fx_pod("dporpa", 4, 2, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct testpod *b = fx_pod("dporpb", 4, 3, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1);
	struct testpod *c = fx_pod("dporpc", 4, 9, TESTPOD_SYSTEMD, TESTPOD_GUARANTEED, 1);
	const char *wanted[] = { testpod_uid(a) };
	const char *pin_dir = fx_pin_dir();
	char c_veth[IF_NAMESIZE];
	struct dataplane *dp;

	snprintf(c_veth, sizeof(c_veth), "%s", testpod_host_veth(c));
	dp = fx_open(0);
	fx_apply(dp, a, &a_open_b_shut);
	fx_apply(dp, b, &a_open_b_shut);
	fx_apply(dp, c, &a_open_b_shut);
	dataplane_close(dp);
	fx_pod_destroy(c); /* deleted from the node while no agent runs: cgroups and netns gone */
	ck_assert_int_eq(count_rules(pin_dir), 6);
	ck_assert_int_eq(count_ifaces(pin_dir), 3); /* c's veth went with the pod, its entry stays till then */
	ck_assert_uint_ne(fx_filter_prog_id(b, true), 0);
	ck_assert(cgroup_tracked(pin_dir, testpod_container_cgroup_dir(b, 0)));

	dp = fx_open(0);
	ck_assert_int_eq(dataplane_pod_count(dp), 3); /* adopted */
	fx_apply(dp, a, &a_open_b_shut);
	ck_assert_int_eq(dataplane_remove_orphans(dp, wanted, 1), 2);
	ck_assert_int_eq(if_nametoindex(c_veth), 0);

	ck_assert_uint_eq(fx_filter_prog_id(b, true), 0);
	ck_assert_uint_eq(fx_filter_prog_id(b, false), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(b), TCP_PORT_B, 2000), 0);
	ck_assert(!cgroup_tracked(pin_dir, testpod_container_cgroup_dir(b, 0)));
	ck_assert(!cgroup_tracked(pin_dir, testpod_cgroup_dir(b)));
	ck_assert_int_eq(count_rules(pin_dir), 2);
	ck_assert_int_eq(count_ifaces(pin_dir), 1);
	ck_assert_ptr_null(dataplane_pod_error(dp, testpod_uid(b)));
	ck_assert_int_eq(dataplane_pod_count(dp), 1);
	/* A is untouched. */
	ck_assert_uint_ne(fx_filter_prog_id(a, true), 0);
	ck_assert(cgroup_tracked(pin_dir, testpod_container_cgroup_dir(a, 0)));
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(a), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	dataplane_close(dp);
}
END_TEST

START_TEST(older_layout_is_replaced_without_a_gap_in_enforcement)
{
	struct testpod *pod = fx_pod("dplay", 4, 4, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	struct testpod *gone = fx_pod("dplayg", 4, 5, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	const char *wanted[] = { testpod_uid(pod) };
	struct dataplane *dp;
	char path[512];
	uint32_t old_id, new_id;
	pid_t prober;

	ck_assert_int_gt(PCMC_LAYOUT_VERSION, 1);
	dp = fx_open(1);
	fx_apply(dp, pod, &a_open_b_shut);
	fx_apply(dp, gone, &a_open_b_shut);
	dataplane_close(dp);
	old_id = fx_filter_prog_id(pod, true);
	ck_assert_uint_ne(old_id, 0);
	prober = fx_start_prober(testpod_ipv4(pod), TCP_PORT_B, TCP_PORT_A);
	usleep(200 * 1000);

	dp = fx_open(0);
	/* Not re-applied yet: the old layout stays, its filter keeps enforcing. */
	ck_assert_int_ge(dataplane_remove_orphans(dp, wanted, 1), 0);
	snprintf(path, sizeof(path), "%s/v1/fw_pod_in", fx_pin_root());
	ck_assert(fx_path_exists(path));
	ck_assert_uint_eq(fx_filter_prog_id(pod, true), old_id);
	fx_apply(dp, pod, &a_open_b_shut);
	ck_assert_int_ge(dataplane_remove_orphans(dp, wanted, 1), 0);
	usleep(200 * 1000);
	ck_assert_int_eq(fx_stop_prober(prober), 0);

	new_id = fx_filter_prog_id(pod, true);
	ck_assert_uint_ne(new_id, 0);
	ck_assert_uint_ne(new_id, old_id);
	snprintf(path, sizeof(path), "%s/v1", fx_pin_root());
	ck_assert(!fx_path_exists(path));
	snprintf(path, sizeof(path), "%s/fw_pod_in", fx_pin_dir());
	ck_assert(fx_path_exists(path));
	ck_assert_uint_eq(fx_filter_prog_id(gone, true), 0); /* not wanted: the old layout's filters went too */
	ck_assert_uint_eq(fx_filter_prog_id(gone, false), 0);
	run_getppid(pod, 33);
	struct pod_counters c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 33);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_uint_eq(fx_counters(dp, testpod_uid(pod)).packets_blocked, c.packets_blocked + 1);
	dataplane_close(dp);
}
END_TEST

/* On the pod's host veth egress: a program named like ours, not pinned by pcmc, at pcmc's handle. */
static void attach_foreign(struct testpod *pod, uint32_t priority, int verdict /* -1 UNSPEC, 2 SHOT */)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = verdict }, /* r0 = verdict */
		{ .code = 0x95 },                                /* exit */
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x70636d63, .priority = priority);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "pcmc_fw_pod_in", "GPL", insns, 2, NULL);

	ck_assert_int_ge(fd, 0);
	hook.ifindex = (int)if_nametoindex(testpod_host_veth(pod));
	bpf_tc_hook_create(&hook);
	opts.prog_fd = fd;
	ck_assert_int_eq(bpf_tc_attach(&hook, &opts), 0);
	close(fd); /* the filter holds the program */
}

START_TEST(other_tools_filters_are_never_removed_or_replaced_and_still_run_after_ours)
{
	struct testpod *taken = fx_pod("dpforn", 4, 6, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct testpod *shared = fx_pod("dpshr", 4, 7, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_ref ref = { .uid = testpod_uid(taken) };
	uint32_t foreign;

	attach_foreign(taken, 7, -1);
	foreign = fx_filter_prog_id(taken, true);
	ck_assert_uint_ne(foreign, 0);
	ck_assert_int_eq(dataplane_apply_pod(dp, &ref, &a_open_b_shut), -EEXIST);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, ref.uid), "another tool"));
	ck_assert_int_eq(dataplane_remove_pod(dp, ref.uid), 0);
	ck_assert_uint_eq(fx_filter_prog_id(taken, true), foreign);

	/* Another tool at another priority keeps its filter through our attach and detach. */
	attach_foreign(shared, 3, -1);
	fx_apply(dp, shared, &a_open_b_shut);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(shared), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(shared), TCP_PORT_A, 2000), 0);
	/* A passed packet goes on to the next filter (TC_ACT_UNSPEC): one that drops everything. */
	attach_foreign(shared, 9, 2);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(shared), TCP_PORT_A, DROP_WAIT_MS), -ETIMEDOUT);
	ck_assert_int_eq(fx_sh("tc filter del dev %s egress pref 9", testpod_host_veth(shared)), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(shared), TCP_PORT_A, 2000), 0);
	ck_assert_int_eq(dataplane_remove_pod(dp, testpod_uid(shared)), 0);
	ck_assert_uint_eq(fx_filter_prog_id(shared, true), 0);
	ck_assert_uint_eq(fx_filter_prog_id(shared, false), 0);
	ck_assert_int_eq(fx_sh("tc filter show dev %s egress | grep -q 'pref 3 bpf'", testpod_host_veth(shared)), 0);
	dataplane_close(dp);
}
END_TEST

START_TEST(full_maps_are_reported_as_a_per_pod_error)
{
	struct testpod *pod = fx_pod("dpfull", 4, 8, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	static uint16_t ports[65536];
	struct pod_policy rules = { .firewall_enabled = true, .allowed = ports, .n_allowed = 20000,
				    .blocked = block_b, .n_blocked = 1 };
	struct pod_policy none = { 0 };
	struct dataplane *dp = fx_open(0);
	char other[40], uid[40];
	int err, n;

	for (int i = 0; i < 65536; i++)
		ports[i] = (uint16_t)(TCP_PORT_A + i); /* A first (B is blocked anyway), then upwards */
	fx_apply(dp, pod, &rules); /* 20000 rules */

	/* A pod not (yet) running here: its 20000 rules are written, the attach waits for a process. */
	snprintf(other, sizeof(other), "00000000-0000-0000-0000-%012d", 99998);
	rules.allowed = ports + 20000;
	ck_assert_int_eq(dataplane_apply_pod(dp, &(struct pod_ref){ .uid = other }, &rules), -ESRCH);

	/* A third pod's 30000 rules do not fit next to these 40000: refused before anything changed. */
	snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-%012d", 99999);
	rules.n_allowed = 30000;
	err = dataplane_apply_pod(dp, &(struct pod_ref){ .uid = uid }, &rules);
	ck_assert_int_eq(err, -ENOSPC);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, uid), "full"));
	ck_assert_int_eq(dataplane_pod_count(dp), 2);

	/* Changing the first pod to 30000 other ports would fit afterwards (50000), but not while old
	 * and new rules are both in place (70000), which a change without a gap needs: refused. */
	rules.allowed = ports + 35536;
	err = dataplane_apply_pod(dp, &(struct pod_ref){ .uid = testpod_uid(pod) }, &rules);
	ck_assert_int_eq(err, -ENOSPC);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, testpod_uid(pod)), "full"));
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_A, 2000), 0);
	ck_assert_int_eq(testclient_tcp_connect(testpod_ipv4(pod), TCP_PORT_B, DROP_WAIT_MS), -ETIMEDOUT);
	fx_apply(dp, pod, &a_open_b_shut); /* shrinking always fits */

	/* Pods without a cgroup on this node take slots until none is left. */
	for (int i = 0; ; i++) {
		snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-%012d", i);
		err = dataplane_apply_pod(dp, &(struct pod_ref){ .uid = uid }, &none);
		if (err)
			break;
		ck_assert_int_lt(i, 100000);
	}
	ck_assert_int_eq(err, -ENOSPC);
	ck_assert_ptr_nonnull(strstr(dataplane_pod_error(dp, uid), "too many pods"));
	n = dataplane_pod_count(dp);
	ck_assert_int_eq(n, 512);
	ck_assert_int_eq(dataplane_remove_orphans(dp, (const char *[]){ testpod_uid(pod) }, 1), n - 1);
	ck_assert_int_eq(dataplane_pod_count(dp), 1);
	dataplane_close(dp);
}
END_TEST

START_TEST(bpffs_is_mounted_when_missing)
{
	struct statfs st;
	struct dataplane *dp;
	char path[512];

	/* In a private mount namespace, so the machine's bpffs is never touched. */
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	while (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		ck_assert_int_eq(umount2("/sys/fs/bpf", MNT_DETACH), 0);
	dp = fx_open(0);
	ck_assert_int_eq(statfs("/sys/fs/bpf", &st), 0);
	ck_assert(st.f_type == BPF_FS_MAGIC);
	snprintf(path, sizeof(path), "%s/sys_enter_link", fx_pin_dir());
	ck_assert(fx_path_exists(path));
	dataplane_close(dp);
}
END_TEST

static uint32_t pins_id(const char *path)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path);

	ck_assert_int_ge(fd, 0);
	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	return info.id;
}

static void f_read_int(const char *cmd, int *out)
{
	FILE *f = popen(cmd, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", out), 1);
	pclose(f);
}

/* Runs the CLI with a shell command line tail; its exit status, stderr into err. */
static int cli(char *err, size_t len, const char *args)
{
	char cmd[512];
	FILE *f;
	size_t n;
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1 >/dev/null", DATAPLANE_CLI, args);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(err, 1, len - 1, f);
	err[n] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(pcmc_dataplane_without_arguments_prints_its_usage_and_changes_nothing)
{
	char err[4096], before[4096], after[4096];
	FILE *f;
	size_t n;

	/* What bpffs holds (names and mtimes), before and after. */
	f = popen("ls -la --time-style=+%s.%N /sys/fs/bpf /sys/fs/bpf/pcmc 2>&1", "r");
	n = fread(before, 1, sizeof(before) - 1, f);
	before[n] = '\0';
	pclose(f);
	ck_assert_int_eq(cli(err, sizeof(err), ""), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage: pcmc-dataplane --pin-root DIR"));
	ck_assert_int_eq(cli(err, sizeof(err), "--pod 00000000-0000-0000-0000-000000000001 --block 22"), 2);
	ck_assert_ptr_nonnull(strstr(err, "--pin-root is required (nothing changed)"));
	ck_assert_int_eq(cli(err, sizeof(err), "--orphans"), 2);
	f = popen("ls -la --time-style=+%s.%N /sys/fs/bpf /sys/fs/bpf/pcmc 2>&1", "r");
	n = fread(after, 1, sizeof(after) - 1, f);
	after[n] = '\0';
	pclose(f);
	ck_assert_str_eq(before, after);
}
END_TEST

static int attach_in_pod(void *arg)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x70636d63, .priority = 7, .prog_fd = *(int *)arg);

	hook.ifindex = (int)if_nametoindex("eth0");
	bpf_tc_hook_create(&hook);
	return bpf_tc_attach(&hook, &opts) ? 1 : 0;
}

/* Layout 1 (before this one) put a program per pod inside the pod's netns, on eth0's ingress. */
static void make_layout1_pod(struct testpod *pod, int *prog_fd)
{
	struct bpf_insn pass[] = { { .code = 0xb7, .dst_reg = 0, .imm = -1 }, { .code = 0x95 } };
	struct pcmc_layout1_record { uint32_t slot, flags, ifindex, reserved; uint64_t netns_ino; } rec = {
		.slot = 0, .flags = PCMC_POD_FIREWALL,
	};
	struct pcmc_pod_key key = { 0 };
	char dir[512], cmd[256];
	struct stat st;
	int map, id;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/v1/pods/%s", fx_pin_root(), testpod_uid(pod));
	ck_assert_int_eq(fx_sh("mkdir -p %s", dir), 0);
	*prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "pcmc_l4_fw", "GPL", pass, 2, NULL);
	ck_assert_int_ge(*prog_fd, 0);
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/fw");
	ck_assert_int_eq(bpf_obj_pin(*prog_fd, dir), 0);
	id = (int)pins_id(dir);
	ck_assert_int_gt(id, 0);
	pid = testpod_spawn(pod, 0, attach_in_pod, prog_fd); /* in the pod's netns, like layout 1 did */
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(testpod_wait(pid, 10000), 0);
	ck_assert_int_eq(stat(testpod_netns_path(pod), &st), 0);
	rec.netns_ino = st.st_ino;
	snprintf(cmd, sizeof(cmd), "ip netns exec pcmc-%s cat /sys/class/net/eth0/ifindex", testpod_name(pod));
	f_read_int(cmd, &id);
	rec.ifindex = (uint32_t)id;
	memcpy(key.uid, testpod_uid(pod), strlen(testpod_uid(pod)));
	map = bpf_map_create(BPF_MAP_TYPE_HASH, "pcmc_pods", sizeof(key), sizeof(rec), 16, NULL);
	ck_assert_int_ge(map, 0);
	ck_assert_int_eq(bpf_map_update_elem(map, &key, &rec, BPF_ANY), 0);
	snprintf(dir, sizeof(dir), "%s/v1/pod_records", fx_pin_root());
	ck_assert_int_eq(bpf_obj_pin(map, dir), 0);
	close(map);
}

START_TEST(an_upgrade_from_layout_1_takes_the_filter_out_of_the_pod_netns_without_a_gap)
{
	struct testpod *pod = fx_pod("dplay1", 4, 10, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	const char *wanted[] = { testpod_uid(pod) };
	char cmd[256], path[512];
	struct dataplane *dp;
	pid_t prober;
	int old_fd;

	make_layout1_pod(pod, &old_fd);
	snprintf(cmd, sizeof(cmd), "ip netns exec pcmc-%s tc filter show dev eth0 ingress | grep -q pcmc_l4_fw",
		 testpod_name(pod));
	ck_assert_int_eq(fx_sh("%s", cmd), 0);
	dp = fx_open(0);
	fx_apply(dp, pod, &a_open_b_shut);
	prober = fx_start_prober(testpod_ipv4(pod), TCP_PORT_B, TCP_PORT_A);
	usleep(200 * 1000);
	ck_assert_int_ge(dataplane_remove_orphans(dp, wanted, 1), 0);
	usleep(200 * 1000);
	ck_assert_int_eq(fx_stop_prober(prober), 0);
	ck_assert_int_ne(fx_sh("%s", cmd), 0); /* layout 1's filter is out of the pod */
	snprintf(path, sizeof(path), "%s/v1", fx_pin_root());
	ck_assert(!fx_path_exists(path));
	ck_assert_uint_ne(fx_filter_prog_id(pod, true), 0);
	close(old_fd);
	dataplane_close(dp);
}
END_TEST

void add_lifecycle_tests(TCase *tc)
{
	tcase_add_test(tc, bpffs_is_mounted_when_missing);
	tcase_add_test(tc, blocked_port_stays_refused_while_the_applier_is_sigkilled_and_restarted);
	tcase_add_test(tc, restart_with_only_pod_a_wanted_removes_running_and_deleted_pods_filters_entries_and_pins);
	tcase_add_test(tc, older_layout_is_replaced_without_a_gap_in_enforcement);
	tcase_add_test(tc, other_tools_filters_are_never_removed_or_replaced_and_still_run_after_ours);
	tcase_add_test(tc, full_maps_are_reported_as_a_per_pod_error);
	tcase_add_test(tc, pcmc_dataplane_without_arguments_prints_its_usage_and_changes_nothing);
	tcase_add_test(tc, an_upgrade_from_layout_1_takes_the_filter_out_of_the_pod_netns_without_a_gap);
}
