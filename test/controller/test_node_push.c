/* Push scheduling without agents: when a node is pushed, read or left waiting (node_schedule.c),
 * what a fencing refusal calls for, what status may say per pod before and after an agent's
 * answer (node_results.c), and a node's desired state from real caches: only its own pods, the
 * same text for the same state, each pod's policy merged once per change (node_desired.c,
 * pod_policy_cache.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/cache.h"
#include "controller/node_desired.h"
#include "controller/node_results.h"
#include "controller/node_schedule.h"
#include "controller/nodes.h"
#include "controller/pod_policy_cache.h"
#include "common/policy_codec.h"
#include "test/common/tap_main.h"

/* --- node_schedule --- */

START_TEST(a_new_term_pushes_every_node_whatever_it_holds)
{
	struct node_record r = { .pushed_term = 1, .pushed_fingerprint = 42, .last_push_ms = 1000, .next_verify_ms = 9000 };
	uint64_t wait;

	ck_assert_int_eq(node_schedule_action(&r, 1, 42, 1050, &wait), NODE_WAIT);
	ck_assert_int_eq(node_schedule_action(&r, 2, 42, 1050, &wait), NODE_PUSH);
	/* and no batching window holds it back */
	ck_assert_uint_eq(node_schedule_hold_ms(&r, 2, 1050, 100), 0);
	ck_assert_uint_eq(node_schedule_hold_ms(&r, 1, 1050, 100), 50);
}
END_TEST

START_TEST(an_unchanged_node_is_read_when_due_and_not_pushed)
{
	struct node_record r = { .pushed_term = 3, .pushed_fingerprint = 7, .last_push_ms = 0, .next_verify_ms = 5000 };
	uint64_t wait;

	ck_assert_int_eq(node_schedule_action(&r, 3, 7, 1000, &wait), NODE_WAIT);
	ck_assert_uint_eq(wait, 4000);
	ck_assert_int_eq(node_schedule_action(&r, 3, 7, 5000, &wait), NODE_VERIFY);
	ck_assert_int_eq(node_schedule_action(&r, 3, 8, 1000, &wait), NODE_PUSH);
}
END_TEST

START_TEST(changes_right_after_a_push_wait_for_the_batching_window)
{
	struct node_record r = { .pushed_term = 1, .pushed_fingerprint = 1, .last_push_ms = 10000 };

	ck_assert_uint_eq(node_schedule_hold_ms(&r, 1, 10000, 100), 100);
	ck_assert_uint_eq(node_schedule_hold_ms(&r, 1, 10099, 100), 1);
	ck_assert_uint_eq(node_schedule_hold_ms(&r, 1, 10100, 100), 0);
}
END_TEST

START_TEST(an_agent_that_restarted_is_pushed_even_if_nothing_changed)
{
	struct node_record r = { .pushed_term = 1, .pushed_fingerprint = 5, .last_push_ms = 1000, .next_verify_ms = 99999 };
	uint64_t wait;

	r.agent_changes = 1; /* the agent's pod restarted after our last accepted push */
	ck_assert_int_eq(node_schedule_action(&r, 1, 5, 1001, &wait), NODE_PUSH);
	ck_assert_uint_eq(node_schedule_hold_ms(&r, 1, 1001, 100), 0);
	r.agent_changes_pushed = 1;
	ck_assert_int_eq(node_schedule_action(&r, 1, 5, 1001, &wait), NODE_WAIT);
}
END_TEST

START_TEST(only_our_exact_last_push_counts_as_ours)
{
	struct node_record r = { .epoch = 4, .revision = 1700000000123ULL };

	ck_assert(node_schedule_holds_ours(&r, "ctl-a", true, "ctl-a", 4, 1700000000123LL));
	ck_assert(!node_schedule_holds_ours(&r, "ctl-a", false, "", 0, 0));                 /* nothing held */
	ck_assert(!node_schedule_holds_ours(&r, "ctl-a", true, "ctl-b", 4, 1700000000123LL)); /* another sender */
	ck_assert(!node_schedule_holds_ours(&r, "ctl-a", true, "ctl-a", 5, 1700000000123LL)); /* higher epoch */
	ck_assert(!node_schedule_holds_ours(&r, "ctl-a", true, "ctl-a", 4, 1700000000999LL)); /* other revision */
}
END_TEST

