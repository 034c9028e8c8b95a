/* Syscall counter cost, as time inside the program per run (bpf_stats), side by side with its
 * baselines on the same hook and the same events: an empty tp_btf/sys_enter program for an
 * untracked process, bpftrace counting per cgroup and syscall for a tracked one. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "bench_empty.skel.h"
#include "bpf/pcmc.h"
#include "test/bench/bench_env.h"
#include "test/bench/bpf_stats.h"
#include "test/pod/testpod.h"

#define POD_NAME   "bench-sys"
#define POD_IPV4   "10.244.20.1"
#define POD_IPV6   "fd00:10:244:14::1"
#define TRACEFS    "/sys/kernel/tracing"
#define TRACEFS_MAGIC_NR 0x74726163
#define BPFTRACE_SCRIPT "tracepoint:raw_syscalls:sys_enter { @[cgroup, args->id] = count(); }"

static const int allowlist[] = { SYS_getppid, SYS_read, SYS_write, SYS_openat, SYS_close };

struct round {
	double ours_ns, baseline_ns;
	double tracked_share; /* of our program's runs, those of the tracked pod (tracked phase) */
};

static pid_t bpftrace_pid;

static int getppid_loop(void *arg)
{
	long n = *(const long *)arg;

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "syscall_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* bpftrace in a mount namespace of its own, so that the tracefs its tracepoint needs is mounted
 * there only and goes away with it. It dies with us (PDEATHSIG). */
static pid_t bpftrace_start(void)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid < 0 ? -errno : pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct statfs st;
	int devnull = open("/dev/null", O_WRONLY);

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(126);
	if ((statfs(TRACEFS, &st) < 0 || st.f_type != TRACEFS_MAGIC_NR) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0)
		_exit(126);
	if (devnull >= 0)
		dup2(devnull, STDOUT_FILENO); /* the map printed at exit */
	execlp("bpftrace", "bpftrace", "-e", BPFTRACE_SCRIPT, (char *)NULL);
	_exit(127);
}

static void bpftrace_stop(void)
{
	if (bpftrace_pid <= 0)
		return;
	kill(bpftrace_pid, SIGINT);
	for (int i = 0; i < 100 && waitpid(bpftrace_pid, NULL, WNOHANG) == 0; i++)
		usleep(50 * 1000);
	if (kill(bpftrace_pid, 0) == 0) {
		kill(bpftrace_pid, SIGKILL);
		waitpid(bpftrace_pid, NULL, 0);
	}
	bpftrace_pid = 0;
}

/* bpftrace's tracepoint program, once it runs (attached). fd or -errno. */
static int bpftrace_prog(pid_t pid)
{
	struct prog_stats a, b;
	int fd = -ENOENT;

	for (int i = 0; i < 600 && fd < 0; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			bpftrace_pid = 0;
			return -ECHILD;
		}
		fd = bpf_stats_prog_of_pid(pid, BPF_PROG_TYPE_TRACEPOINT);
		if (fd < 0)
			usleep(50 * 1000);
	}
	if (fd < 0)
		return -ETIMEDOUT;
	for (int i = 0; i < 100; i++) {
		if (bpf_stats_read(fd, &a) == 0 && usleep(20 * 1000) == 0 &&
		    bpf_stats_read(fd, &b) == 0 && b.run_cnt > a.run_cnt)
			return fd;
	}
	close(fd);
	return -ETIMEDOUT;
}

static struct testpod *pod_create(void)
{
	struct testpod_spec spec = {
		.name = POD_NAME, .driver = TESTPOD_SYSTEMD, .qos = TESTPOD_BURSTABLE,
		.ipv4 = POD_IPV4, .ipv6 = POD_IPV6, .n_containers = 1, .serve_mask = 1,
	};
	struct testpod *pod = NULL;
	int err = bench_pod_create(&spec, &pod);

	if (err)
		fail("testpod_create " POD_NAME, err);
	return pod;
}

struct pod_calls {
	uint64_t total;   /* every syscall the pod's cgroups made */
	uint64_t getppid; /* its listed getppid counter */
};

static struct pod_calls pod_calls(struct dataplane *dp, const char *uid)
{
	struct pod_counters all[8];
	int n = dataplane_read_counters(dp, all, 8);

	if (n < 0)
		fail("dataplane_read_counters", n);
	for (int i = 0; i < n; i++) {
		struct pod_calls c = { .total = all[i].syscalls_total };

		if (strcmp(all[i].uid, uid) != 0)
			continue;
		for (int j = 0; j < all[i].n_listed; j++)
			if (all[i].listed_nr[j] == SYS_getppid)
				c.getppid = all[i].listed_count[j];
		return c;
	}
	fail("pod counters", ENOENT);
	return (struct pod_calls){ 0, 0 };
}

/* Our program and a baseline, read around a getppid loop of this process (untracked) or of the
 * pod's container (tracked). */
