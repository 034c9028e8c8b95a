/* What kubectl pcmc says about a pod in every case between "nothing to do" and "enforced", first
 * missing condition first; never enforced unless the agent holds this very policy as applied. And
 * each port's verdict as the firewall decides it. */
#include "kubectl-pcmc/verdict.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <string.h>

static struct ebpf_config want, other;
static struct policy_pod held_pod;
static struct policy_push held;
static struct verdict_input in;
static struct pod_verdict v;

static void setup(void)
{
	ebpf_config_init(&want);
	want.l4_firewall.enabled = true;
	ck_assert_int_eq(port_set_add(&want.l4_firewall.allowed, 8080), 0);
	ck_assert_int_eq(port_set_add(&want.l4_firewall.blocked, 22), 0);
	ebpf_config_init(&other);
	ck_assert_int_eq(ebpf_config_copy(&other, &want), 0);
	ck_assert_int_eq(port_set_add(&other.l4_firewall.allowed, 8081), 0);
	held_pod = (struct policy_pod){ .uid = "u1", .namespace = "shop", .name = "web-1", .state = POLICY_POD_APPLIED };
	ck_assert_int_eq(ebpf_config_copy(&held_pod.policy, &want), 0);
	held = (struct policy_push){ .node = "node-a", .has_sender = true, .sender = { "ctl-a", 3 }, .revision = 42,
				     .n_pods = 1, .pods = &held_pod };
	in = (struct verdict_input){ .wanted = true, .node = "node-a", .phase = "Running", .held = &held,
				     .held_pod = &held_pod, .want = &want };
}

static void teardown(void)
{
	ebpf_config_clear(&want);
	ebpf_config_clear(&other);
	ebpf_config_clear(&held_pod.policy);
}

static void expect(enum verdict_state state, const char *detail)
{
	pod_verdict_decide(&in, &v);
	ck_assert_str_eq(verdict_state_name(v.state), verdict_state_name(state));
	ck_assert_msg(strstr(v.detail, detail), "detail \"%s\" lacks \"%s\"", v.detail, detail);
}

START_TEST(applied_with_the_same_policy_is_enforced)
{
	expect(VERDICT_ENFORCED, "revision 42 from ctl-a (epoch 3)");
}
END_TEST

START_TEST(an_older_policy_held_is_pending_not_enforced)
{
	in.want = &other;
	expect(VERDICT_PENDING, "the agent holds an older policy (revision 42)");
}
END_TEST

START_TEST(failed_on_the_agent_is_failed_with_its_reason)
{
	held_pod.state = POLICY_POD_FAILED;
	held_pod.error = "pod cgroup not found (retried on refresh)";
	expect(VERDICT_FAILED, "pod cgroup not found (retried on refresh)");
}
END_TEST

START_TEST(not_held_by_the_agent_is_pending)
{
	in.held_pod = NULL;
	expect(VERDICT_PENDING, "not pushed to the agent yet (it holds revision 42)");
}
END_TEST

START_TEST(no_agent_or_an_unreadable_one_is_failed)
{
	in.agent_err = -ENOENT;
	in.held = NULL;
	expect(VERDICT_FAILED, "no running pcmc-agent on node node-a");
	in.agent_err = -ETIMEDOUT;
	in.agent_error = "GET http://10.0.0.1:9090/v1/policy: Timeout was reached";
	expect(VERDICT_FAILED, "cannot read the agent of node node-a: GET http://10.0.0.1:9090/v1/policy: Timeout");
	/* Read but nothing decoded: still never enforced. */
	in.agent_err = 0;
	expect(VERDICT_FAILED, "cannot read the agent of node node-a");
}
END_TEST

START_TEST(pods_not_running_are_pending_whatever_the_agent_says)
{
	in.phase = "Pending";
	expect(VERDICT_PENDING, "pod Pending, not Running");
	in.phase = "Running";
	in.terminating = true;
	expect(VERDICT_PENDING, "pod terminating");
	in.terminating = false;
	in.node = "";
	expect(VERDICT_PENDING, "pod not scheduled to a node");
}
END_TEST

START_TEST(a_failed_merge_fails_and_no_feature_wants_nothing)
{
	in.merge_err = -E2BIG;
	in.merge_why = "more than 256 allowed ports";
	expect(VERDICT_FAILED, "cannot be merged: more than 256 allowed ports");
	in.merge_err = 0;
	in.wanted = false;
	expect(VERDICT_NOT_WANTED, "no eBPF feature enabled");
}
END_TEST

START_TEST(port_verdicts_follow_the_firewall)
{
	const char *why;

	ck_assert(port_blocked(&want, 22, &why));
	ck_assert_str_eq(why, "blockedPorts");
	ck_assert(!port_blocked(&want, 8080, &why));
	ck_assert_str_eq(why, "allowedPorts");
	ck_assert(!port_blocked(&want, 7000, &why));
	ck_assert_str_eq(why, "defaultAction allow");
	want.l4_firewall.default_block = true;
	ck_assert(port_blocked(&want, 7000, &why));
	ck_assert_str_eq(why, "defaultAction block");
	want.l4_firewall.enabled = false;
	ck_assert(!port_blocked(&want, 22, &why));
	ck_assert_str_eq(why, "no firewall");
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("verdict");
	TCase *tc = tcase_create("verdict");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, applied_with_the_same_policy_is_enforced);
	tcase_add_test(tc, an_older_policy_held_is_pending_not_enforced);
	tcase_add_test(tc, failed_on_the_agent_is_failed_with_its_reason);
	tcase_add_test(tc, not_held_by_the_agent_is_pending);
	tcase_add_test(tc, no_agent_or_an_unreadable_one_is_failed);
	tcase_add_test(tc, pods_not_running_are_pending_whatever_the_agent_says);
	tcase_add_test(tc, a_failed_merge_fails_and_no_feature_wants_nothing);
	tcase_add_test(tc, port_verdicts_follow_the_firewall);
	suite_add_tcase(suite, tc);
	return run_suite_with_tap(suite);
}