START_TEST(a_refusal_raises_above_the_agents_epoch_only_when_it_holds_ours_or_newer)
{
	long long to;

	ck_assert_int_eq(node_schedule_refusal(3, FENCE_OLDER_EPOCH, true, 7, 0, &to), REFUSAL_RAISE);
	ck_assert_int_eq(to, 8);
	/* same epoch, a newer revision (another holder of our token pushed) */
	ck_assert_int_eq(node_schedule_refusal(3, FENCE_OLDER_REVISION, true, 3, 0, &to), REFUSAL_RAISE);
	ck_assert_int_eq(to, 4);
	/* An agent holding an older epoch refuses only while its view lags. */
	ck_assert_int_eq(node_schedule_refusal(3, FENCE_NONE, true, 2, 0, &to), REFUSAL_RETRY_LATER);
	ck_assert_int_eq(node_schedule_refusal(3, FENCE_NONE, false, 0, 0, &to), REFUSAL_RETRY_LATER);
	ck_assert_int_eq(node_schedule_refusal(3, FENCE_OLDER_EPOCH, true, 7, NODE_SCHEDULE_MAX_RAISES, &to),
			 REFUSAL_GIVE_UP);
	ck_assert_int_eq(node_schedule_refusal(3, FENCE_OLDER_EPOCH, true, NODE_SCHEDULE_EPOCH_MAX, 0, &to),
			 REFUSAL_GIVE_UP);
}
END_TEST

START_TEST(a_refusal_over_the_lease_makes_sure_the_lease_is_ours_and_not_below_our_epoch)
{
	long long to;

	/* A Lease recreated by hand below our epoch; another holder named; the agent saw no renewal. */
	ck_assert_int_eq(node_schedule_refusal(5, FENCE_EPOCH_ABOVE_LEASE, false, 0, 0, &to), REFUSAL_RAISE);
	ck_assert_int_eq(to, 5);
	ck_assert_int_eq(node_schedule_refusal(5, FENCE_NOT_LEASE_HOLDER, true, 4, 0, &to), REFUSAL_RAISE);
	ck_assert_int_eq(to, 5);
	ck_assert_int_eq(node_schedule_refusal(5, FENCE_LEASE_EXPIRED, true, 5, 0, &to), REFUSAL_RAISE);
	ck_assert_int_eq(to, 6); /* it holds our epoch: only a higher one passes */
	ck_assert_int_eq(node_schedule_refusal(5, FENCE_NOT_LEASE_HOLDER, false, 0, NODE_SCHEDULE_MAX_RAISES, &to),
			 REFUSAL_GIVE_UP);
}
END_TEST

/* --- node_results --- */

struct changed {
	char uids[16][40];
	int n;
};

static void note_changed(void *ud, const char *uid)
{
	struct changed *c = ud;

	if (c->n < 16)
		snprintf(c->uids[c->n++], sizeof(c->uids[0]), "%s", uid);
}

static struct strmap *answer(const char *uid1, enum pod_enforcement s1, const char *uid2, enum pod_enforcement s2)
{
	struct strmap *m = strmap_new();
	int err = 0;

	strmap_put(m, uid1, pod_outcome_new(s1, s1 == ENFORCE_FAILED ? "no free pod slot" : ""), &err);
	if (uid2)
		strmap_put(m, uid2, pod_outcome_new(s2, s2 == ENFORCE_FAILED ? "no free pod slot" : ""), &err);
	return m;
}

START_TEST(status_waits_for_this_terms_first_answer_of_each_node)
{
	struct node_results *r = node_results_new();
	struct changed c = { 0 };
	char why[200];

	ck_assert_int_eq(node_results_pod(r, "n1", "u1", why, sizeof(why)), ENFORCE_UNKNOWN);
	ck_assert_int_eq(node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, "u2", ENFORCE_FAILED), note_changed, &c), 0);
	ck_assert_int_eq(c.n, 2); /* first answer: every pod's CRs hear of it */
	ck_assert_int_eq(node_results_pod(r, "n1", "u1", why, sizeof(why)), ENFORCE_ATTACHED);
	ck_assert_int_eq(node_results_pod(r, "n1", "u2", why, sizeof(why)), ENFORCE_FAILED);
	ck_assert_str_eq(why, "no free pod slot");
	ck_assert_int_eq(node_results_pod(r, "n1", "u3", why, sizeof(why)), ENFORCE_PENDING);
	ck_assert_int_eq(node_results_pod(r, "n2", "u9", why, sizeof(why)), ENFORCE_UNKNOWN);
	/* A new leadership term knows nothing until the node answers again. */
	node_results_new_term(r);
	ck_assert_int_eq(node_results_pod(r, "n1", "u1", why, sizeof(why)), ENFORCE_UNKNOWN);
	c.n = 0;
	node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, "u2", ENFORCE_FAILED), note_changed, &c);
	ck_assert_int_eq(c.n, 2);
	ck_assert_int_eq(node_results_pod(r, "n1", "u1", why, sizeof(why)), ENFORCE_ATTACHED);
	node_results_free(r);
}
END_TEST

