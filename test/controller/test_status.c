/* Status rules: observedGeneration and matchedPods follow the reconcile, the Ready condition's
 * lastTransitionTime moves only when its status flips, and an unchanged status is not rewritten. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(st, "conditions")), 2);
	ck_assert_int_eq((int)cJSON_GetObjectItem(st, "attachedPods")->valuedouble, 5);
	cJSON_Delete(cur);
	cJSON_Delete(st);
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
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
