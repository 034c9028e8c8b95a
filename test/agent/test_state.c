/* The state file and the fencing rule: a push survives a restart byte for byte, a failed write
 * leaves the previous state in place, and older epochs/revisions are refused. */
#include "agent/service/agent_state.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char body[] =
	"{\"node\":\"node-1\",\"sender\":{\"identity\":\"ctl-a\",\"epoch\":7},\"revision\":9007199254740992,"
	"\"pods\":[{\"uid\":\"u-1\",\"namespace\":\"shop\",\"name\":\"web-1\",\"policy\":{"
	"\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"openat\",\"read\"]},"
	"\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80],\"blockedPorts\":[22],\"defaultAction\":\"block\"},"
	"\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"1m30s\"}}}]}";

START_TEST(state_file_round_trip)
{
	char dir[] = "/tmp/pcmc-agent-state-XXXXXX", sub[64], path[128];
	struct desired_state *s, *back;
	struct policy_error e;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/a/b", dir); /* created as needed */
	ck_assert_int_eq(state_load(sub, &back), -ENOENT);
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), 0);
	ck_assert_int_eq(state_save(sub, s), 0);
	ck_assert_int_eq(state_load(sub, &back), 0);
	ck_assert_int_eq(back->epoch, 7);
	ck_assert_int_eq(back->revision, 9007199254740992LL); /* 2^53 survives JSON */
	ck_assert_str_eq(back->identity, "ctl-a");
	ck_assert_int_eq(back->n_pods, 1);
	ck_assert(policy_same(&s->pods[0].policy, &back->pods[0].policy));
	snprintf(path, sizeof(path), "%s/state.json", sub);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/.state.json.tmp", sub);
	ck_assert_int_ne(access(path, F_OK), 0); /* renamed, not left behind */
	desired_state_free(back);

	/* A write that fails leaves the previous file as it was. */
	ck_assert_int_eq(mkdir(path, 0700), 0); /* the temp name is taken by a directory */
	s->epoch = 8;
	ck_assert_int_lt(state_save(sub, s), 0);
	ck_assert_int_eq(state_load(sub, &back), 0);
	ck_assert_int_eq(back->epoch, 7);
	desired_state_free(back);
	rmdir(path);

	/* A damaged file is refused, not half-used. */
	snprintf(path, sizeof(path), "%s/state.json", sub);
	FILE *f = fopen(path, "w");
	fputs("{\"node\":", f);
	fclose(f);
	ck_assert_int_eq(state_load(sub, &back), -EINVAL);
	ck_assert_ptr_null(back);
	desired_state_free(s);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

START_TEST(fencing_refuses_older_epochs_and_revisions)
{
	ck_assert_int_eq(fence_check(3, 10, 3, 10), 0);        /* the same push again: a retry */
	ck_assert_int_eq(fence_check(3, 10, 3, 11), 0);
	ck_assert_int_eq(fence_check(3, 10, 4, 0), 0);         /* a new leader counts from anywhere */
	ck_assert_int_eq(fence_check(3, 10, 3, 9), -ESTALE);
	ck_assert_int_eq(fence_check(3, 10, 2, 99), -ESTALE);  /* a deposed leader, however far along */
	ck_assert_int_eq(fence_check(0, 0, 0, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent state");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, state_file_round_trip);
	tcase_add_test(tc, fencing_refuses_older_epochs_and_revisions);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
