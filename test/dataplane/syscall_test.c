/* Syscall counter against the real kernel: exact getppid counts in tracked pods of every cgroup
 * layout, outside-list counts, untracked processes, restarted containers, policy changes. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"

struct calls {
	int getppid;
	int getpid;
};

static int do_calls(void *arg)
{
	const struct calls *c = arg;

	for (int i = 0; i < c->getppid; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < c->getpid; i++)
		syscall(SYS_getpid);
	return 0;
}

static void run_in(struct testpod *pod, int container, int n_getppid, int n_getpid)
{
	struct calls c = { .getppid = n_getppid, .getpid = n_getpid };
	pid_t pid = testpod_spawn(pod, container, do_calls, &c);

	ck_assert_msg(pid > 0, "testpod_spawn: %d", pid);
	ck_assert_int_eq(testpod_wait(pid, 10000), 0);
}

static const int listed[] = { SYS_getppid, SYS_getuid };
static const struct pod_policy count_getppid = {
	.syscalls_enabled = true, .syscall_nrs = listed, .n_syscalls = 2,
};

static void check_layout(enum testpod_driver driver, enum testpod_qos qos, int host)
{
	struct testpod *pod = fx_pod("dpsys", 1, host, driver, qos, 2);
	struct dataplane *dp = fx_open(0);
	struct pod_counters c;

	fx_apply(dp, pod, &count_getppid);
	run_in(pod, 0, 1000, 0);
	run_in(pod, 1, 234, 0);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 1234);
	ck_assert_uint_eq(fx_listed(&c, SYS_getuid), 0);
	ck_assert_uint_eq(c.syscalls_total, c.syscalls_outside_list + 1234);
	dataplane_close(dp);
}

START_TEST(getppid_counted_exactly_cgroupfs_guaranteed) { check_layout(TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1); }
END_TEST
START_TEST(getppid_counted_exactly_cgroupfs_burstable) { check_layout(TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 2); }
END_TEST
START_TEST(getppid_counted_exactly_cgroupfs_besteffort) { check_layout(TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 3); }
END_TEST
START_TEST(getppid_counted_exactly_systemd_guaranteed) { check_layout(TESTPOD_SYSTEMD, TESTPOD_GUARANTEED, 4); }
END_TEST
START_TEST(getppid_counted_exactly_systemd_burstable) { check_layout(TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 5); }
END_TEST
START_TEST(getppid_counted_exactly_systemd_besteffort) { check_layout(TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 6); }
END_TEST

START_TEST(syscalls_outside_the_list_are_counted_as_outside)
{
	struct testpod *pod = fx_pod("dpout", 1, 10, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_counters before, mid, after;

	fx_apply(dp, pod, &count_getppid);
	before = fx_counters(dp, testpod_uid(pod));
	run_in(pod, 0, 10, 0); /* the spawn's own syscalls around fn: a fixed overhead */
	mid = fx_counters(dp, testpod_uid(pod));
	run_in(pod, 0, 10, 5000);
	after = fx_counters(dp, testpod_uid(pod));
	uint64_t overhead = mid.syscalls_outside_list - before.syscalls_outside_list;

	ck_assert_uint_eq(after.syscalls_outside_list - mid.syscalls_outside_list, overhead + 5000);
	ck_assert_uint_eq(fx_listed(&after, SYS_getppid), 20);
	ck_assert_uint_eq(after.syscalls_total - mid.syscalls_total, overhead + 5000 + 10);
	dataplane_close(dp);
}
END_TEST

START_TEST(untracked_processes_on_the_node_are_not_counted)
{
	struct testpod *tracked = fx_pod("dptrk", 1, 11, TESTPOD_CGROUPFS, TESTPOD_BESTEFFORT, 1);
	struct testpod *other = fx_pod("dpunt", 1, 12, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1);
	struct dataplane *dp = fx_open(0);
	struct pod_counters before, after;

	fx_apply(dp, tracked, &count_getppid);
	before = fx_counters(dp, testpod_uid(tracked));
	for (int i = 0; i < 3000; i++)
		syscall(SYS_getppid); /* this test process: not in any pod */
	run_in(other, 0, 3000, 0); /* a pod without a policy */
	after = fx_counters(dp, testpod_uid(tracked));
	ck_assert_uint_eq(after.syscalls_total, before.syscalls_total);
	ck_assert_uint_eq(fx_listed(&after, SYS_getppid), 0);
	ck_assert_int_eq(fx_counters(dp, testpod_uid(other)).syscalls_total, 0);
	dataplane_close(dp);
}
END_TEST

