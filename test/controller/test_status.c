/* Status rules: observedGeneration and matchedPods follow the reconcile, conditions keep their
 * lastTransitionTime unless their status flips, an unchanged status is not rewritten, and only the
 * transitions a user cares about raise Events. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "controller/objects.h"
#include "controller/status.h"
#include "test/common/tap_main.h"

static const char *cond_field(const cJSON *st, const char *field)
{
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "conditions"), 0);

	return cJSON_GetStringValue(cJSON_GetObjectItem(c, field));
}

START_TEST(first_status_has_ready_condition)
{
	struct status_outcome o = { .generation = 2, .matched_pods = 3, .ready = true, .reason = "ConfigMapsSynced",
				    .message = "ok" };
	bool changed;
	cJSON *st = status_desired(NULL, &o, "2026-01-01T00:00:00Z", &changed);

	ck_assert(changed);
	ck_assert_int_eq((int)cJSON_GetObjectItem(st, "observedGeneration")->valuedouble, 2);
	ck_assert_int_eq((int)cJSON_GetObjectItem(st, "matchedPods")->valuedouble, 3);
	ck_assert_str_eq(cond_field(st, "type"), "Ready");
	ck_assert_str_eq(cond_field(st, "status"), "True");
	ck_assert_str_eq(cond_field(st, "reason"), "ConfigMapsSynced");
	ck_assert_str_eq(cond_field(st, "lastTransitionTime"), "2026-01-01T00:00:00Z");
	cJSON_Delete(st);
}
END_TEST

START_TEST(same_outcome_is_no_change_and_keeps_transition_time)
{
	struct status_outcome o = { .generation = 2, .matched_pods = 3, .ready = true, .reason = "R", .message = "m" };
	bool changed;
	cJSON *a = status_desired(NULL, &o, "2026-01-01T00:00:00Z", &changed);
	cJSON *b = status_desired(a, &o, "2026-01-02T00:00:00Z", &changed);

	ck_assert(!changed);
	ck_assert_str_eq(cond_field(b, "lastTransitionTime"), "2026-01-01T00:00:00Z");
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(message_change_without_flip_keeps_transition_time)
{
	struct status_outcome o = { .generation = 2, .matched_pods = 3, .ready = true, .reason = "R", .message = "m" };
	bool changed;
	cJSON *a = status_desired(NULL, &o, "2026-01-01T00:00:00Z", &changed), *b;

	o.matched_pods = 4;
	o.message = "m2";
	b = status_desired(a, &o, "2026-01-02T00:00:00Z", &changed);
	ck_assert(changed);
	ck_assert_str_eq(cond_field(b, "lastTransitionTime"), "2026-01-01T00:00:00Z");
	ck_assert_str_eq(cond_field(b, "message"), "m2");
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(flip_to_false_moves_transition_time)
{
	struct status_outcome o = { .generation = 2, .matched_pods = 3, .ready = true, .reason = "R", .message = "m" };
	bool changed;
	cJSON *a = status_desired(NULL, &o, "2026-01-01T00:00:00Z", &changed), *b;

	o.ready = false;
	o.reason = "ConfigMapWriteFailed";
	o.generation = 3;
	b = status_desired(a, &o, "2026-01-02T00:00:00Z", &changed);
	ck_assert(changed);
	ck_assert_str_eq(cond_field(b, "status"), "False");
	ck_assert_str_eq(cond_field(b, "lastTransitionTime"), "2026-01-02T00:00:00Z");
	ck_assert_int_eq((int)cJSON_GetObjectItem(b, "observedGeneration")->valuedouble, 3);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(other_conditions_and_fields_are_kept)
{
	cJSON *cur = cJSON_Parse("{\"attachedPods\":5,\"conditions\":[{\"type\":\"Attached\",\"status\":\"True\","
				 "\"reason\":\"A\",\"message\":\"\",\"lastTransitionTime\":\"2025-01-01T00:00:00Z\"}]}");
	struct status_outcome o = { .generation = 1, .matched_pods = 0, .ready = true, .reason = "R", .message = "m" };
	bool changed;
	cJSON *st = status_desired(cur, &o, "2026-01-01T00:00:00Z", &changed);

	ck_assert(changed);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(st, "conditions")), 3); /* Attached, Ready, SettingsIgnored */
	ck_assert_int_eq((int)cJSON_GetObjectItem(st, "attachedPods")->valuedouble, 5);
	cJSON_Delete(cur);
	cJSON_Delete(st);
}
END_TEST

