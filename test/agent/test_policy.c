/* The policy parser as the controller's pushes meet it: the documented example, defaults, and
 * every kind of bad body answered with the JSON path of the offending value; syscall tables. */
#include "agent/service/agent_duration.h"
#include "agent/service/agent_policy.h"
#include "common/syscall_table.h"
#include "common/json_util.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char example[] =
	"{\"node\":\"node-1\",\"sender\":{\"identity\":\"pcmc-controller-abc\",\"epoch\":3},\"revision\":42,"
	" \"pods\":[{\"uid\":\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\",\"namespace\":\"default\",\"name\":\"web-1\","
	"  \"policy\":{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\",\"write\"]},"
	"   \"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[443,80],\"blockedPorts\":[22],\"defaultAction\":\"allow\"},"
	"   \"metricsExport\":{\"enabled\":true,\"updateInterval\":\"1m30s\"}}}]}";

START_TEST(documented_example_parses)
{
	struct desired_state *s;
	struct policy_error e;
	const struct pod_policy_spec *p;

	ck_assert_int_eq(policy_parse(example, strlen(example), &s, &e), 0);
	ck_assert_str_eq(s->node, "node-1");
	ck_assert_str_eq(s->identity, "pcmc-controller-abc");
	ck_assert_int_eq(s->epoch, 3);
	ck_assert_int_eq(s->revision, 42);
	ck_assert_int_eq(s->n_pods, 1);
	ck_assert_str_eq(s->pods[0].uid, "0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
	ck_assert_str_eq(s->pods[0].namespace, "default");
	ck_assert_str_eq(s->pods[0].name, "web-1");
	p = &s->pods[0].policy;
	ck_assert(p->syscalls_enabled && p->firewall_enabled && p->export_enabled && !p->default_block);
	ck_assert_int_eq(p->n_syscalls, 2);
	ck_assert_int_eq(p->syscall_nrs[0], syscall_table_number("read"));
	ck_assert_int_eq(p->syscall_nrs[1], syscall_table_number("write"));
	ck_assert_int_eq(p->n_allowed, 2);
	ck_assert_int_eq(p->allowed[0], 80); /* sorted */
	ck_assert_int_eq(p->allowed[1], 443);
	ck_assert_int_eq(p->n_blocked, 1);
	ck_assert_int_eq(p->update_interval_ms, 90000);
	desired_state_free(s);
}
END_TEST

START_TEST(absent_sections_take_the_crd_defaults_and_round_trip)
{
	const char body[] = "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":0},\"revision\":0,"
			    "\"pods\":[{\"uid\":\"u1\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{\"l4Firewall\":null}}]}";
	struct desired_state *s, *again;
	struct policy_error e;
	char *text;
	size_t len;
	cJSON *doc;

	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), 0);
	ck_assert(!s->pods[0].policy.syscalls_enabled && !s->pods[0].policy.firewall_enabled);
	ck_assert(!s->pods[0].policy.export_enabled);
	ck_assert_int_eq(s->pods[0].policy.update_interval_ms, 30000);
	doc = desired_state_to_json(s);
	text = json_print(doc, &len);
	ck_assert_ptr_nonnull(strstr(text, "\"updateInterval\":\"30s\""));
	ck_assert_ptr_nonnull(strstr(text, "\"defaultAction\":\"allow\""));
	ck_assert_int_eq(policy_parse(text, len, &again, &e), 0);
	ck_assert(policy_same(&s->pods[0].policy, &again->pods[0].policy));
	free(text);
	cJSON_Delete(doc);
	desired_state_free(again);
	desired_state_free(s);

	ck_assert_int_eq(policy_parse(example, strlen(example), &s, &e), 0);
	doc = desired_state_to_json(s);
	text = json_print(doc, &len);
	ck_assert_int_eq(policy_parse(text, len, &again, &e), 0);
	ck_assert(policy_same(&s->pods[0].policy, &again->pods[0].policy));
	ck_assert_int_eq(again->epoch, 3);
	ck_assert_int_eq(again->revision, 42);
	free(text);
	cJSON_Delete(doc);
	desired_state_free(again);
	desired_state_free(s);
}
END_TEST

/* Replaces the first occurrence of from in the example with to, parses, expects path + message. */
static void expect_bad(const char *from, const char *to, const char *path, const char *message_part)
{
	char body[4096];
	const char *at = strstr(example, from);
	struct desired_state *s = (void *)1;
	struct policy_error e;

	ck_assert_msg(at != NULL, "%s not in example", from);
	snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - example), example, to, at + strlen(from));
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_msg(!strcmp(e.path, path), "path %s, expected %s (message %s)", e.path, path, e.message);
	ck_assert_msg(strstr(e.message, message_part), "message \"%s\" lacks \"%s\"", e.message, message_part);
}

