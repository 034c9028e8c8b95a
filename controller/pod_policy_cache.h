/* Each pod's effective policy (pod_policy.c's merge) computed once per change of the pod, of
 * its namespace's CRs or of its node, and shared by the node push and the CR status. Pods with
 * the same outcome share one immutable result, so 150,000 pods cost a few distinct merges. */
#ifndef PCMC_CONTROLLER_POD_POLICY_CACHE_H
#define PCMC_CONTROLLER_POD_POLICY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/cache.h"
#include "controller/pod_policy.h"

/* Read-only once returned. */
struct pod_policy_result {
	int err;                   /* 0, or the merge's -E2BIG/-EINVAL: pp.why says why */
	struct pod_policy pp;      /* pp.crs[] and pp.left_out[].cr point at strings owned by the result */
	bool wanted;               /* an eBPF feature is on: the pod is pushed to its node's agent */
	uint64_t policy_hash;      /* of pp.policy.config's canonical encoding: equal configs, equal hashes */
	/* private */
	unsigned refs;
	char *intern_key;
};

struct pod_policy_cache;

/* `nodes` (may be NULL: no per-node check) gives each pod's node architecture to the merge. */
struct pod_policy_cache *pod_policy_cache_new(struct object_cache *nodes);
void pod_policy_cache_free(struct pod_policy_cache *c);

/* The pod's result, computed now if the cached one is stale. The caller holds the pcmcs and pods
 * read locks (taken in that order; the nodes cache is read inside) and drops the reference with
 * pod_policy_result_put. NULL: out of memory. */
const struct pod_policy_result *pod_policy_cache_get_locked(struct pod_policy_cache *c, struct object_cache *pcmcs,
							     const struct pod *pod);
void pod_policy_result_put(struct pod_policy_cache *c, const struct pod_policy_result *r);

/* Invalidation, from the event handlers: the pod is gone; a CR of the namespace changed; the
 * node changed (its architecture decides which syscall names are valid). */
void pod_policy_cache_forget_pod(struct pod_policy_cache *c, const char *uid);
void pod_policy_cache_namespace_changed(struct pod_policy_cache *c, const char *namespace);
void pod_policy_cache_node_changed(struct pod_policy_cache *c, const char *node);

struct pod_policy_cache_stats {
	unsigned long long computed, hits;
	size_t pods, distinct;
};
void pod_policy_cache_stats(struct pod_policy_cache *c, struct pod_policy_cache_stats *s);

#endif
