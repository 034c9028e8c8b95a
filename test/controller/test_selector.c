/* Label selector rules the controller relies on: matchLabels, each matchExpressions operator,
 * empty and missing selectors, and the validation errors reported in the CR status. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

#include "controller/selector.h"
#include "test/common/tap_main.h"

static struct label_selector *parse(const char *json)
{
	cJSON *j = json ? cJSON_Parse(json) : NULL;
	struct label_selector *s = NULL;
	char why[160];

	ck_assert_int_eq(label_selector_parse(j, &s, why, sizeof(why)), 0);
	cJSON_Delete(j);
	return s;
}

static bool matches(const char *selector, const char *labels_json)
{
	struct label_selector *s = parse(selector);
	cJSON *l = cJSON_Parse(labels_json);
	struct kv_list labels = { 0 };
	bool m;

	kv_from_json(&labels, l, NULL);
	m = label_selector_matches(s, &labels);
	kv_clear(&labels);
	cJSON_Delete(l);
	label_selector_free(s);
	return m;
}

START_TEST(no_selector_matches_every_pod)
{
	ck_assert(matches(NULL, "{}"));
	ck_assert(matches("null", "{\"a\":\"b\"}"));
	ck_assert(matches("{}", "{\"a\":\"b\"}"));
}
END_TEST

START_TEST(match_labels_need_every_pair)
{
	ck_assert(matches("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}}", "{\"app\":\"web\",\"tier\":\"fe\",\"x\":\"y\"}"));
	ck_assert(!matches("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}}", "{\"app\":\"web\"}"));
	ck_assert(!matches("{\"matchLabels\":{\"app\":\"web\"}}", "{\"app\":\"db\"}"));
}
END_TEST

START_TEST(operator_in)
{
	const char *s = "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"fe\",\"be\"]}]}";

	ck_assert(matches(s, "{\"tier\":\"be\"}"));
	ck_assert(!matches(s, "{\"tier\":\"db\"}"));
	ck_assert(!matches(s, "{}"));
}
END_TEST

START_TEST(operator_not_in_matches_missing_label)
{
	const char *s = "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]}";

	ck_assert(matches(s, "{\"env\":\"dev\"}"));
	ck_assert(matches(s, "{}"));
	ck_assert(!matches(s, "{\"env\":\"prod\"}"));
}
END_TEST

START_TEST(operator_exists_and_does_not_exist)
{
	ck_assert(matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}", "{\"a\":\"\"}"));
	ck_assert(!matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}", "{\"b\":\"1\"}"));
	ck_assert(matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"DoesNotExist\"}]}", "{\"b\":\"1\"}"));
	ck_assert(!matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"DoesNotExist\"}]}", "{\"a\":\"1\"}"));
}
END_TEST

START_TEST(labels_and_expressions_are_anded)
{
	const char *s = "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":"
			"[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]}";

	ck_assert(matches(s, "{\"app\":\"web\",\"env\":\"dev\"}"));
	ck_assert(!matches(s, "{\"app\":\"web\",\"env\":\"prod\"}"));
	ck_assert(!matches(s, "{\"app\":\"db\",\"env\":\"dev\"}"));
}
END_TEST

START_TEST(invalid_selectors_say_why)
{
	static const char *const bad[] = {
		"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
		"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
		"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
		"{\"matchExpressions\":[{\"operator\":\"Exists\"}]}",
		"{\"matchLabels\":{\"a\":1}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = cJSON_Parse(bad[i]);
		struct label_selector *s = NULL;
		char why[160] = "";

		ck_assert_int_eq(label_selector_parse(j, &s, why, sizeof(why)), -EINVAL);
		ck_assert_ptr_null(s);
		ck_assert_msg(why[0], "no reason for %s", bad[i]);
		cJSON_Delete(j);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("selector");

	tcase_add_test(tc, no_selector_matches_every_pod);
	tcase_add_test(tc, match_labels_need_every_pair);
	tcase_add_test(tc, operator_in);
	tcase_add_test(tc, operator_not_in_matches_missing_label);
	tcase_add_test(tc, operator_exists_and_does_not_exist);
	tcase_add_test(tc, labels_and_expressions_are_anded);
	tcase_add_test(tc, invalid_selectors_say_why);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