START_TEST(each_kind_of_bad_body_names_its_json_path)
{
	expect_bad("\"allowedPorts\"", "\"allowedPort\"", "$.pods[0].policy.l4Firewall.allowedPort", "unknown field");
	expect_bad("\"revision\":42", "\"revision\":42,\"extra\":1", "$.extra", "unknown field");
	expect_bad("\"epoch\":3", "\"epoch\":3,\"term\":1", "$.sender.term", "unknown field");
	expect_bad("\"name\":\"web-1\"", "\"name\":\"web-1\",\"labels\":{}", "$.pods[0].labels", "unknown field");
	expect_bad("[443,80]", "[443,0]", "$.pods[0].policy.l4Firewall.allowedPorts[1]", "between 1 and 65535");
	expect_bad("[443,80]", "[443,65536]", "$.pods[0].policy.l4Firewall.allowedPorts[1]", "between 1 and 65535");
	expect_bad("[22]", "[22.5]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "between 1 and 65535");
	expect_bad("[22]", "[\"22\"]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "port number");
	expect_bad("[22]", "[80]", "$.pods[0].policy.l4Firewall.blockedPorts", "also in allowedPorts");
	expect_bad("[443,80]", "[80,80]", "$.pods[0].policy.l4Firewall.allowedPorts[1]", "duplicate");
	expect_bad("\"write\"", "\"wrtie\"", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "unknown syscall");
	expect_bad("\"write\"", "\"read\"", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "duplicate");
	expect_bad("\"write\"", "7", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "syscall name");
	expect_bad("\"1m30s\"", "\"30\"", "$.pods[0].policy.metricsExport.updateInterval", "duration");
	expect_bad("\"1m30s\"", "\"500ms\"", "$.pods[0].policy.metricsExport.updateInterval", "between 1s and 1h");
	expect_bad("\"1m30s\"", "\"1h1s\"", "$.pods[0].policy.metricsExport.updateInterval", "between 1s and 1h");
	expect_bad("\"1m30s\"", "\"-1s\"", "$.pods[0].policy.metricsExport.updateInterval", "duration");
	expect_bad("\"1m30s\"", "\"1 s\"", "$.pods[0].policy.metricsExport.updateInterval", "duration");
	expect_bad("\"allow\"", "\"deny\"", "$.pods[0].policy.l4Firewall.defaultAction", "\"allow\" or \"block\"");
	expect_bad("\"enabled\":true,\"syscallNames\"", "\"enabled\":\"yes\",\"syscallNames\"",
		   "$.pods[0].policy.syscallMonitoring.enabled", "boolean");
	expect_bad("\"epoch\":3", "\"epoch\":-1", "$.sender.epoch", "between 0");
	expect_bad("\"epoch\":3", "\"epoch\":1.5", "$.sender.epoch", "integer");
	expect_bad("\"revision\":42", "\"revision\":\"42\"", "$.revision", "integer");
	expect_bad("\"revision\":42,", "", "$.revision", "required");
	expect_bad("\"node\":\"node-1\",", "", "$.node", "required");
	expect_bad("\"uid\":\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\",", "", "$.pods[0].uid", "required");
	expect_bad("\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\"", "\"0f8a/../x\"", "$.pods[0].uid", "invalid character");
	expect_bad("\"namespace\":\"default\"", "\"namespace\":\"\"", "$.pods[0].namespace", "empty");
	expect_bad("\"revision\":42,", "\"revision\":42,\"revision\":43,", "$.revision", "duplicate field");
	expect_bad("\"node\"", "\"Node\"", "$.Node", "unknown field");
	expect_bad("}]}", "}]}x", "$", "invalid JSON at byte");
	expect_bad("{\"node\"", "[{\"node\"", "$", "invalid JSON"); /* unbalanced */
}
END_TEST

START_TEST(second_pod_errors_and_duplicate_uids)
{
	char body[8192];
	struct desired_state *s;
	struct policy_error e;
	const char *pod = "{\"uid\":\"u%d\",\"namespace\":\"ns\",\"name\":\"p%d\",\"policy\":{%s}}";
	int n;

	n = snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":[");
	n += snprintf(body + n, sizeof(body) - (size_t)n, pod, 1, 1, "");
	n += snprintf(body + n, sizeof(body) - (size_t)n, ",");
	n += snprintf(body + n, sizeof(body) - (size_t)n, pod, 2, 2, "\"metricsExport\":{\"updateInterval\":\"5x\"}");
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[1].policy.metricsExport.updateInterval");

	n = snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":[");
	n += snprintf(body + n, sizeof(body) - (size_t)n, pod, 1, 1, "");
	n += snprintf(body + n, sizeof(body) - (size_t)n, ",");
	n += snprintf(body + n, sizeof(body) - (size_t)n, pod, 1, 2, "");
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[1].uid");
	ck_assert_ptr_nonnull(strstr(e.message, "duplicate pod uid"));

	snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":{}}");
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods");
	ck_assert_str_eq(e.message, "must be an array, not an object");
	snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,"
		 "\"pods\":[{\"uid\":\"u\",\"namespace\":\"n\",\"name\":\"p\",\"policy\":[]}]}");
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[0].policy");
	ck_assert_str_eq(e.message, "must be an object, not an array");
	snprintf(body, sizeof(body), "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1e300,\"pods\":[]}");
	ck_assert_int_eq(policy_parse(body, strlen(body), &s, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.revision");
}
END_TEST

START_TEST(go_durations)
{
	int64_t ns;
	char buf[32];

	ck_assert_int_eq(duration_parse_ns("1s", &ns), 0);
	ck_assert_int_eq(ns, 1000000000LL);
	ck_assert_int_eq(duration_parse_ns("500ms", &ns), 0);
	ck_assert_int_eq(ns, 500000000LL);
	ck_assert_int_eq(duration_parse_ns("1m30s", &ns), 0);
	ck_assert_int_eq(ns, 90000000000LL);
	ck_assert_int_eq(duration_parse_ns("1.5h", &ns), 0);
	ck_assert_int_eq(ns, 5400000000000LL);
	ck_assert_int_eq(duration_parse_ns("2h45m0.5s", &ns), 0);
	ck_assert_int_eq(ns, 9900500000000LL);
	ck_assert_int_eq(duration_parse_ns("1500us", &ns), 0);
	ck_assert_int_eq(ns, 1500000LL);
	ck_assert_int_eq(duration_parse_ns("3\xc2\xb5s", &ns), 0);
	ck_assert_int_eq(ns, 3000LL);
	ck_assert_int_eq(duration_parse_ns(".5s", &ns), 0);
	ck_assert_int_eq(ns, 500000000LL);
	ck_assert_int_eq(duration_parse_ns("", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns("5", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns("s", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns(".s", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns("1d", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns("99999999999999999999s", &ns), -EINVAL);
	ck_assert_int_eq(duration_parse_ns("9999999999h", &ns), -EINVAL);
	duration_format_ms(90000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1m30s");
	duration_format_ms(3600000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1h0m0s");
	duration_format_ms(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.5s");
	duration_format_ms(30000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "30s");
}
END_TEST

START_TEST(syscall_names_resolve_per_architecture)
{
	/* Numbers differ between the architectures; both tables come from linux-libc-dev. */
	ck_assert_int_eq(syscall_table_number_for("x86_64", "read"), 0);
	ck_assert_int_eq(syscall_table_number_for("x86_64", "openat"), 257);
	ck_assert_int_eq(syscall_table_number_for("x86_64", "getppid"), 110);
	ck_assert_int_eq(syscall_table_number_for("arm64", "read"), 63);
	ck_assert_int_eq(syscall_table_number_for("arm64", "openat"), 56);
	ck_assert_int_eq(syscall_table_number_for("arm64", "getppid"), 173);
	ck_assert_int_eq(syscall_table_number_for("arm64", "fstat"), 80);      /* via __NR3264_fstat */
	ck_assert_int_eq(syscall_table_number_for("arm64", "clone3"), 435);
	ck_assert_int_eq(syscall_table_number_for("arm64", "open"), -ENOENT);  /* arm64 has only openat */
	ck_assert_int_eq(syscall_table_number_for("x86_64", "open"), 2);
	ck_assert_int_eq(syscall_table_number_for("x86_64", "syscalls"), -ENOENT);
	ck_assert_int_eq(syscall_table_number_for("mips", "read"), -EINVAL);
	ck_assert_int_gt(syscall_table_size_for("x86_64"), 300);
	ck_assert_int_gt(syscall_table_size_for("arm64"), 250);
#if defined(__x86_64__)
	ck_assert_str_eq(syscall_table_arch(), "x86_64");
#elif defined(__aarch64__)
	ck_assert_str_eq(syscall_table_arch(), "arm64");
#endif
	ck_assert_int_eq(syscall_table_number("openat"), syscall_table_number_for(syscall_table_arch(), "openat"));
	ck_assert_str_eq(syscall_table_name(syscall_table_number("getppid")), "getppid");
	ck_assert_ptr_null(syscall_table_name(100000));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent policy");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, documented_example_parses);
	tcase_add_test(tc, absent_sections_take_the_crd_defaults_and_round_trip);
	tcase_add_test(tc, each_kind_of_bad_body_names_its_json_path);
	tcase_add_test(tc, second_pod_errors_and_duplicate_uids);
	tcase_add_test(tc, go_durations);
	tcase_add_test(tc, syscall_names_resolve_per_architecture);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
