/* The policy model and its wire codec as both programs meet them: the documented example, a round
 * trip through the encoder, every kind of bad body answered with its JSON path, a syscall name
 * unknown on the node's architecture refusing only its pod, the answers, the duration grammar. */
#include "common/duration.h"
#include "common/ebpf_config.h"
#include "common/policy_codec.h"
#include "common/syscall_table.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char example[] =
	"{\"node\":\"node-1\",\"sender\":{\"identity\":\"pcmc-controller-abc\",\"epoch\":3},\"revision\":42,"
	" \"pods\":[{\"uid\":\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\",\"namespace\":\"default\",\"name\":\"web-1\","
	"  \"policy\":{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"write\",\"read\"]},"
	"   \"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[443,80],\"blockedPorts\":[22],\"defaultAction\":\"allow\"},"
	"   \"metricsExport\":{\"enabled\":true,\"updateInterval\":\"1m30s\"}}}]}";

static struct policy_push *decode_ok(const char *text, const char *arch)
{
	struct policy_decode_opts o = { .arch = arch };
	struct policy_push *p = NULL;
	struct json_error e;
	int err = policy_push_decode(text, strlen(text), &o, &p, &e);

	ck_assert_msg(err == 0, "decode failed: %s: %s", e.path, e.message);
	return p;
}

