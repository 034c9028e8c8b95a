/* Per-CR enforcement summary: every selected Running pod's result on its node's agent, grouped
 * by node; the CR is Ready only when all of them are attached. Conflicts come from the same
 * merge the push uses (pod_policy.c), so status names exactly what was merged. */
#include "controller/policy_status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/pod_policy.h"
#include "controller/status.h"

#define MAX_FAILURES_PER_NODE 20

struct summary_ctx {
	struct policy_push *push;
	struct object_cache *pcmcs;
	const struct pcmc *cr;
	struct policy_enforcement *out;
	int err;
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

static int summarize_pod(void *ud, const void *obj)
{
	struct summary_ctx *s = ud;
	const struct pod *pod = obj;
	struct policy_enforcement *e = s->out;
	struct pod_policy pp;
	char reason[300];
	enum pod_enforcement st;
	cJSON *node;
	int err;

	if (!pod_enforceable(pod) || !label_selector_matches(s->cr->selector, &pod->labels))
		return 0;
	err = pod_policy_compute_locked(s->pcmcs, pod, &pp);
	if (err == -ENOMEM)
		return err;
	if (!err && pp.policy.conflicts && pp.ncrs > 1 && !e->conflict) {
		char fields[200], others[300] = "";
		size_t used = 0;

		effective_policy_conflict_names(pp.policy.conflicts, fields, sizeof(fields));
		for (size_t i = 0; i < pp.ncrs && used < sizeof(others); i++) {
			if (strcmp(pp.crs[i], s->cr->meta.name) == 0)
				continue;
			used += (size_t)snprintf(others + used, sizeof(others) - used, "%s%s/%s", used ? ", " : "",
						 pod->meta.namespace, pp.crs[i]);
		}
		e->conflict = true;
		snprintf(e->conflict_message, sizeof(e->conflict_message),
			 "pod %s/%s is also selected by %s; merged: %s", pod->meta.namespace, pod->meta.name, others,
			 fields);
	}
	pod_policy_clear(&pp);
	e->wanted++;
	st = policy_push_pod_result(s->push, pod->node_name, pod->meta.uid, reason, sizeof(reason));
	node = node_entry(e->nodes, pod->node_name);
	if (st == POD_ATTACHED) {
		e->attached++;
		bump(node, "attachedPods");
		return 0;
	}
	if (st == POD_FAILED) {
		cJSON *failures = cJSON_GetObjectItem(node, "failures"), *f;

		e->failed++;
		bump(node, "failedPods");
		if (cJSON_GetArraySize(failures) < MAX_FAILURES_PER_NODE) {
			f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "pod", pod->meta.name);
			cJSON_AddStringToObject(f, "reason", reason);
			cJSON_AddItemToArray(failures, f);
		}
	} else {
		e->pending++;
	}
	if (!e->problem[0])
		snprintf(e->problem, sizeof(e->problem), "pod %s/%s on node %s %s: %s", pod->meta.namespace,
			 pod->meta.name, pod->node_name, st == POD_FAILED ? "failed" : "not enforced yet", reason);
	return 0;
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

int policy_enforcement_compute(struct policy_push *push, struct object_cache *pcmcs, struct object_cache *pods,
			       const char *namespace, const char *name, struct policy_enforcement *out)
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
		struct summary_ctx s = { push, pcmcs, cr, out, 0 };

		object_cache_read_lock(pods);
		err = object_cache_each_locked(pods, namespace, summarize_pod, &s);
		object_cache_unlock(pods);
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
