/* node_policy_apply's diff and error handling against a recording enforcer (a hand-written fake:
 * the real dataplane is exercised by test/agent/agent.sh): what is applied, left alone, removed,
 * failed and retried, and what GET /v1/policy then says. */
#include "agent/service/agent_apply.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records calls; fails apply_pod with fail_err for the uid fail_uid. */
struct recording_enforcer {
	struct enforcer base;
	int applies, removes, orphan_calls;
	char last_applied[64];
	const char *fail_uid;
	int fail_err;
	size_t last_wanted;
};

static int rec_apply(struct enforcer *e, const struct policy_pod *pod, char *why, size_t len)
{
	struct recording_enforcer *r = (struct recording_enforcer *)e;

	r->applies++;
	snprintf(r->last_applied, sizeof(r->last_applied), "%s", pod->uid);
	if (r->fail_uid && !strcmp(r->fail_uid, pod->uid)) {
		snprintf(why, len, "pod cgroup not found");
		return r->fail_err;
	}
	return 0;
}

static int rec_remove(struct enforcer *e, const char *uid)
{
	(void)uid;
	((struct recording_enforcer *)e)->removes++;
	return 0;
}

static int rec_orphans(struct enforcer *e, const char *const *uids, size_t n)
{
	struct recording_enforcer *r = (struct recording_enforcer *)e;

	(void)uids;
	r->orphan_calls++;
	r->last_wanted = n;
	return 0;
}

static struct recording_enforcer rec;
static struct node_policy np;

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	rec.base = (struct enforcer){ .apply_pod = rec_apply, .remove_pod = rec_remove, .remove_orphans = rec_orphans };
	memset(&np, 0, sizeof(np));
	np.enforcer = &rec.base;
}

static void teardown(void)
{
	node_policy_clear(&np);
}

/* A push of pods "uid=POLICY" separated by ';', decoded for arm64. */
static struct policy_push *push(int64_t revision, const char *pods)
{
	char body[8192], *list = strdup(pods), *save = NULL;
	int n = snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":%lld,\"pods\":[",
			 (long long)revision);
	struct policy_decode_opts o = { .arch = "arm64" };
	struct policy_push *p;
	struct json_error e;
	bool first = true;

	for (char *pod = strtok_r(list, ";", &save); pod; pod = strtok_r(NULL, ";", &save), first = false) {
		char *eq = strchr(pod, '=');

		*eq = '\0';
		n += snprintf(body + n, sizeof(body) - (size_t)n, "%s{\"uid\":\"%s\",\"namespace\":\"ns\",\"name\":\"%s\",\"policy\":%s}",
			      first ? "" : ",", pod, pod, eq + 1);
	}
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	free(list);
	ck_assert_msg(policy_push_decode(body, strlen(body), &o, &p, &e) == 0, "%s: %s", e.path, e.message);
	return p;
}

static enum pod_result result_of(const struct apply_report *r, const char *uid)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->pods[i].uid, uid))
			return r->pods[i].result;
	ck_abort_msg("no result for %s", uid);
	return POD_FAILED;
}

static void apply(struct policy_push *p, int64_t now, struct apply_report *r)
{
	ck_assert_int_eq(node_policy_apply(&np, p, now, r), 0);
}

#define FW_22 "{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[22]}}"
#define FW_23 "{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[23]}}"

START_TEST(a_diff_applies_only_what_changed_and_removes_what_left)
{
	struct apply_report r;

	apply(push(1, "a=" FW_22 ";b=" FW_22), 0, &r);
	ck_assert_int_eq(r.counts[POD_APPLIED], 2);
	ck_assert_int_eq(rec.applies, 2);
	ck_assert_int_eq(rec.orphan_calls, 1);
	ck_assert_uint_eq(rec.last_wanted, 2);
	apply_report_free(&r);

	apply(push(2, "a=" FW_22 ";b=" FW_22), 0, &r);
	ck_assert_int_eq(r.counts[POD_UNCHANGED], 2);
	ck_assert_int_eq(rec.applies, 2); /* not touched */
	apply_report_free(&r);

	apply(push(3, "a=" FW_22 ";b=" FW_23 ";c=" FW_22), 0, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_UNCHANGED);
	ck_assert_int_eq(result_of(&r, "b"), POD_APPLIED);
	ck_assert_int_eq(result_of(&r, "c"), POD_APPLIED);
	ck_assert_int_eq(rec.applies, 4);
	apply_report_free(&r);

	apply(push(4, "c=" FW_22), 0, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_REMOVED);
	ck_assert_int_eq(result_of(&r, "b"), POD_REMOVED);
	ck_assert_int_eq(result_of(&r, "c"), POD_UNCHANGED);
	ck_assert_int_eq(rec.removes, 2);
	ck_assert_ptr_nonnull(r.replaced); /* the removed pods' names stay readable until freed */
	apply_report_free(&r);
}
END_TEST

