/* Merge rules of the effective policy: blocked ports win over allowed, lists add up, block wins
 * as default action, the shortest updateInterval wins, and disagreeing CRs are named as conflicts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/effective_policy.h"
#include "test/common/tap_main.h"

static struct ebpf_settings fw(const char *allowed, const char *blocked, const char *action)
{
	return (struct ebpf_settings){ .l4_firewall_enabled = true, .allowed_ports = (char *)allowed,
				       .blocked_ports = (char *)blocked, .default_action = (char *)action,
				       .syscall_names = (char *)"", .update_interval = (char *)"" };
}

START_TEST(one_cr_is_taken_as_written)
{
	struct ebpf_settings a = fw("443,80", "22", "allow");
	const struct ebpf_settings *in[] = { &a };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	ck_assert(p.firewall_enabled && !p.syscall_enabled && !p.metrics_enabled);
	ck_assert_int_eq(p.nallowed, 2);
	ck_assert_int_eq(p.allowed[0], 80);
	ck_assert_int_eq(p.allowed[1], 443);
	ck_assert_int_eq(p.nblocked, 1);
	ck_assert(!p.default_block);
	ck_assert_int_eq(p.conflicts, 0);
	ck_assert(effective_policy_wanted(&p));
	effective_policy_clear(&p);
}
END_TEST

START_TEST(blocked_port_wins_over_allowed)
{
	struct ebpf_settings a = fw("80,8080", "", "allow"), b = fw("", "8080", "allow");
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;
	char names[200];

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.nallowed, 1);
	ck_assert_int_eq(p.allowed[0], 80);
	ck_assert_int_eq(p.nblocked, 1);
	ck_assert_int_eq(p.blocked[0], 8080);
	effective_policy_conflict_names(p.conflicts, names, sizeof(names));
	ck_assert_str_eq(names, "l4Firewall.allowedPorts,l4Firewall.blockedPorts");
	effective_policy_clear(&p);
}
END_TEST

START_TEST(allowed_ports_add_up_and_block_default_wins)
{
	struct ebpf_settings a = fw("80", "", "allow"), b = fw("443", "", "block");
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.nallowed, 2);
	ck_assert(p.default_block);
	ck_assert(p.conflicts & CONFLICT_DEFAULT_ACTION);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(syscall_names_add_up_without_duplicates)
{
	struct ebpf_settings a = { .syscall_monitoring_enabled = true, .syscall_names = (char *)"write,read" };
	struct ebpf_settings b = { .syscall_monitoring_enabled = true, .syscall_names = (char *)"read,openat" };
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.nsyscalls, 3);
	ck_assert_str_eq(p.syscalls[0], "openat");
	ck_assert_str_eq(p.syscalls[1], "read");
	ck_assert_str_eq(p.syscalls[2], "write");
	ck_assert(p.conflicts & CONFLICT_SYSCALL_NAMES);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(same_names_in_another_order_are_no_conflict)
{
	struct ebpf_settings a = { .syscall_monitoring_enabled = true, .syscall_names = (char *)"write,read" };
	struct ebpf_settings b = { .syscall_monitoring_enabled = true, .syscall_names = (char *)"read,write" };
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.conflicts, 0);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(shortest_update_interval_wins)
{
	struct ebpf_settings a = { .metrics_export_enabled = true, .update_interval = (char *)"1m" };
	struct ebpf_settings b = { .metrics_export_enabled = true, .update_interval = (char *)"1500ms" };
	struct ebpf_settings c = { .metrics_export_enabled = true, .update_interval = (char *)"" };
	const struct ebpf_settings *in[] = { &a, &b, &c };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 3, &p, NULL, 0), 0);
	ck_assert_str_eq(p.update_interval, "1500ms");
	ck_assert_int_eq(p.update_interval_ms, 1500);
	ck_assert(p.conflicts & CONFLICT_UPDATE_INTERVAL);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(disabled_sections_have_no_say)
{
	struct ebpf_settings a = fw("80", "", "allow");
	struct ebpf_settings b = fw("9999", "1", "block");
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;

	b.l4_firewall_enabled = false;
	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.nallowed, 1);
	ck_assert_int_eq(p.nblocked, 0);
	ck_assert(!p.default_block);
	ck_assert_int_eq(p.conflicts, 0);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(nothing_enabled_is_not_pushed)
{
	struct ebpf_settings a = { 0 };
	const struct ebpf_settings *in[] = { &a };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	ck_assert(!effective_policy_wanted(&p));
	effective_policy_clear(&p);
}
END_TEST

START_TEST(more_than_64_syscalls_together_is_refused)
{
	char a_names[2000] = "", b_names[2000] = "", why[200];
	struct ebpf_settings a = { .syscall_monitoring_enabled = true, .syscall_names = a_names };
	struct ebpf_settings b = { .syscall_monitoring_enabled = true, .syscall_names = b_names };
	const struct ebpf_settings *in[] = { &a, &b };
	struct effective_policy p;

	for (int i = 0; i < 40; i++) {
		snprintf(a_names + strlen(a_names), 20, "%sa%d", i ? "," : "", i);
		snprintf(b_names + strlen(b_names), 20, "%sb%d", i ? "," : "", i);
	}
	ck_assert_int_eq(effective_policy_merge(in, 2, &p, why, sizeof(why)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(why, "64"));
}
END_TEST

START_TEST(policy_json_is_what_the_agent_takes)
{
	struct ebpf_settings a = fw("80", "22", "block");
	const struct ebpf_settings *in[] = { &a };
	struct effective_policy p;
	cJSON *json;
	char *s;

	a.metrics_export_enabled = true;
	a.update_interval = (char *)"2s";
	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	json = effective_policy_to_json(&p);
	s = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	ck_assert_str_eq(s, "{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80],\"blockedPorts\":[22],"
			    "\"defaultAction\":\"block\"},\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"2s\"}}");
	free(s);
	effective_policy_clear(&p);
}
END_TEST

START_TEST(go_durations)
{
	long long ms;

	ck_assert_int_eq(go_duration_ms("1m30s", &ms), 0);
	ck_assert_int_eq(ms, 90000);
	ck_assert_int_eq(go_duration_ms("1.5h", &ms), 0);
	ck_assert_int_eq(ms, 5400000);
	ck_assert_int_eq(go_duration_ms("250ms", &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(go_duration_ms("10", &ms), -EINVAL);
	ck_assert_int_eq(go_duration_ms("", &ms), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("effective_policy");
	TCase *tc = tcase_create("merge");

	tcase_add_test(tc, one_cr_is_taken_as_written);
	tcase_add_test(tc, blocked_port_wins_over_allowed);
	tcase_add_test(tc, allowed_ports_add_up_and_block_default_wins);
	tcase_add_test(tc, syscall_names_add_up_without_duplicates);
	tcase_add_test(tc, same_names_in_another_order_are_no_conflict);
	tcase_add_test(tc, shortest_update_interval_wins);
	tcase_add_test(tc, disabled_sections_have_no_say);
	tcase_add_test(tc, nothing_enabled_is_not_pushed);
	tcase_add_test(tc, more_than_64_syscalls_together_is_refused);
	tcase_add_test(tc, policy_json_is_what_the_agent_takes);
	tcase_add_test(tc, go_durations);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
