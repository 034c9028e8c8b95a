/* Syscalls counted from a new cgroup's first instruction (the kernel gives a tracked pod's new
 * cgroups their storage at mkdir, no agent involved), and 32-bit (int 0x80) syscalls by name. */
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/pcmc.h"
#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

static const int listed[] = { SYS_getppid, SYS_semget };
static const struct pod_policy count_getppid = {
	.syscalls_enabled = true, .syscall_nrs = listed, .n_syscalls = 2,
};

static int getppid_loop(void *arg)
{
	for (int i = 0; i < *(const int *)arg; i++)
		syscall(SYS_getppid);
	return 0;
}

static void run_getppid(struct testpod *pod, int container, int n)
{
	pid_t pid = testpod_spawn(pod, container, getppid_loop, &n);

	ck_assert_msg(pid > 0, "testpod_spawn: %d", pid);
	ck_assert_int_eq(testpod_wait(pid, 10000), 0);
}

/* A child that moves itself into dir (which must exist) and makes n getppid there. */
static void run_getppid_in_cgroup(const char *dir, int n)
{
	char procs[PATH_MAX];
	int status;
	pid_t pid;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(100);
		close(fd);
		for (int i = 0; i < n; i++)
			syscall(SYS_getppid);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child in %s: status %d", dir, status);
}

/* 1 if the cgroup dir carries pcmc storage in the pinned map of the test pin root, 0 if not. */
static int has_storage(const char *dir)
{
	char path[PATH_MAX];
	struct pcmc_cgroup_pod value;
	int map, cg, err;

	snprintf(path, sizeof(path), "%s/v%d/tracked_cgroups", fx_pin_root(), PCMC_LAYOUT_VERSION);
	map = bpf_obj_get(path);
	ck_assert_msg(map >= 0, "bpf_obj_get %s: %s", path, strerror(errno));
	cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(cg >= 0, "open %s: %s", dir, strerror(errno));
	err = bpf_map_lookup_elem(map, &cg, &value);
	close(cg);
	close(map);
	return err == 0;
}

START_TEST(restarted_containers_counted_from_their_first_syscall_with_no_agent_running)
{
	struct testpod *pod = fx_pod("dpmk1", 8, 1, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_counters c;

	fx_apply(dp, pod, &count_getppid);
	dataplane_close(dp); /* the agent is gone; only the pinned programs and maps remain */
	for (int round = 0; round < 5; round++) {
		int err = testpod_restart_container(pod, 0); /* new container cgroup */

		ck_assert_msg(err == 0, "restart: %s", strerror(-err));
		run_getppid(pod, 0, 100);
	}
	dp = fx_open(0);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 500);
	dataplane_close(dp);
}
END_TEST

START_TEST(cgroups_made_below_a_container_are_tracked_at_creation)
{
	struct testpod *pod = fx_pod("dpmk2", 8, 2, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1);
	struct dataplane *dp = fx_open(0);
	char child[PATH_MAX], grandchild[PATH_MAX + 16];
	struct pod_counters c;

	fx_apply(dp, pod, &count_getppid);
	snprintf(child, sizeof(child), "%s/nested", testpod_container_cgroup_dir(pod, 0));
	snprintf(grandchild, sizeof(grandchild), "%s/deeper", child);
	ck_assert_int_eq(mkdir(child, 0755), 0);
	ck_assert_int_eq(mkdir(grandchild, 0755), 0);
	ck_assert_int_eq(has_storage(grandchild), 1);
	run_getppid_in_cgroup(grandchild, 321);
	run_getppid_in_cgroup(child, 4);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 325);
	ck_assert_int_eq(rmdir(grandchild), 0);
	ck_assert_int_eq(rmdir(child), 0);
	dataplane_close(dp);
}
END_TEST