START_TEST(an_export_only_change_is_applied_without_touching_the_dataplane)
{
	struct apply_report r;

	apply(push(1, "a={\"l4Firewall\":{\"enabled\":true},\"metricsExport\":{\"enabled\":true}}"), 0, &r);
	apply_report_free(&r);
	apply(push(2, "a={\"l4Firewall\":{\"enabled\":true},\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"5s\"}}"),
	      1000, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_APPLIED);
	ck_assert_int_eq(rec.applies, 1);
	ck_assert_int_eq(np.status[0].next_read_ms, 1000); /* counters read at once with the new interval */
	apply_report_free(&r);
}
END_TEST

START_TEST(a_failed_pod_is_reported_and_retried_with_backoff)
{
	struct apply_report r;

	rec.fail_uid = "b";
	rec.fail_err = -ENOENT;
	apply(push(1, "a=" FW_22 ";b=" FW_22), 0, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_APPLIED);
	ck_assert_int_eq(result_of(&r, "b"), POD_FAILED);
	ck_assert_str_eq(r.pods[1].error, "pod cgroup not found");
	apply_report_free(&r);
	ck_assert_int_eq(np.status[1].errors[PROGRAM_SYSCALL_COUNTER][ERROR_POD_NOT_READY], 1);
	ck_assert(np.status[1].holds_policy); /* the dataplane finishes it when the cgroup appears */

	ck_assert_int_eq(node_policy_retry(&np, 1999), 0); /* backoff: 2 s */
	ck_assert_int_eq(rec.applies, 2);
	ck_assert_int_eq(node_policy_retry(&np, 2000), 0); /* still failing: next in 4 s */
	ck_assert_int_eq(rec.applies, 3);
	ck_assert_int_eq(np.status[1].next_retry_ms, 6000);
	rec.fail_uid = NULL;
	node_policy_retry_soon(&np); /* a container appeared */
	ck_assert_int_eq(node_policy_retry(&np, 2001), 1);
	ck_assert(np.status[1].ok);

	/* A full map changes nothing: the pod still holds the policy it had (port 22), not 23. */
	rec.fail_uid = "a";
	rec.fail_err = -ENOSPC;
	apply(push(2, "a=" FW_23 ";b=" FW_22), 3000, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_FAILED);
	ck_assert(np.status[0].holds_policy && !np.status[0].ok);
	ck_assert_int_eq(np.status[0].held.l4_firewall.blocked.ports[0], 22);
	ck_assert_int_eq(np.status[0].errors[PROGRAM_SYSCALL_COUNTER][ERROR_MAP_FULL], 1);
	apply_report_free(&r);
}
END_TEST

START_TEST(a_pod_invalid_on_this_node_fails_alone_and_is_never_retried)
{
	struct apply_report r;
	struct json_writer w;
	struct policy_push *got;
	struct json_error e;
	char *text;
	size_t len;

	apply(push(1, "a=" FW_22 ";b={\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\",\"open\"]}}"), 0, &r);
	ck_assert_int_eq(result_of(&r, "a"), POD_APPLIED);
	ck_assert_int_eq(result_of(&r, "b"), POD_FAILED);
	ck_assert_str_eq(r.pods[1].error, "unknown syscall \"open\" on arm64");
	ck_assert_str_eq(r.pods[1].path, "$.pods[1].policy.syscallMonitoring.syscallNames[1]");
	ck_assert_int_eq(rec.applies, 1); /* the enforcer never saw b */
	ck_assert_uint_eq(rec.last_wanted, 2); /* b is still wanted: what it held before stays */
	apply_report_free(&r);
	node_policy_retry_soon(&np);
	ck_assert_int_eq(node_policy_retry(&np, 1000000), 0);
	ck_assert_int_eq(rec.applies, 1);

	jw_init(&w);
	node_policy_write(&np, "n", &w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_int_eq(node_state_decode(text, len, &got, &e), 0);
	ck_assert_int_eq(got->n_pods, 2);
	ck_assert_int_eq(got->pods[0].state, POLICY_POD_APPLIED);
	ck_assert_int_eq(got->pods[1].state, POLICY_POD_FAILED);
	ck_assert_str_eq(got->pods[1].error, "unknown syscall \"open\" on arm64");
	ck_assert_str_eq(got->pods[1].error_path, "$.pods[1].policy.syscallMonitoring.syscallNames[1]");
	policy_push_free(got);
	free(text);

	/* Fixed in the next push: applied like any pod. */
	apply(push(2, "a=" FW_22 ";b={\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\"]}}"), 0, &r);
	ck_assert_int_eq(result_of(&r, "b"), POD_APPLIED);
	ck_assert_int_eq(rec.applies, 2);
	apply_report_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("node_policy_apply");
	TCase *tc = tcase_create("apply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_diff_applies_only_what_changed_and_removes_what_left);
	tcase_add_test(tc, an_export_only_change_is_applied_without_touching_the_dataplane);
	tcase_add_test(tc, a_failed_pod_is_reported_and_retried_with_backoff);
	tcase_add_test(tc, a_pod_invalid_on_this_node_fails_alone_and_is_never_retried);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
