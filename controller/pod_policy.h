/* The effective policy of one cached pod: every PodConfigMapConfig of its namespace whose valid
 * selector matches it and which enables an eBPF feature, merged in name order (effective_policy.c).
 * A CR that cannot be enforced on the pod's node (a syscall name its architecture lacks, or a list
 * that would push the merge past the agent's limits) is left out, with its reason, and the others
 * are merged without it: one CR never disarms another. */
#ifndef PCMC_CONTROLLER_POD_POLICY_H
#define PCMC_CONTROLLER_POD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "controller/cache.h"
#include "controller/effective_policy.h"

#define POD_POLICY_MAX_CRS 64
#define POD_POLICY_WHY_MAX 300

struct pod_policy_left_out {
	const char *cr;                        /* valid under the pcmcs lock, like crs[] */
	char why[POD_POLICY_WHY_MAX];          /* the CR's field path and item, and what is wrong */
};

struct pod_policy {
	struct effective_policy policy;
	const char *crs[POD_POLICY_MAX_CRS];   /* the merged CRs, by name (valid under the pcmcs lock) */
	size_t ncrs;
	struct pod_policy_left_out left_out[POD_POLICY_MAX_CRS];
	size_t nleft_out;
	char why[200];                         /* when nothing could be computed (too many CRs) */
};

/* True when the pod runs on a node and should be enforced there if a policy selects it. */
bool pod_enforceable(const struct pod *pod);
/* CR enables any eBPF feature. */
bool pcmc_wants_ebpf(const struct pcmc *cr);
/* Caller holds the pcmcs read lock. `node_arch` is the kubernetes.io/arch label of the pod's node,
 * "" when the node has none (then only syscall names of every architecture pass), NULL when the
 * caller has no Node information (no check here: the agent checks its own architecture). Returns 0 (the policy may be
 * empty: not wanted), -E2BIG with out->why (more than POD_POLICY_MAX_CRS CRs), or -ENOMEM. Release
 * with pod_policy_clear. */
int pod_policy_compute_locked(struct object_cache *pcmcs, const struct pod *pod, const char *node_arch,
			      struct pod_policy *out);
/* The left-out entry of CR `name`, or NULL when it is merged (or does not select the pod). */
const struct pod_policy_left_out *pod_policy_left_out_of(const struct pod_policy *p, const char *name);
void pod_policy_clear(struct pod_policy *p);

#endif