START_TEST(settings_ignored_condition_names_each_field_and_its_feature)
{
	struct status_outcome o = { .generation = 1, .ready = true, .reason = "R", .message = "m",
				    .ignored = IGNORED_BLOCKED_PORTS | IGNORED_DEFAULT_BLOCK };
	bool changed;
	cJSON *st = status_desired(NULL, &o, "2026-01-01T00:00:00Z", &changed);
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "conditions"), 1);

	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "type")), "SettingsIgnored");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "status")), "True");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "message")),
			 "l4Firewall.blockedPorts, l4Firewall.defaultAction block are set but l4Firewall.enabled is not "
			 "true: these settings do nothing until their feature has enabled: true");
	cJSON_Delete(st);
}
END_TEST

START_TEST(settings_ignored_message_with_every_field_is_whole)
{
	char msg[SETTINGS_IGNORED_MESSAGE_MAX];
	const char *end = "these settings do nothing until their feature has enabled: true";

	settings_ignored_message(IGNORED_SYSCALL_NAMES | IGNORED_ALLOWED_PORTS | IGNORED_BLOCKED_PORTS |
				 IGNORED_DEFAULT_BLOCK | IGNORED_UPDATE_INTERVAL, msg);
	ck_assert_msg(strlen(msg) > strlen(end) && strcmp(msg + strlen(msg) - strlen(end), end) == 0, "cut: %s", msg);
	ck_assert_ptr_nonnull(strstr(msg, "syscallMonitoring.syscallNames is set but syscallMonitoring.enabled"));
	ck_assert_ptr_nonnull(strstr(msg, "; metricsExport.updateInterval is set but metricsExport.enabled"));
	settings_ignored_message(0, msg);
	ck_assert_str_eq(msg, "");
}
END_TEST

static const char *event_for(const char *before, const char *now, const char *type)
{
	cJSON *b = before ? cJSON_Parse(before) : NULL, *n = cJSON_Parse(now);
	struct condition_change ch[CONDITION_CHANGES_MAX];
	size_t k = condition_changes(b, n, ch);
	const char *ev = "none";

	for (size_t i = 0; i < k; i++)
		if (strcmp(ch[i].type, type) == 0)
			ev = condition_change_event_type(&ch[i]) ?: "none";
	cJSON_Delete(b);
	cJSON_Delete(n);
	return ev;
}

#define COND(t, s, r) "{\"type\":\"" t "\",\"status\":\"" s "\",\"reason\":\"" r "\",\"message\":\"m\"}"
#define ST1(c) "{\"conditions\":[" c "]}"

START_TEST(events_for_the_transitions_a_user_cares_about)
{
	ck_assert_str_eq(event_for(NULL, ST1(COND("Ready", "True", "ConfigMapsSynced")), "Ready"), "Normal");
	ck_assert_str_eq(event_for(ST1(COND("Ready", "False", "PolicyPending")), ST1(COND("Ready", "True", "X")), "Ready"),
			 "Normal");
	ck_assert_str_eq(event_for(ST1(COND("Ready", "True", "X")), ST1(COND("Ready", "False", "PolicyFailed")), "Ready"),
			 "Warning");
	ck_assert_str_eq(event_for(NULL, ST1(COND("Ready", "False", "PolicyPending")), "Ready"), "none");
	/* same status and reason, new message: no event */
	ck_assert_str_eq(event_for(ST1(COND("Ready", "True", "X")), ST1(COND("Ready", "True", "X")), "Ready"), "none");
	ck_assert_str_eq(event_for(NULL, ST1(COND("Conflict", "False", "NoConflict")), "Conflict"), "none");
	ck_assert_str_eq(event_for(NULL, ST1(COND("Conflict", "True", "MergedWithOtherPolicies")), "Conflict"), "Normal");
	ck_assert_str_eq(event_for(ST1(COND("Conflict", "True", "M")), ST1(COND("Conflict", "False", "NoConflict")),
				   "Conflict"), "Normal");
	ck_assert_str_eq(event_for(NULL, ST1(COND("SettingsIgnored", "True", "FeatureNotEnabled")), "SettingsIgnored"),
			 "Warning");
	ck_assert_str_eq(event_for(NULL, ST1(COND("SettingsIgnored", "False", "NoIgnoredSettings")), "SettingsIgnored"),
			 "none");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_test(tc, first_status_has_ready_condition);
	tcase_add_test(tc, same_outcome_is_no_change_and_keeps_transition_time);
	tcase_add_test(tc, message_change_without_flip_keeps_transition_time);
	tcase_add_test(tc, flip_to_false_moves_transition_time);
	tcase_add_test(tc, other_conditions_and_fields_are_kept);
	tcase_add_test(tc, settings_ignored_condition_names_each_field_and_its_feature);
	tcase_add_test(tc, settings_ignored_message_with_every_field_is_whole);
	tcase_add_test(tc, events_for_the_transitions_a_user_cares_about);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