static struct round measure(struct dataplane *dp, struct testpod *pod, bool in_pod, int ours_fd,
			    int base_fd, long calls)
{
	struct prog_stats ours0, ours1, base0, base1;
	struct pod_calls pod0 = pod_calls(dp, testpod_uid(pod)), pod1;
	struct round r;
	int err;

	if ((err = bpf_stats_read(ours_fd, &ours0)) || (err = bpf_stats_read(base_fd, &base0)))
		fail("bpf_obj_get_info_by_fd", err);
	if (in_pod) {
		pid_t pid = testpod_spawn(pod, 0, getppid_loop, &calls);

		if (pid < 0)
			fail("testpod_spawn", pid);
		if ((err = testpod_wait(pid, 300 * 1000)) != 0)
			fail("getppid loop in the pod", err < 0 ? err : ECHILD);
	} else {
		getppid_loop(&calls);
	}
	if ((err = bpf_stats_read(ours_fd, &ours1)) || (err = bpf_stats_read(base_fd, &base1)))
		fail("bpf_obj_get_info_by_fd", err);
	pod1 = pod_calls(dp, testpod_uid(pod));
	/* The loop must have taken the path we claim to measure. */
	if (in_pod && pod1.getppid - pod0.getppid != (uint64_t)calls)
		fail("the pod's getppid calls were not all counted (not tracked?)", EIO);
	if (!in_pod && pod1.getppid != pod0.getppid)
		fail("this process's getppid calls were counted for the pod", EIO);
	r.ours_ns = bpf_stats_ns_per_run(&ours0, &ours1);
	r.baseline_ns = bpf_stats_ns_per_run(&base0, &base1);
	r.tracked_share = (double)(pod1.total - pod0.total) / (double)(ours1.run_cnt - ours0.run_cnt);
	if (r.ours_ns <= 0 || r.baseline_ns <= 0)
		fail("programs did not run during the loop", EIO);
	return r;
}

/* Best of the rounds for each program; both ran in every round on the same events. */
static void report(const char *what, const struct round *r, int n, const char *ours_name,
		   const char *base_name, const char *ratio_name)
{
	double ours = r[0].ours_ns, base = r[0].baseline_ns;

	fprintf(stderr, "# %s rounds (ours/baseline ns, share of our runs that were the pod's):", what);
	for (int i = 0; i < n; i++) {
		if (r[i].ours_ns < ours)
			ours = r[i].ours_ns;
		if (r[i].baseline_ns < base)
			base = r[i].baseline_ns;
		fprintf(stderr, " %.1f/%.1f %.3f", r[i].ours_ns, r[i].baseline_ns, r[i].tracked_share);
	}
	fprintf(stderr, "\n");
	bench_print(ours_name, ours, "ns");
	bench_print(base_name, base, "ns");
	bench_print(ratio_name, ours / base, "x");
}

int main(void)
{
	long calls = bench_env_long("BENCH_SYSCALL_CALLS", 5000000);
	int rounds = (int)bench_env_long("BENCH_ROUNDS", 5);
	struct round untracked[16], tracked[16];
	char link_pin[256];
	struct bench_empty *empty;
	struct dataplane *dp = NULL;
	struct testpod *pod;
	int err, ours_fd, base_fd, stats_fd;

	if (rounds > 16)
		rounds = 16;
	bench_exit_on_signals();
	atexit(bpftrace_stop);
	if ((err = testpod_suite_lock("bench-syscall")) < 0)
		fail("suite lock", err);
	stats_fd = bpf_stats_enable();
	if (stats_fd < 0)
		fail("BPF_ENABLE_STATS", stats_fd);

	pod = pod_create();
	if ((err = bench_dataplane_open(&dp)))
		fail("dataplane_open", err);
	struct pod_ref ref = { .uid = testpod_uid(pod), .namespace = "bench", .name = POD_NAME };
	struct pod_policy policy = { .syscalls_enabled = true, .syscall_nrs = allowlist,
				     .n_syscalls = sizeof(allowlist) / sizeof(allowlist[0]) };
	if ((err = dataplane_apply_pod(dp, &ref, &policy)))
		fail(dataplane_pod_error(dp, ref.uid), err);
	snprintf(link_pin, sizeof(link_pin), "%s/v%d/sys_enter_link", bench_pin_root(), PCMC_LAYOUT_VERSION);
	ours_fd = bpf_stats_prog_of_link(link_pin);
	if (ours_fd < 0)
		fail(link_pin, ours_fd);

	/* Untracked: this process (not in the pod), the empty program attached beside ours. */
	empty = bench_empty__open_and_load();
	if (!empty || (err = bench_empty__attach(empty)))
		fail("bench_empty load/attach", empty ? err : errno);
	base_fd = bpf_program__fd(empty->progs.empty_sys_enter);
	for (int i = 0; i < rounds; i++)
		untracked[i] = measure(dp, pod, false, ours_fd, base_fd, calls);
	bench_empty__destroy(empty);
	report("untracked", untracked, rounds, "syscall_untracked_ns", "syscall_empty_ns",
	       "syscall_untracked_vs_empty");

	/* Tracked: the pod's container, bpftrace counting per cgroup and syscall beside ours. */
	bpftrace_pid = bpftrace_start();
	if (bpftrace_pid < 0)
		fail("starting bpftrace", bpftrace_pid);
	base_fd = bpftrace_prog(bpftrace_pid);
	if (base_fd < 0)
		fail("bpftrace's program (is bpftrace installed, did it attach?)", base_fd);
	for (int i = 0; i < rounds; i++)
		tracked[i] = measure(dp, pod, true, ours_fd, base_fd, calls);
	bpftrace_stop();
	report("tracked", tracked, rounds, "syscall_tracked_ns", "syscall_bpftrace_ns",
	       "syscall_tracked_vs_bpftrace");

	close(base_fd);
	close(ours_fd);
	dataplane_remove_pod(dp, ref.uid);
	dataplane_close(dp);
	testpod_destroy(pod);
	close(stats_fd);
	return 0;
}