START_TEST(new_cgroups_of_untracked_and_removed_pods_get_no_storage)
{
	struct testpod *removed = fx_pod("dpmk3", 8, 3, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	struct testpod *untracked = fx_pod("dpmk4", 8, 4, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	struct dataplane *dp = fx_open(0);
	char dir[PATH_MAX];

	fx_apply(dp, removed, &count_getppid);
	ck_assert_int_eq(dataplane_remove_pod(dp, testpod_uid(removed)), 0);
	snprintf(dir, sizeof(dir), "%s/after-remove", testpod_cgroup_dir(removed));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(has_storage(dir), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	snprintf(dir, sizeof(dir), "%s/never-tracked", testpod_cgroup_dir(untracked));
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(has_storage(dir), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	dataplane_close(dp);
}
END_TEST

#ifdef __x86_64__
#define NR32_GETPPID 64     /* i386; 64 is semget on x86-64 */
#define NR32_SOCKETCALL 102 /* i386 only: no native syscall of that name; 102 is x86-64's getuid */

struct int80_calls {
	long nr;
	int n;
};

static int int80_loop(void *arg)
{
	const struct int80_calls *c = arg;

	for (int i = 0; i < c->n; i++) {
		long ret;

		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(c->nr), "b"(0), "c"(0) : "r8", "r9", "r10", "r11", "memory");
	}
	return 0;
}

static void run_int80(struct testpod *pod, long nr, int n)
{
	struct int80_calls c = { .nr = nr, .n = n };
	pid_t pid = testpod_spawn(pod, 0, int80_loop, &c);

	ck_assert_msg(pid > 0, "testpod_spawn: %d", pid);
	ck_assert_int_eq(testpod_wait(pid, 10000), 0);
}

/* Whether this kernel has the 32-bit entry at all: a child makes one int 0x80 getpid. Some VMs have
 * CONFIG_IA32_EMULATION but no gate at vector 0x80 (a PVM guest: #GP, the child dies of SIGSEGV). */
static bool int80_available(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		long ret;

		signal(SIGSEGV, SIG_DFL); /* no sanitizer report: the probe's death is the answer */
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "r8", "r9", "r10", "r11", "memory");
		_exit(ret == getpid() ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(a_32_bit_syscall_counts_under_its_name)
{
	struct testpod *pod = fx_pod("dpmk5", 8, 5, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_counters before, after;

	fx_apply(dp, pod, &count_getppid);
	run_int80(pod, NR32_GETPPID, 0); /* the spawn's own syscalls: a fixed overhead */
	before = fx_counters(dp, testpod_uid(pod));
	run_int80(pod, NR32_GETPPID, 700);
	run_getppid(pod, 0, 11);
	after = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&after, SYS_getppid) - fx_listed(&before, SYS_getppid), 711);
	ck_assert_uint_eq(fx_listed(&after, SYS_semget), 0);
	dataplane_close(dp);
}
END_TEST

START_TEST(a_32_bit_syscall_without_a_native_namesake_counts_outside_the_list)
{
	static const int getppid_getuid[] = { SYS_getppid, SYS_getuid };
	static const struct pod_policy p = { .syscalls_enabled = true, .syscall_nrs = getppid_getuid, .n_syscalls = 2 };
	struct testpod *pod = fx_pod("dpmk6", 8, 6, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_counters before, mid, after;

	fx_apply(dp, pod, &p);
	before = fx_counters(dp, testpod_uid(pod));
	run_int80(pod, NR32_SOCKETCALL, 0);
	mid = fx_counters(dp, testpod_uid(pod));
	run_int80(pod, NR32_SOCKETCALL, 400);
	after = fx_counters(dp, testpod_uid(pod));
	uint64_t overhead = mid.syscalls_outside_list - before.syscalls_outside_list;

	ck_assert_uint_eq(after.syscalls_outside_list - mid.syscalls_outside_list, overhead + 400);
	ck_assert_uint_eq(fx_listed(&after, SYS_getppid), 0);
	ck_assert_uint_eq(fx_listed(&after, SYS_getuid), 0);
	dataplane_close(dp);
}
END_TEST
#endif

void add_syscall_mkdir_tests(TCase *tc)
{
	tcase_add_test(tc, restarted_containers_counted_from_their_first_syscall_with_no_agent_running);
	tcase_add_test(tc, cgroups_made_below_a_container_are_tracked_at_creation);
	tcase_add_test(tc, new_cgroups_of_untracked_and_removed_pods_get_no_storage);
#ifdef __x86_64__
	if (!int80_available()) {
		printf("# NOT RUN: a_32_bit_syscall_* (this kernel has no 32-bit syscall entry: int $0x80 "
		       "from a 64-bit process dies of SIGSEGV, as in a PVM guest); the i386 translation table "
		       "is still checked by syscall_table_test\n");
		fflush(stdout);
		return;
	}
	tcase_add_test(tc, a_32_bit_syscall_counts_under_its_name);
	tcase_add_test(tc, a_32_bit_syscall_without_a_native_namesake_counts_outside_the_list);
#endif
}