START_TEST(documented_example_decodes_into_sorted_sets)
{
	struct policy_push *p = decode_ok(example, "x86_64");
	const struct ebpf_config *c = &p->pods[0].policy;

	ck_assert_str_eq(p->node, "node-1");
	ck_assert(p->has_sender);
	ck_assert_str_eq(p->sender.identity, "pcmc-controller-abc");
	ck_assert_int_eq(p->sender.epoch, 3);
	ck_assert_int_eq(p->revision, 42);
	ck_assert_int_eq(p->n_pods, 1);
	ck_assert_str_eq(p->pods[0].uid, "0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
	ck_assert_str_eq(p->pods[0].namespace, "default");
	ck_assert_str_eq(p->pods[0].name, "web-1");
	ck_assert_int_eq(p->pods[0].state, POLICY_POD_PUSHED);
	ck_assert(c->syscall_monitoring.enabled && c->l4_firewall.enabled && c->metrics_export.enabled);
	ck_assert(!c->l4_firewall.default_block);
	ck_assert_int_eq(c->syscall_monitoring.names.n, 2);
	ck_assert_str_eq(c->syscall_monitoring.names.names[0], "read");
	ck_assert_str_eq(c->syscall_monitoring.names.names[1], "write");
	ck_assert_int_eq(c->l4_firewall.allowed.n, 2);
	ck_assert_int_eq(c->l4_firewall.allowed.ports[0], 80);
	ck_assert_int_eq(c->l4_firewall.allowed.ports[1], 443);
	ck_assert_int_eq(c->l4_firewall.blocked.n, 1);
	ck_assert_int_eq(c->metrics_export.update_interval_ns, 90000000000LL);
	policy_push_free(p);
}
END_TEST

START_TEST(encoded_push_decodes_to_the_same_push)
{
	struct policy_push *p = decode_ok(example, NULL), *again;
	char *text;
	size_t len;

	ck_assert_int_eq(policy_push_encode(p, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	again = decode_ok(text, NULL);
	ck_assert(policy_push_equal(p, again));
	/* Canonical: sorted lists, integers as integers. */
	ck_assert_ptr_nonnull(strstr(text, "\"syscallNames\":[\"read\",\"write\"]"));
	ck_assert_ptr_nonnull(strstr(text, "\"allowedPorts\":[80,443]"));
	ck_assert_ptr_nonnull(strstr(text, "\"updateInterval\":\"1m30s\""));
	/* A different body with the same (epoch, revision) is not equal. */
	again->pods[0].policy.l4_firewall.default_block = true;
	ck_assert(!policy_push_equal(p, again));
	free(text);
	policy_push_free(again);
	policy_push_free(p);
}
END_TEST

START_TEST(defaults_are_omitted_in_pushes_and_filled_in_for_get)
{
	const char body[] = "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":0},\"revision\":0,"
			    "\"pods\":[{\"uid\":\"u1\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{\"l4Firewall\":null}}]}";
	struct policy_push *p = decode_ok(body, NULL), *again;
	struct json_writer w;
	struct json_error e;
	char *text;
	size_t len;

	ck_assert(!ebpf_config_wanted(&p->pods[0].policy));
	ck_assert_int_eq(p->pods[0].policy.metrics_export.update_interval_ns, 30000000000LL);
	ck_assert_int_eq(policy_push_encode(p, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"policy\":{}"));
	free(text);

	jw_init(&w);
	node_state_write_begin(&w, "n", &p->sender, p->revision);
	node_state_write_pod(&w, &p->pods[0], true, "no free pod slot", NULL);
	node_state_write_end(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"updateInterval\":\"30s\""));
	ck_assert_ptr_nonnull(strstr(text, "\"defaultAction\":\"allow\""));
	ck_assert_ptr_nonnull(strstr(text, "\"state\":\"failed\",\"error\":\"no free pod slot\""));
	ck_assert_int_eq(node_state_decode(text, len, &again, &e), 0);
	ck_assert_int_eq(again->pods[0].state, POLICY_POD_FAILED);
	ck_assert_str_eq(again->pods[0].error, "no free pod slot");
	ck_assert(ebpf_config_equal(&again->pods[0].policy, &p->pods[0].policy));
	free(text);
	policy_push_free(again);

	jw_init(&w);
	node_state_write_begin(&w, "n", NULL, 0);
	node_state_write_end(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_str_eq(text, "{\"node\":\"n\",\"sender\":null,\"revision\":null,\"pods\":[]}");
	ck_assert_int_eq(node_state_decode(text, len, &again, &e), 0);
	ck_assert(!again->has_sender);
	free(text);
	policy_push_free(again);
	policy_push_free(p);
}
END_TEST

/* Replaces the first occurrence of from in the example with to, decodes, expects path + message. */
static void expect_bad(const char *from, const char *to, const char *path, const char *message_part)
{
	char body[4096];
	const char *at = strstr(example, from);
	struct policy_push *p = (void *)1;
	struct json_error e;

	ck_assert_msg(at != NULL, "%s not in example", from);
	snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - example), example, to, at + strlen(from));
	ck_assert_msg(policy_push_decode(body, strlen(body), NULL, &p, &e) == -EINVAL, "accepted: %s", body);
	ck_assert_ptr_null(p);
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
	expect_bad("[22]", "[\"22\"]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "must be an integer, not a string");
	expect_bad("[22]", "[22,80]", "$.pods[0].policy.l4Firewall.blockedPorts[1]", "port 80 is also in allowedPorts");
	expect_bad("[443,80]", "[80,80]", "$.pods[0].policy.l4Firewall.allowedPorts[1]", "duplicate port 80");
	expect_bad("\"read\"", "\"write\"", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "duplicate syscall name");
	expect_bad("\"read\"", "7", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "must be a string, not a number");
	expect_bad("\"read\"", "\"Read\"", "$.pods[0].policy.syscallMonitoring.syscallNames[1]", "not a syscall name");
	expect_bad("\"1m30s\"", "\"30\"", "$.pods[0].policy.metricsExport.updateInterval", "not a duration");
	expect_bad("\"1m30s\"", "\"500ms\"", "$.pods[0].policy.metricsExport.updateInterval", "between 1s and 1h");
	expect_bad("\"1m30s\"", "\"1h1s\"", "$.pods[0].policy.metricsExport.updateInterval", "between 1s and 1h");
	expect_bad("\"1m30s\"", "\"1e3s\"", "$.pods[0].policy.metricsExport.updateInterval", "not a duration");
	expect_bad("\"1m30s\"", "\"inf\"", "$.pods[0].policy.metricsExport.updateInterval", "not a duration");
	expect_bad("\"allow\"", "\"deny\"", "$.pods[0].policy.l4Firewall.defaultAction", "\"allow\" or \"block\"");
	expect_bad("\"enabled\":true,\"syscallNames\"", "\"enabled\":\"yes\",\"syscallNames\"",
		   "$.pods[0].policy.syscallMonitoring.enabled", "must be a boolean, not a string");
	expect_bad("\"epoch\":3", "\"epoch\":-1", "$.sender.epoch", "between 0");
	expect_bad("\"epoch\":3", "\"epoch\":9007199254740993", "$.sender.epoch", "out of range");
	expect_bad("\"revision\":42", "\"revision\":\"42\"", "$.revision", "must be an integer");
	expect_bad("\"revision\":42,", "", "$.revision", "required");
	expect_bad("\"node\":\"node-1\",", "", "$.node", "required");
	expect_bad("\"identity\":\"pcmc-controller-abc\",", "", "$.sender.identity", "required");
	expect_bad("\"uid\":\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\",", "", "$.pods[0].uid", "required");
	expect_bad("\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\"", "\"0f8a/../x\"", "$.pods[0].uid", "invalid character at 4");
	expect_bad("\"namespace\":\"default\"", "\"namespace\":\"\"", "$.pods[0].namespace", "empty");
	expect_bad("\"revision\":42,", "\"revision\":42,\"revision\":43,", "$.revision", "duplicate field");
	expect_bad("\"node\"", "\"Node\"", "$.Node", "unknown field");
	expect_bad("\"name\":\"web-1\"", "\"name\":\"web-1\",\"state\":\"applied\"", "$.pods[0].state", "unknown field");
	expect_bad("}]}", "}]}x", "$", "invalid JSON at byte");
	expect_bad("{\"node\"", "[{\"node\"", "$", "must be an object, not an array");
}
END_TEST

/* What issue 11 found accepted: each is now a 400 naming where. */
START_TEST(strict_json_refuses_nul_bad_utf8_fractions_and_leading_zeros)
{
	expect_bad("\"node-1\"", "\"x\\u0000evil\"", "$.node", "\\u0000 (NUL) is not allowed");
	expect_bad("\"0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b\"", "\"u1\\u0000../../x\"", "$.pods[0].uid", "NUL");
	expect_bad("\"pcmc-controller-abc\"", "\"ctl\xff\"", "$.sender.identity", "invalid UTF-8");
	expect_bad("\"pcmc-controller-abc\"", "\"ctl\xc0\xaf\"", "$.sender.identity", "invalid UTF-8"); /* overlong '/' */
	expect_bad("\"pcmc-controller-abc\"", "\"ctl\xed\xa0\x80\"", "$.sender.identity", "invalid UTF-8"); /* surrogate */
	expect_bad("\"pcmc-controller-abc\"", "\"ctl\\ud800\"", "$.sender.identity", "unpaired");
	expect_bad("\"pcmc-controller-abc\"", "\"ctl\nx\"", "$.sender.identity", "control character");
	expect_bad("[22]", "[80.0]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "fractions and exponents");
	expect_bad("[22]", "[1e0]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "fractions and exponents");
	expect_bad("[22]", "[022]", "$.pods[0].policy.l4Firewall.blockedPorts[0]", "leading zeros");
	expect_bad("\"revision\":42", "\"revision\":4.2e1", "$.revision", "fractions and exponents");
}
END_TEST

START_TEST(valid_unicode_escapes_decode)
{
	const char body[] = "{\"node\":\"n\",\"sender\":{\"identity\":\"ctl-\\u00e9\\ud83d\\ude00\",\"epoch\":1},"
			    "\"revision\":1,\"pods\":[]}";
	struct policy_push *p = decode_ok(body, NULL);

	ck_assert_str_eq(p->sender.identity, "ctl-\xc3\xa9\xf0\x9f\x98\x80");
	policy_push_free(p);
}
END_TEST

static void build_push(char *body, size_t size, int n_pods, const char *policy)
{
	int n = snprintf(body, size, "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":[");

	for (int i = 0; i < n_pods && (size_t)n < size; i++)
		n += snprintf(body + n, size - (size_t)n, "%s{\"uid\":\"u%d\",\"namespace\":\"ns\",\"name\":\"p%d\",\"policy\":{%s}}",
			      i ? "," : "", i, i, i == n_pods - 1 ? policy : "");
	snprintf(body + n, size - (size_t)n, "]}");
}

START_TEST(limits_and_duplicate_uids)
{
	size_t size = 1 << 20;
	char *body = malloc(size), names[4096] = "", ports[4096] = "";
	struct policy_push *p;
	struct json_error e;
	int n = 0, m = 0;

	build_push(body, size, POLICY_MAX_PODS + 1, "");
	ck_assert_int_eq(policy_push_decode(body, strlen(body), NULL, &p, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[4096]");
	ck_assert_str_eq(e.message, "more than 4096 pods");
	build_push(body, size, POLICY_MAX_PODS, "");
	p = decode_ok(body, NULL);
	ck_assert_int_eq(p->n_pods, POLICY_MAX_PODS);
	policy_push_free(p);

	for (int i = 0; i <= POLICY_MAX_SYSCALL_NAMES; i++)
		n += snprintf(names + n, sizeof(names) - (size_t)n, "%s\"s%d\"", i ? "," : "", i);
	for (int i = 1; i <= POLICY_MAX_PORTS + 1; i++)
		m += snprintf(ports + m, sizeof(ports) - (size_t)m, "%s%d", i > 1 ? "," : "", i);
	char policy[8192];
	snprintf(policy, sizeof(policy), "\"syscallMonitoring\":{\"syscallNames\":[%s]}", names);
	build_push(body, size, 2, policy);
	ck_assert_int_eq(policy_push_decode(body, strlen(body), NULL, &p, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[1].policy.syscallMonitoring.syscallNames[64]");
	snprintf(policy, sizeof(policy), "\"l4Firewall\":{\"blockedPorts\":[%s]}", ports);
	build_push(body, size, 2, policy);
	ck_assert_int_eq(policy_push_decode(body, strlen(body), NULL, &p, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[1].policy.l4Firewall.blockedPorts[256]");

	snprintf(body, size, "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":["
		 "{\"uid\":\"a\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{}},"
		 "{\"uid\":\"b\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{}},"
		 "{\"uid\":\"a\",\"namespace\":\"ns\",\"name\":\"q\",\"policy\":{}}]}");
	ck_assert_int_eq(policy_push_decode(body, strlen(body), NULL, &p, &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.pods[2].uid");
	ck_assert_str_eq(e.message, "duplicate pod uid (also $.pods[0])");
	free(body);
}
END_TEST

/* Issue 15: a name the node's architecture lacks fails that pod only, with the pushed index. */
START_TEST(syscall_unknown_on_the_node_refuses_only_its_pod)
{
	const char body[] = "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":["
			    "{\"uid\":\"a\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[8080]}}},"
			    "{\"uid\":\"b\",\"namespace\":\"ns\",\"name\":\"q\",\"policy\":{\"syscallMonitoring\":"
			    "{\"enabled\":true,\"syscallNames\":[\"read\",\"open\",\"foo\"]}}}]}";
	struct policy_push *p = decode_ok(body, "arm64");

	ck_assert_int_eq(p->pods[0].state, POLICY_POD_PUSHED);
	ck_assert_ptr_null(p->pods[0].error);
	ck_assert_int_eq(p->pods[1].state, POLICY_POD_FAILED);
	ck_assert_str_eq(p->pods[1].error, "unknown syscall \"open\" on arm64");
	ck_assert_str_eq(p->pods[1].error_path, "$.pods[1].policy.syscallMonitoring.syscallNames[1]");
	ck_assert_int_eq(p->pods[1].policy.syscall_monitoring.names.n, 3); /* kept as pushed, for GET */
	policy_push_free(p);

	p = decode_ok(body, "x86_64");
	ck_assert_str_eq(p->pods[1].error, "unknown syscall \"foo\" on x86_64");
	ck_assert_str_eq(p->pods[1].error_path, "$.pods[1].policy.syscallMonitoring.syscallNames[2]");
	policy_push_free(p);

	p = decode_ok(body, NULL);
	ck_assert_int_eq(p->pods[1].state, POLICY_POD_PUSHED);
	policy_push_free(p);
}
END_TEST

/* A pod already refused for an unknown syscall name, then a bad member after its policy: the whole
 * body is refused with the later member's path and the refusal is not leaked (found by fuzz_policy). */
START_TEST(bad_member_after_a_refused_policy_fails_the_body_and_keeps_nothing)
{
	static const char *const tails[] = { ",\"bogus\":1}]}", ",\"uid\":\"b\"}]}", ",\"state\":\"applied\"}]}" };
	static const char *const paths[] = { "$.pods[0].bogus", "$.pods[0].uid", "$.pods[0].state" };

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		char body[512];
		struct policy_decode_opts o = { .arch = "x86_64" };
		struct policy_push *p = NULL;
		struct json_error e;

		snprintf(body, sizeof(body),
			 "{\"node\":\"n\",\"sender\":{\"identity\":\"c\",\"epoch\":1},\"revision\":1,\"pods\":["
			 "{\"uid\":\"a\",\"namespace\":\"ns\",\"name\":\"p\",\"policy\":{\"syscallMonitoring\":"
			 "{\"enabled\":true,\"syscallNames\":[\"foo\"]}}%s", tails[i]);
		ck_assert_int_eq(policy_push_decode(body, strlen(body), &o, &p, &e), -EINVAL);
		ck_assert_ptr_null(p);
		ck_assert_msg(strcmp(e.path, paths[i]) == 0, "%s: path %s (%s)", tails[i], e.path, e.message);
	}
}
END_TEST

START_TEST(answers_round_trip)
{
	struct push_refusal f = { .error = "stale push", .reason = FENCE_OLDER_EPOCH, .has_held = true,
				  .held = { .identity = "ctl-b", .epoch = 9007199254740992LL }, .held_revision = 12,
				  .has_lease = true, .lease_holder = "ctl-b", .lease_transitions = 4 }, *g;
	struct push_answer *a;
	struct json_writer w;
	struct json_error e;
	char *text;
	size_t len;

	jw_init(&w);
	push_answer_write_begin(&w, "node-1", 3, 1700000000000LL);
	push_answer_write_pod(&w, "u1", "default", "web-1", POD_APPLIED, "", NULL);
	push_answer_write_pod(&w, "u2", "default", "db-0", POD_FAILED, "unknown syscall \"open\" on arm64",
			      "$.pods[1].policy.syscallMonitoring.syscallNames[0]");
	push_answer_write_end(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_int_eq(push_answer_decode(text, len, &a, &e), 0);
	ck_assert_str_eq(a->node, "node-1");
	ck_assert_int_eq(a->revision, 1700000000000LL);
	ck_assert_int_eq(a->n_results, 2);
	ck_assert_int_eq(a->results[1].result, POD_FAILED);
	ck_assert_str_eq(a->results[1].path, "$.pods[1].policy.syscallMonitoring.syscallNames[0]");
	ck_assert_ptr_null(a->results[0].path);
	push_answer_free(a);
	free(text);

	jw_init(&w);
	push_refusal_write(&w, &f);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"epoch\":9007199254740992"));
	ck_assert_int_eq(push_refusal_decode(text, len, &g, &e), 0);
	ck_assert_int_eq(g->reason, FENCE_OLDER_EPOCH);
	ck_assert(g->has_held && g->has_lease);
	ck_assert_str_eq(g->held.identity, "ctl-b");
	ck_assert_int_eq(g->held.epoch, 9007199254740992LL);
	ck_assert_int_eq(g->held_revision, 12);
	ck_assert_str_eq(g->lease_holder, "ctl-b");
	ck_assert_int_eq(g->lease_transitions, 4);
	push_refusal_free(g);
	free(text);

	text = "{\"error\":\"$.x: unknown field\",\"path\":\"$.x\",\"new\":[1]}";
	ck_assert_int_eq(push_refusal_decode(text, strlen(text), &g, &e), 0);
	ck_assert_str_eq(g->path, "$.x");
	ck_assert_int_eq(g->reason, FENCE_NONE);
	push_refusal_free(g);
}
END_TEST

START_TEST(one_duration_grammar)
{
	static const struct { const char *text; int64_t ns; } good[] = {
		{ "1s", 1000000000LL }, { "500ms", 500000000LL }, { "1m30s", 90000000000LL },
		{ "1.5h", 5400000000000LL }, { "2h45m0.5s", 9900500000000LL }, { "1500us", 1500000LL },
		{ "7ns", 7 }, { "0.0000000001s", 0 }, { "1.0000000019s", 1000000001LL },
	};
	static const char *const bad[] = { "", "5", "s", ".5s", "1.s", "-1s", "+1s", "1 s", "1e3s", "inf", "1d",
					   "3\xc2\xb5s", "0x10s", "99999999999999999999s", "9999999999h", "1s ", "NaNs" };
	int64_t ns;
	char buf[32];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(duration_parse(good[i].text, &ns) == 0, "%s refused", good[i].text);
		ck_assert_int_eq(ns, good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(duration_parse(bad[i], &ns) == -EINVAL, "\"%s\" accepted", bad[i]);
	static const struct { int64_t ns; const char *text; } printed[] = {
		{ 90000000000LL, "1m30s" }, { 3600000000000LL, "1h0m0s" }, { 1500000000LL, "1.5s" },
		{ 30000000000LL, "30s" }, { 500000000LL, "500ms" }, { 1500000LL, "1.5ms" }, { 20000, "20us" },
		{ 7, "7ns" }, { 0, "0s" }, { 3723000000001LL, "1h2m3.000000001s" },
	};
	for (size_t i = 0; i < sizeof(printed) / sizeof(printed[0]); i++) {
		duration_format(printed[i].ns, buf, sizeof(buf));
		ck_assert_str_eq(buf, printed[i].text);
		ck_assert_int_eq(duration_parse(buf, &ns), 0);
		ck_assert_int_eq(ns, printed[i].ns);
	}
}
END_TEST

START_TEST(typed_sets_keep_order_uniqueness_and_limits)
{
	struct port_set a = { 0 }, b = { 0 };
	struct syscall_names n = { 0 }, m = { 0 };
	struct ebpf_config c, d;

	ck_assert_int_eq(port_set_add(&a, 443), 0);
	ck_assert_int_eq(port_set_add(&a, 80), 0);
	ck_assert_int_eq(port_set_add(&a, 80), 0);
	ck_assert_int_eq(port_set_add(&a, 0), -EINVAL);
	ck_assert_int_eq(port_set_add(&a, 65536), -EINVAL);
	ck_assert_int_eq(a.n, 2);
	ck_assert_int_eq(a.ports[0], 80);
	for (unsigned p = 1000; b.n < POLICY_MAX_PORTS; p++)
		ck_assert_int_eq(port_set_add(&b, p), 0);
	ck_assert_int_eq(port_set_add(&b, 1), -E2BIG);
	ck_assert_int_eq(port_set_union(&b, &a), -E2BIG);
	ck_assert_int_eq(b.n, POLICY_MAX_PORTS); /* unchanged */
	port_set_clear(&b);
	ck_assert_int_eq(port_set_add(&b, 80), 0);
	ck_assert_int_eq(port_set_add(&b, 22), 0);
	ck_assert_int_eq(port_set_union(&a, &b), 0);
	ck_assert_int_eq(a.n, 3);
	port_set_subtract(&a, &b);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.ports[0], 443);

	ck_assert(!syscall_name_valid("") && !syscall_name_valid("1read") && !syscall_name_valid("Read"));
	ck_assert(syscall_name_valid("_llseek") && syscall_name_valid("rt_sigreturn"));
	ck_assert_int_eq(syscall_names_add(&n, "write"), 0);
	ck_assert_int_eq(syscall_names_add(&n, "read"), 0);
	ck_assert_int_eq(syscall_names_add(&n, "no such"), -EINVAL);
	ck_assert_int_eq(syscall_names_add(&m, "close"), 0);
	ck_assert_int_eq(syscall_names_union(&m, &n), 0);
	ck_assert_int_eq(m.n, 3);
	ck_assert_str_eq(m.names[0], "close");
	ck_assert(syscall_names_contains(&m, "write") && !syscall_names_contains(&m, "open"));

	ebpf_config_init(&c);
	ebpf_config_init(&d);
	c.l4_firewall.enabled = true;
	ck_assert_int_eq(port_set_copy(&c.l4_firewall.blocked, &b), 0);
	ck_assert_int_eq(syscall_names_copy(&c.syscall_monitoring.names, &m), 0);
	ck_assert_int_eq(ebpf_config_copy(&d, &c), 0);
	ck_assert(ebpf_config_equal(&c, &d));
	d.metrics_export.update_interval_ns++;
	ck_assert(!ebpf_config_equal(&c, &d) && ebpf_config_same_enforcement(&c, &d));
	ebpf_config_clear(&c);
	ebpf_config_clear(&d);
	port_set_clear(&a);
	port_set_clear(&b);
	syscall_names_clear(&n);
	syscall_names_clear(&m);
}
END_TEST

START_TEST(syscall_names_resolve_per_architecture)
{
	/* Numbers differ between the architectures; both tables come from linux-libc-dev. */
	ck_assert_int_eq(syscall_table_number_for("x86_64", "read"), 0);
	ck_assert_int_eq(syscall_table_number_for("x86_64", "openat"), 257);
	ck_assert_int_eq(syscall_table_number_for("arm64", "read"), 63);
	ck_assert_int_eq(syscall_table_number_for("arm64", "openat"), 56);
	ck_assert_int_eq(syscall_table_number_for("arm64", "fstat"), 80);      /* via __NR3264_fstat */
	ck_assert_int_eq(syscall_table_number_for("arm64", "open"), -ENOENT);  /* arm64 has only openat */
	ck_assert_int_eq(syscall_table_number_for("x86_64", "open"), 2);
	ck_assert_int_eq(syscall_table_number_for("mips", "read"), -EINVAL);
#if defined(__x86_64__)
	ck_assert_str_eq(syscall_table_arch(), "x86_64");
#elif defined(__aarch64__)
	ck_assert_str_eq(syscall_table_arch(), "arm64");
#endif
	ck_assert_str_eq(syscall_table_name(syscall_table_number("getppid")), "getppid");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy codec");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, documented_example_decodes_into_sorted_sets);
	tcase_add_test(tc, encoded_push_decodes_to_the_same_push);
	tcase_add_test(tc, defaults_are_omitted_in_pushes_and_filled_in_for_get);
	tcase_add_test(tc, each_kind_of_bad_body_names_its_json_path);
	tcase_add_test(tc, strict_json_refuses_nul_bad_utf8_fractions_and_leading_zeros);
	tcase_add_test(tc, valid_unicode_escapes_decode);
	tcase_add_test(tc, limits_and_duplicate_uids);
	tcase_add_test(tc, syscall_unknown_on_the_node_refuses_only_its_pod);
	tcase_add_test(tc, bad_member_after_a_refused_policy_fails_the_body_and_keeps_nothing);
	tcase_add_test(tc, answers_round_trip);
	tcase_add_test(tc, one_duration_grammar);
	tcase_add_test(tc, typed_sets_keep_order_uniqueness_and_limits);
	tcase_add_test(tc, syscall_names_resolve_per_architecture);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
