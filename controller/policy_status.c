/* Per-CR enforcement summary: every selected Running pod's result on its node's agent, grouped
 * by node; the CR is Ready only when all of them are attached. Conflicts come from the same
 * merge the push uses (pod_policy.c), so status names exactly what was merged. */
#include "controller/policy_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/pod_policy.h"
#include "controller/policy_explain.h"
#include "controller/status.h"

#define MAX_FAILURES_PER_NODE 20

#define MAX_NAMED_CRS 32

struct summary_ctx {
	struct node_push *push;
	struct pod_policy_cache *policies;
	struct object_cache *pcmcs;
	const struct pcmc *cr;
	struct policy_enforcement *out;
	/* Conflict: the other CRs merged with this one on some pod, and the first pod's explanation. */
	char *others[MAX_NAMED_CRS];
	size_t nothers, more_others;
	int conflicting_pods;
	char first_pod[300];
	char explanation[1500];
};

static cJSON *node_entry(cJSON *nodes, const char *node)
{
	cJSON *n;

	cJSON_ArrayForEach(n, nodes) {
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(n, "name")), node) == 0)
			return n;
	}
	n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "name", node);
	cJSON_AddNumberToObject(n, "attachedPods", 0);
	cJSON_AddNumberToObject(n, "failedPods", 0);
	cJSON_AddArrayToObject(n, "failures");
	cJSON_AddItemToArray(nodes, n);
	return n;
}

static void bump(cJSON *obj, const char *key)
{
	cJSON *v = cJSON_GetObjectItem(obj, key);

	cJSON_SetNumberValue(v, v->valuedouble + 1);
}

static int note_other(struct summary_ctx *s, const char *name)
{
	for (size_t i = 0; i < s->nothers; i++)
		if (strcmp(s->others[i], name) == 0)
			return 0;
	if (s->nothers == MAX_NAMED_CRS) {
		s->more_others++;
		return 0;
	}
	s->others[s->nothers] = strdup(name);
	return s->others[s->nothers++] ? 0 : -ENOMEM;
}

/* What merging did to this CR on the pod: the other CRs are named, the first explanation kept. */
static int note_merge(struct summary_ctx *s, const struct pod *pod, const struct pod_policy *pp)
{
	const struct ebpf_settings *inputs[POD_POLICY_MAX_CRS];
	const struct pcmc *crs[POD_POLICY_MAX_CRS];
	size_t self = pp->ncrs;
	char explanation[sizeof(s->explanation)];

	if (pp->ncrs < 2)
		return 0;
	for (size_t i = 0; i < pp->ncrs; i++) {
		crs[i] = object_cache_get_locked(s->pcmcs, pod->meta.namespace, pp->crs[i]);
		if (!crs[i])
			return 0;
		inputs[i] = &crs[i]->ebpf;
		if (strcmp(pp->crs[i], s->cr->meta.name) == 0)
			self = i;
	}
	if (self == pp->ncrs)
		return 0;
	effective_policy_explain(inputs, pp->crs, pp->ncrs, self, pod->meta.namespace, explanation, sizeof(explanation));
	if (!explanation[0])
		return 0;
	/* Involved: the CRs that share an enabled section with this one. */
	for (size_t i = 0; i < pp->ncrs; i++) {
		const struct ebpf_config *o = &inputs[i]->config, *me = &inputs[self]->config;
		bool shares = (o->syscall_monitoring.enabled && me->syscall_monitoring.enabled) ||
			      (o->l4_firewall.enabled && me->l4_firewall.enabled) ||
			      (o->metrics_export.enabled && me->metrics_export.enabled);

		if (i != self && shares && note_other(s, pp->crs[i]))
			return -ENOMEM;
	}
	if (!s->conflicting_pods++) {
		snprintf(s->first_pod, sizeof(s->first_pod), "%s/%s", pod->meta.namespace, pod->meta.name);
		snprintf(s->explanation, sizeof(s->explanation), "%s", explanation);
	}
	return 0;
}

static void note_problem(struct policy_enforcement *e, const struct pod *pod, const char *state, const char *reason)
{
	if (!e->problem[0])
		snprintf(e->problem, sizeof(e->problem), "pod %s/%s on node %s %s: %s", pod->meta.namespace,
			 pod->meta.name, pod->node_name, state, reason);
}

static void note_failed(struct policy_enforcement *e, cJSON *node, const struct pod *pod, const char *reason)
{
	cJSON *failures = cJSON_GetObjectItem(node, "failures"), *f;

	e->failed++;
	bump(node, "failedPods");
	if (cJSON_GetArraySize(failures) < MAX_FAILURES_PER_NODE) {
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "pod", pod->meta.name);
		cJSON_AddStringToObject(f, "reason", reason);
		cJSON_AddItemToArray(failures, f);
	}
	note_problem(e, pod, "failed", reason);
}