START_TEST(only_pods_whose_answer_changed_are_reported)
{
	struct node_results *r = node_results_new();
	struct changed c = { 0 };

	node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, "u2", ENFORCE_FAILED), NULL, NULL);
	node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, "u2", ENFORCE_ATTACHED), note_changed, &c);
	ck_assert_int_eq(c.n, 1);
	ck_assert_str_eq(c.uids[0], "u2");
	c.n = 0;
	node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, "u2", ENFORCE_ATTACHED), note_changed, &c);
	ck_assert_int_eq(c.n, 0);
	node_results_free(r);
}
END_TEST

START_TEST(an_unreachable_agent_keeps_known_results_and_says_why_for_the_rest)
{
	struct node_results *r = node_results_new();
	struct strmap *pods = strmap_new();
	struct changed c = { 0 };
	char why[200];
	int err = 0;

	node_results_store(r, "n1", answer("u1", ENFORCE_ATTACHED, NULL, 0), NULL, NULL);
	strmap_put(pods, "u1", NULL, &err);
	strmap_put(pods, "u2", NULL, &err);
	node_results_fail(r, "n1", "agent 127.0.0.1:9 unreachable", pods, note_changed, &c);
	ck_assert_int_eq(c.n, 1); /* the pending one */
	ck_assert_str_eq(c.uids[0], "u2");
	ck_assert_int_eq(node_results_pod(r, "n1", "u1", why, sizeof(why)), ENFORCE_ATTACHED);
	ck_assert_int_eq(node_results_pod(r, "n1", "u2", why, sizeof(why)), ENFORCE_PENDING);
	ck_assert_str_eq(why, "agent 127.0.0.1:9 unreachable");
	c.n = 0;
	node_results_fail(r, "n1", "agent 127.0.0.1:9 unreachable", pods, note_changed, &c);
	ck_assert_int_eq(c.n, 0); /* the same error again changes nothing */
	strmap_free(pods, NULL);
	node_results_free(r);
}
END_TEST

/* --- node_desired + pod_policy_cache on real caches --- */

static void *decode(const struct object_kind *kind, const char *json)
{
	cJSON *doc = cJSON_Parse(json);
	void *obj;

	ck_assert_ptr_nonnull(doc);
	obj = kind->decode(doc);
	cJSON_Delete(doc);
	ck_assert_ptr_nonnull(obj);
	return obj;
}

static void add_pod(struct object_cache *pods, const char *name, const char *uid, const char *node, const char *app,
		    const char *rv)
{
	char json[800];
	int err;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"uid\":\"%s\",\"resourceVersion\":\"%s\","
		 "\"labels\":{\"app\":\"%s\"}},\"spec\":{\"nodeName\":\"%s\"},\"status\":{\"phase\":\"Running\"}}",
		 name, uid, rv, app, node);
	pod_free(object_cache_upsert(pods, decode(&pod_kind, json), &err));
	ck_assert_int_eq(err, 0);
}

static void add_cr(struct object_cache *pcmcs, const char *name, const char *app, int blocked)
{
	char json[800];
	int err;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"uid\":\"cr-%s\",\"generation\":1},"
		 "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"%s\"}},\"ebpfConfig\":{\"l4Firewall\":"
		 "{\"enabled\":true,\"blockedPorts\":[%d]}}}}",
		 name, name, app, blocked);
	pcmc_free(object_cache_upsert(pcmcs, decode(&pcmc_kind, json), &err));
	ck_assert_int_eq(err, 0);
}

static const char *pod_node(const void *obj)
{
	return ((const struct pod *)obj)->node_name;
}

struct world {
	struct object_cache *pods, *pcmcs, *nodes;
	struct pod_policy_cache *cache;
};

static struct world world_new(void)
{
	struct world w = { object_cache_new(&pod_kind), object_cache_new(&pcmc_kind), object_cache_new(&node_kind), NULL };

