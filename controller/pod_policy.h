/* The effective policy of one cached pod: every PodConfigMapConfig of its namespace whose valid
 * selector matches it and which enables an eBPF feature, merged (effective_policy.c). */
#ifndef PCMC_CONTROLLER_POD_POLICY_H
#define PCMC_CONTROLLER_POD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "controller/cache.h"
#include "controller/effective_policy.h"

#define POD_POLICY_MAX_CRS 64

struct pod_policy {
	struct effective_policy policy;
	const char *crs[POD_POLICY_MAX_CRS];   /* names of the selecting CRs (valid under the pcmcs lock) */
	size_t ncrs;
	char why[200];                         /* when the merge failed */
};

/* True when the pod runs on a node and should be enforced there if a policy selects it. */
bool pod_enforceable(const struct pod *pod);
/* CR enables any eBPF feature. */
bool pcmc_wants_ebpf(const struct pcmc *cr);
/* Caller holds the pcmcs read lock. Returns 0 (policy may be empty: not wanted), -E2BIG/-EINVAL
 * with out->why, or -ENOMEM. Release with pod_policy_clear. */
int pod_policy_compute_locked(struct object_cache *pcmcs, const struct pod *pod, struct pod_policy *out);
void pod_policy_clear(struct pod_policy *p);

#endif