static int summarize_pod(void *ud, const void *obj)
{
	struct summary_ctx *s = ud;
	const struct pod *pod = obj;
	struct policy_enforcement *e = s->out;
	const struct pod_policy_left_out *left;
	const struct pod_policy_result *res;
	char reason[POD_POLICY_WHY_MAX + 100];
	enum pod_enforcement st;
	cJSON *node;
	int err;

	if (!pod_enforceable(pod) || !label_selector_matches(s->cr->selector, &pod->labels))
		return 0;
	/* The pod's merge as the push uses it (computed once per change, shared). */
	res = pod_policy_cache_get_locked(s->policies, s->pcmcs, pod);
	if (!res)
		return -ENOMEM;
	err = res->err;
	e->wanted++;
	node = node_entry(e->nodes, pod->node_name);
	left = err ? NULL : pod_policy_left_out_of(&res->pp, s->cr->meta.name);
	if (left) {
		/* This CR cannot be enforced on this node: the pod gets the others' policy, this CR fails here. */
		snprintf(reason, sizeof(reason), "%s; this PodConfigMapConfig is left out of the pod's policy on this node",
			 left->why);
		note_failed(e, node, pod, reason);
		pod_policy_result_put(s->policies, res);
		return 0;
	}
	if (!err)
		err = note_merge(s, pod, &res->pp);
	pod_policy_result_put(s->policies, res);
	if (err == -ENOMEM)
		return err;
	st = node_push_pod_result(s->push, pod->node_name, pod->meta.uid, reason, sizeof(reason));
	if (st == ENFORCE_UNKNOWN) {
		/* This leader has not heard from the node's agent yet: no status is written meanwhile. */
		e->unknown++;
		return 0;
	}
	if (st == ENFORCE_ATTACHED) {
		e->attached++;
		bump(node, "attachedPods");
		return 0;
	}
	if (st == ENFORCE_FAILED) {
		note_failed(e, node, pod, reason);
		return 0;
	}
	e->pending++;
	note_problem(e, pod, "not enforced yet", reason);
	return 0;
}

/* "merged with shop/a, shop/b on 3 pods; on pod shop/web-1: <explanation>" */
static void conflict_message(struct summary_ctx *s)
{
	struct policy_enforcement *e = s->out;
	size_t used;

	if (!s->conflicting_pods)
		return;
	e->conflict = true;
	used = (size_t)snprintf(e->conflict_message, sizeof(e->conflict_message), "merged with ");
	for (size_t i = 0; i < s->nothers; i++)
		used += (size_t)snprintf(e->conflict_message + used, sizeof(e->conflict_message) - used, "%s%s/%s",
					 i ? ", " : "", s->cr->meta.namespace, s->others[i]);
	if (s->more_others)
		used += (size_t)snprintf(e->conflict_message + used, sizeof(e->conflict_message) - used, " and %zu more",
					 s->more_others);
	snprintf(e->conflict_message + used, sizeof(e->conflict_message) - used, " on %d pod%s; on pod %s: %s",
		 s->conflicting_pods, s->conflicting_pods > 1 ? "s" : "", s->first_pod, s->explanation);
}

static int by_name(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;

	return strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "name")),
		      cJSON_GetStringValue(cJSON_GetObjectItem(y, "name")));
}

/* Stable order, so an unchanged status compares equal. */
static void sort_nodes(cJSON *nodes)
{
	int n = cJSON_GetArraySize(nodes);
	cJSON **v;

	if (n < 2 || !(v = calloc((size_t)n, sizeof(*v))))
		return;
	for (int i = n - 1; i >= 0; i--)
		v[i] = cJSON_DetachItemFromArray(nodes, i);
	qsort(v, (size_t)n, sizeof(*v), by_name);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(nodes, v[i]);
	free(v);
}

int policy_enforcement_compute(struct node_push *push, struct pod_policy_cache *policies, struct object_cache *pcmcs,
			       struct object_cache *pods, const char *namespace, const char *name,
			       struct policy_enforcement *out)
{
	const struct pcmc *cr;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->nodes = cJSON_CreateArray();
	if (!out->nodes)
		return -ENOMEM;
	object_cache_read_lock(pcmcs);
	cr = object_cache_get_locked(pcmcs, namespace, name);
	if (cr && cr->selector && !cr->selector_error[0] && pcmc_wants_ebpf(cr)) {
		struct summary_ctx s = { .push = push, .policies = policies, .pcmcs = pcmcs, .cr = cr, .out = out };

		object_cache_read_lock(pods);
		err = object_cache_each_locked(pods, namespace, summarize_pod, &s);
		object_cache_unlock(pods);
		conflict_message(&s);
		for (size_t i = 0; i < s.nothers; i++)
			free(s.others[i]);
	}
	object_cache_unlock(pcmcs);
	sort_nodes(out->nodes);
	return err;
}

void policy_enforcement_clear(struct policy_enforcement *e)
{
	cJSON_Delete(e->nodes);
	e->nodes = NULL;
}

bool policy_enforcement_apply(cJSON *st, const struct policy_enforcement *e, long long generation, const char *now)
{
	cJSON *cur = cJSON_GetObjectItem(st, "attachedPods"), *nodes = cJSON_GetObjectItem(st, "nodes");
	cJSON *conds = cJSON_GetObjectItem(st, "conditions");
	bool changed = false;

	if (!cJSON_IsNumber(cur) || (int)cur->valuedouble != e->attached) {
		cJSON_DeleteItemFromObject(st, "attachedPods");
		cJSON_AddNumberToObject(st, "attachedPods", e->attached);
		changed = true;
	}
	if (!nodes || !cJSON_Compare(nodes, e->nodes, 1)) {
		cJSON_DeleteItemFromObject(st, "nodes");
		cJSON_AddItemToObject(st, "nodes", cJSON_Duplicate(e->nodes, 1));
		changed = true;
	}
	if (cJSON_IsArray(conds))
		changed |= condition_set(conds, "Conflict", e->conflict ? "True" : "False",
					 e->conflict ? "MergedWithOtherPolicies" : "NoConflict",
					 e->conflict ? e->conflict_message : "no other PodConfigMapConfig sets different eBPF settings for the selected pods",
					 generation, now);
	return changed;
}