	w.cache = pod_policy_cache_new(w.nodes);
	ck_assert_int_eq(object_cache_set_index(w.pods, pod_node), 0);
	add_cr(w.pcmcs, "web", "web", 22);
	/* 3 web pods on n1, 2 on n2, a db pod on n1 that no CR selects */
	add_pod(w.pods, "web-1", "u-b", "n1", "web", "1");
	add_pod(w.pods, "web-2", "u-a", "n1", "web", "1");
	add_pod(w.pods, "web-3", "u-c", "n1", "web", "1");
	add_pod(w.pods, "web-4", "u-d", "n2", "web", "1");
	add_pod(w.pods, "web-5", "u-e", "n2", "web", "1");
	add_pod(w.pods, "db-1", "u-f", "n1", "db", "1");
	return w;
}

static void world_free(struct world *w)
{
	pod_policy_cache_free(w->cache);
	object_cache_free(w->pods);
	object_cache_free(w->pcmcs);
	object_cache_free(w->nodes);
}

START_TEST(a_nodes_state_holds_its_own_selected_pods_sorted_with_their_policy)
{
	struct world w = world_new();
	struct node_desired d;
	const char *want_prefix = "{\"node\":\"n1\",\"sender\":{\"identity\":\"ctl-a\",\"epoch\":4},\"revision\":77,";
	struct policy_push *push;
	struct json_error jerr;
	char *body;
	size_t len;

	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &d), 0);
	ck_assert_int_eq(d.npushed, 3);
	ck_assert_str_eq(d.pushed[0].uid, "u-a");
	ck_assert_str_eq(d.pushed[1].uid, "u-b");
	ck_assert_str_eq(d.pushed[2].uid, "u-c");
	body = node_desired_body(&d, "n1", "ctl-a", 4, 77, &len);
	ck_assert_ptr_nonnull(body);
	ck_assert_msg(strncmp(body, want_prefix, strlen(want_prefix)) == 0, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "\"blockedPorts\":[22]"));
	ck_assert_ptr_nonnull(strstr(body, "\"pods\":[{\"uid\":\"u-a\",\"namespace\":\"shop\",\"name\":\"web-2\",\"policy\":{"));
	ck_assert_ptr_null(strstr(body, "db-1"));
	ck_assert_ptr_null(strstr(body, "web-4"));
	/* the agent's own decoder reads it back: the codec both programs share */
	ck_assert_int_eq(policy_push_decode(body, len, NULL, &push, &jerr), 0);
	ck_assert_uint_eq(push->n_pods, 3);
	ck_assert_int_eq(push->sender.epoch, 4);
	ck_assert_int_eq(push->revision, 77);
	ck_assert(push->pods[0].policy.l4_firewall.enabled);
	ck_assert(port_set_contains(&push->pods[0].policy.l4_firewall.blocked, 22));
	policy_push_free(push);
	free(body);
	/* the pods this state is about map back to their CR (for re-enqueueing its status) */
	ck_assert_str_eq(((struct desired_pod *)strmap_get(d.pods, "u-c"))->policy->pp.crs[0], "web");
	node_desired_clear(w.cache, &d);
	world_free(&w);
}
END_TEST

START_TEST(each_pods_policy_is_merged_once_per_change_and_shared)
{
	struct world w = world_new();
	struct pod_policy_cache_stats st;
	struct node_desired a, b;

	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &a), 0);
	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n2", NULL, &b), 0);
	pod_policy_cache_stats(w.cache, &st);
	ck_assert_uint_eq(st.computed, 6);  /* every pod of both nodes once */
	ck_assert_uint_eq(st.distinct, 2);  /* web's policy, and db's "nothing wanted" */
	node_desired_clear(w.cache, &a);
	node_desired_clear(w.cache, &b);
	/* Nothing changed: the same text, no merge. */
	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &a), 0);
	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &b), 0);
	ck_assert_uint_eq(a.fingerprint, b.fingerprint);
	pod_policy_cache_stats(w.cache, &st);
	ck_assert_uint_eq(st.computed, 6);
	node_desired_clear(w.cache, &a);
	node_desired_clear(w.cache, &b);
	world_free(&w);
}
END_TEST

