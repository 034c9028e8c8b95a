/* The enforcement part of a PodConfigMapConfig's status: attachedPods, nodes[] with per-node
 * attached/failed pods and reasons (from the agents' per-pod results, and the pods on whose node this
 * CR is left out of the merge), the Conflict condition naming every CR merged with this one. */
#ifndef PCMC_CONTROLLER_POLICY_STATUS_H
#define PCMC_CONTROLLER_POLICY_STATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "controller/cache.h"
#include "controller/node_push.h"
#include "controller/pod_policy_cache.h"

struct policy_enforcement {
	int wanted;          /* selected Running pods that must be enforced (0 when the CR enables no eBPF) */
	int attached, failed, pending;
	int unknown;         /* pods on nodes this leader has not heard from yet: write no status */
	cJSON *nodes;        /* the status.nodes array (owned) */
	char problem[1024];  /* first failed or pending pod and why */
	bool conflict;
	char conflict_message[16384]; /* every other CR merged with this one, and what the merge did to it */
};

/* Reads the caches (pcmcs, then pods) and the push results. Returns 0 or -ENOMEM; clear with
 * policy_enforcement_clear. A missing CR gives an empty result. */
int policy_enforcement_compute(struct node_push *push, struct pod_policy_cache *policies, struct object_cache *pcmcs,
			       struct object_cache *pods, const char *namespace, const char *name,
			       struct policy_enforcement *out);
void policy_enforcement_clear(struct policy_enforcement *e);
/* Sets attachedPods, nodes and condition Conflict in status `st`. Returns true if anything changed. */
bool policy_enforcement_apply(cJSON *st, const struct policy_enforcement *e, long long generation, const char *now);

#endif