START_TEST(restarted_container_is_counted_again)
{
	struct testpod *pod = fx_pod("dprst", 1, 13, TESTPOD_SYSTEMD, TESTPOD_BURSTABLE, 2);
	struct dataplane *dp = fx_open(0);
	struct pod_counters c;
	int err;

	fx_apply(dp, pod, &count_getppid);
	run_in(pod, 0, 100, 0);
	err = testpod_restart_container(pod, 0);
	ck_assert_msg(err == 0, "restart: %s", strerror(-err));
	/* The agent's event loop: the event fd became readable, then refresh (which finds the new
	 * cgroup already tracked: the kernel did it at mkdir, test/dataplane/syscall_mkdir_test.c). */
	struct pollfd pfd = { .fd = dataplane_event_fd(dp), .events = POLLIN };

	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_ge(dataplane_refresh(dp), 0);
	run_in(pod, 0, 500, 0);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 600);
	dataplane_close(dp);
}
END_TEST

START_TEST(changing_the_list_keeps_counts_of_syscalls_that_stay)
{
	struct testpod *pod = fx_pod("dpchg", 1, 14, TESTPOD_CGROUPFS, TESTPOD_GUARANTEED, 1);
	struct dataplane *dp = fx_open(0);
	static const int only_getpid[] = { SYS_getpid };
	static const int both[] = { SYS_getpid, SYS_getppid };
	struct pod_policy p = { .syscalls_enabled = true };
	struct pod_counters c;

	fx_apply(dp, pod, &count_getppid);
	run_in(pod, 0, 300, 0);
	p.syscall_nrs = both;
	p.n_syscalls = 2;
	fx_apply(dp, pod, &p); /* getuid leaves, getpid joins */
	run_in(pod, 0, 100, 40);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 400);
	ck_assert_uint_eq(fx_listed(&c, SYS_getpid), 40);
	p.syscall_nrs = only_getpid;
	p.n_syscalls = 1;
	fx_apply(dp, pod, &p); /* getppid leaves: its counter index is freed and zeroed */
	p.syscall_nrs = both;
	p.n_syscalls = 2;
	fx_apply(dp, pod, &p); /* and comes back from zero */
	run_in(pod, 0, 7, 0);
	c = fx_counters(dp, testpod_uid(pod));
	ck_assert_uint_eq(fx_listed(&c, SYS_getppid), 7);
	ck_assert_uint_eq(fx_listed(&c, SYS_getpid), 40);
	dataplane_close(dp);
}
END_TEST

START_TEST(pods_count_only_their_own_syscalls)
{
	struct testpod *pods[3] = {
		fx_pod("dpsys1", 1, 21, TESTPOD_CGROUPFS, TESTPOD_BURSTABLE, 1),
		fx_pod("dpsys2", 1, 22, TESTPOD_SYSTEMD, TESTPOD_GUARANTEED, 1),
		fx_pod("dpsys3", 1, 23, TESTPOD_SYSTEMD, TESTPOD_BESTEFFORT, 1),
	};
	static const int lists[3][2] = { { SYS_getuid, SYS_getppid }, { SYS_getppid, SYS_getpid }, { SYS_getpid, 0 } };
	struct dataplane *dp = fx_open(0);
	struct pod_counters c[3];

	for (int i = 0; i < 3; i++) {
		struct pod_policy p = { .syscalls_enabled = true, .syscall_nrs = lists[i], .n_syscalls = 2 };

		fx_apply(dp, pods[i], &p);
	}
	run_in(pods[0], 0, 111, 0);
	run_in(pods[1], 0, 222, 333);
	run_in(pods[2], 0, 444, 555);
	for (int i = 0; i < 3; i++)
		c[i] = fx_counters(dp, testpod_uid(pods[i]));
	ck_assert_uint_eq(fx_listed(&c[0], SYS_getppid), 111);
	ck_assert_uint_eq(fx_listed(&c[1], SYS_getppid), 222);
	ck_assert_uint_eq(fx_listed(&c[1], SYS_getpid), 333);
	ck_assert_uint_eq(fx_listed(&c[2], SYS_getpid), 555);
	ck_assert_uint_eq(fx_listed(&c[2], SYS_getppid), 0);
	ck_assert_uint_ge(c[2].syscalls_outside_list, 444);
	ck_assert_uint_lt(c[0].syscalls_total, 111 + 100);
	dataplane_close(dp);
}
END_TEST

void add_syscall_tests(TCase *tc)
{
	tcase_add_test(tc, pods_count_only_their_own_syscalls);
	tcase_add_test(tc, getppid_counted_exactly_cgroupfs_guaranteed);
	tcase_add_test(tc, getppid_counted_exactly_cgroupfs_burstable);
	tcase_add_test(tc, getppid_counted_exactly_cgroupfs_besteffort);
	tcase_add_test(tc, getppid_counted_exactly_systemd_guaranteed);
	tcase_add_test(tc, getppid_counted_exactly_systemd_burstable);
	tcase_add_test(tc, getppid_counted_exactly_systemd_besteffort);
	tcase_add_test(tc, syscalls_outside_the_list_are_counted_as_outside);
	tcase_add_test(tc, untracked_processes_on_the_node_are_not_counted);
	tcase_add_test(tc, restarted_container_is_counted_again);
	tcase_add_test(tc, changing_the_list_keeps_counts_of_syscalls_that_stay);
}