START_TEST(a_relabelled_pod_changes_only_its_nodes_state)
{
	struct world w = world_new();
	struct pod_policy_cache_stats st;
	struct node_desired n1a, n2a, n1b, n2b;

	node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &n1a);
	node_desired_build(w.pcmcs, w.pods, w.cache, "n2", NULL, &n2a);
	add_pod(w.pods, "web-2", "u-a", "n1", "other", "2"); /* relabelled out */
	node_desired_build(w.pcmcs, w.pods, w.cache, "n1", NULL, &n1b);
	node_desired_build(w.pcmcs, w.pods, w.cache, "n2", NULL, &n2b);
	ck_assert_uint_ne(n1a.fingerprint, n1b.fingerprint);
	ck_assert_uint_eq(n2a.fingerprint, n2b.fingerprint);
	ck_assert_int_eq(n1b.npushed, 2);
	pod_policy_cache_stats(w.cache, &st);
	ck_assert_uint_eq(st.computed, 7); /* only the relabelled pod again */
	node_desired_clear(w.cache, &n1a);
	node_desired_clear(w.cache, &n2a);
	node_desired_clear(w.cache, &n1b);
	node_desired_clear(w.cache, &n2b);
	world_free(&w);
}
END_TEST

START_TEST(a_cr_change_recomputes_its_namespaces_pods)
{
	struct world w = world_new();
	struct node_desired a, b;

	node_desired_build(w.pcmcs, w.pods, w.cache, "n2", NULL, &a);
	add_cr(w.pcmcs, "web", "web", 23);
	/* Without being told, the cache may serve the old merge; told, it must not. */
	pod_policy_cache_namespace_changed(w.cache, "shop");
	node_desired_build(w.pcmcs, w.pods, w.cache, "n2", NULL, &b);
	ck_assert_uint_ne(a.fingerprint, b.fingerprint);
	ck_assert(port_set_contains(&b.pushed[0].policy->pp.policy.config.l4_firewall.blocked, 23));
	node_desired_clear(w.cache, &a);
	node_desired_clear(w.cache, &b);
	world_free(&w);
}
END_TEST

START_TEST(a_pod_the_agent_refused_is_left_out_and_reported_failed)
{
	struct world w = world_new();
	struct strmap *rejected = strmap_new();
	struct node_desired d;
	const struct pod_outcome *r;
	int err = 0;

	strmap_put(rejected, "u-b", strdup("$.pods[1].policy...: unknown syscall"), &err);
	ck_assert_int_eq(node_desired_build(w.pcmcs, w.pods, w.cache, "n1", rejected, &d), 0);
	ck_assert_int_eq(d.npushed, 2);
	ck_assert_str_ne(d.pushed[0].uid, "u-b");
	ck_assert_str_ne(d.pushed[1].uid, "u-b");
	r = strmap_get(d.failed, "u-b");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->state, ENFORCE_FAILED);
	ck_assert_ptr_nonnull(strstr(r->reason, "unknown syscall"));
	ck_assert_int_eq(((struct desired_pod *)strmap_get(d.pods, "u-b"))->index, -1);
	node_desired_clear(w.cache, &d);
	strmap_free(rejected, free);
	world_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("node_push");
	TCase *tc = tcase_create("node_push");

	tcase_add_test(tc, a_new_term_pushes_every_node_whatever_it_holds);
	tcase_add_test(tc, an_unchanged_node_is_read_when_due_and_not_pushed);
	tcase_add_test(tc, changes_right_after_a_push_wait_for_the_batching_window);
	tcase_add_test(tc, an_agent_that_restarted_is_pushed_even_if_nothing_changed);
	tcase_add_test(tc, only_our_exact_last_push_counts_as_ours);
	tcase_add_test(tc, a_refusal_raises_above_the_agents_epoch_only_when_it_holds_ours_or_newer);
	tcase_add_test(tc, a_refusal_over_the_lease_makes_sure_the_lease_is_ours_and_not_below_our_epoch);
	tcase_add_test(tc, status_waits_for_this_terms_first_answer_of_each_node);
	tcase_add_test(tc, only_pods_whose_answer_changed_are_reported);
	tcase_add_test(tc, an_unreachable_agent_keeps_known_results_and_says_why_for_the_rest);
	tcase_add_test(tc, a_nodes_state_holds_its_own_selected_pods_sorted_with_their_policy);
	tcase_add_test(tc, each_pods_policy_is_merged_once_per_change_and_shared);
	tcase_add_test(tc, a_relabelled_pod_changes_only_its_nodes_state);
	tcase_add_test(tc, a_cr_change_recomputes_its_namespaces_pods);
	tcase_add_test(tc, a_pod_the_agent_refused_is_left_out_and_reported_failed);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
