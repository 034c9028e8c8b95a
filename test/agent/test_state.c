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
	struct policy_push *s, *back;
	struct json_error e;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/a/b", dir); /* created as needed */
	ck_assert_int_eq(state_load(sub, NULL, &back), -ENOENT);
	ck_assert_int_eq(policy_push_decode(body, strlen(body), NULL, &s, &e), 0);
	ck_assert_int_eq(state_save(sub, s), 0);
	ck_assert_int_eq(state_load(sub, "x86_64", &back), 0);
	ck_assert_int_eq(back->sender.epoch, 7);
	ck_assert_int_eq(back->revision, 9007199254740992LL); /* 2^53 survives JSON */
	ck_assert_str_eq(back->sender.identity, "ctl-a");
	ck_assert(policy_push_equal(s, back));
	snprintf(path, sizeof(path), "%s/state.json", sub);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/.state.json.tmp", sub);
	ck_assert_int_ne(access(path, F_OK), 0); /* renamed, not left behind */
	policy_push_free(back);

	/* A write that fails leaves the previous file as it was. */
	ck_assert_int_eq(mkdir(path, 0700), 0); /* the temp name is taken by a directory */
	s->sender.epoch = 8;
	ck_assert_int_lt(state_save(sub, s), 0);
	ck_assert_int_eq(state_load(sub, NULL, &back), 0);
	ck_assert_int_eq(back->sender.epoch, 7);
	policy_push_free(back);
	rmdir(path);

	/* A damaged file is refused, not half-used. */
	snprintf(path, sizeof(path), "%s/state.json", sub);
	FILE *f = fopen(path, "w");
	fputs("{\"node\":", f);
	fclose(f);
	ck_assert_int_eq(state_load(sub, NULL, &back), -EINVAL);
	ck_assert_ptr_null(back);
	policy_push_free(s);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

static struct policy_push *push(int64_t epoch, int64_t revision, const char *identity, int blocked_port)
{
	char text[512];
	struct policy_push *p;
	struct json_error e;

	snprintf(text, sizeof(text), "{\"node\":\"n\",\"sender\":{\"identity\":\"%s\",\"epoch\":%lld},"
		 "\"revision\":%lld,\"pods\":[{\"uid\":\"u\",\"namespace\":\"ns\",\"name\":\"p\","
		 "\"policy\":{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[%d]}}}]}",
		 identity, (long long)epoch, (long long)revision, blocked_port);
	ck_assert_int_eq(policy_push_decode(text, strlen(text), NULL, &p, &e), 0);
	return p;
}

START_TEST(fencing_refuses_older_epochs_revisions_and_other_bodies)
{
	struct policy_push *held = push(3, 10, "ctl-a", 22);
	static const struct { int64_t epoch, revision; const char *identity; int port; enum fence_reason want; } cases[] = {
		{ 3, 10, "ctl-a", 22, FENCE_NONE },            /* the same push again: a retry */
		{ 3, 11, "ctl-a", 22, FENCE_NONE },
		{ 4, 0, "ctl-b", 23, FENCE_NONE },             /* a new epoch counts from anywhere */
		{ 3, 9, "ctl-a", 22, FENCE_OLDER_REVISION },
		{ 2, 99, "ctl-a", 22, FENCE_OLDER_EPOCH },     /* a deposed leader, however far along */
		{ 3, 10, "ctl-a", 23, FENCE_DIFFERENT_BODY },  /* same (epoch, revision), another body */
		{ 3, 10, "ctl-b", 22, FENCE_DIFFERENT_BODY },  /* ... or another sender */
	};

	ck_assert_int_eq(fence_check(NULL, held), FENCE_NONE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_push *p = push(cases[i].epoch, cases[i].revision, cases[i].identity, cases[i].port);

		ck_assert_msg(fence_check(held, p) == cases[i].want, "case %zu: %s", i,
			      fence_reason_name(fence_check(held, p)));
		policy_push_free(p);
	}
	policy_push_free(held);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent state");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, state_file_round_trip);
	tcase_add_test(tc, fencing_refuses_older_epochs_revisions_and_other_bodies);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
