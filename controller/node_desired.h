/* A node's desired state: every enforceable pod bound to it (the pods-by-node index, so the cost
 * is the node's pods, not the cluster's) with its cached effective policy, a fingerprint to tell
 * whether it changed, what the push needs to map answers back to pods and their CRs, and the
 * PUT /v1/policy body written with the common policy codec. */
#ifndef PCMC_CONTROLLER_NODE_DESIRED_H
#define PCMC_CONTROLLER_NODE_DESIRED_H

#include <stddef.h>
#include <stdint.h>

#include "controller/cache.h"
#include "controller/pod_policy_cache.h"
#include "controller/strmap.h"

/* A pod this state is about: pushed, or failed before the push (its merge failed, or the agent
 * refused it with a 400). */
struct desired_pod {
	const struct pod_policy_result *policy; /* a reference */
	char *namespace, *name;
	int index;                              /* position in the pushed array, -1 when not pushed */
};

/* A pushed pod, in the body's order (sorted by uid). */
struct pushed_pod {
	char *uid, *namespace, *name;
	const struct pod_policy_result *policy; /* borrowed from `pods` */
};

struct node_desired {
	uint64_t fingerprint;     /* of the pushed pods (uid, namespace, name, policy): same state, same value */
	int npushed;
	struct pushed_pod *pushed;
	struct strmap *pods;      /* uid -> struct desired_pod */
	struct strmap *failed;    /* uid -> struct pod_outcome *: failed before the push */
};

/* Reads the caches (pcmcs, then pods read lock). `rejected` (uid -> reason, may be NULL): pods
 * the agent refused; they are left out and reported failed. 0 or -ENOMEM. */
int node_desired_build(struct object_cache *pcmcs, struct object_cache *pods, struct pod_policy_cache *cache,
		       const char *node, const struct strmap *rejected, struct node_desired *out);
void node_desired_clear(struct pod_policy_cache *cache, struct node_desired *d);
/* The whole PUT body: {"node","sender":{identity,epoch},"revision","pods"}. NULL: no memory. */
char *node_desired_body(const struct node_desired *d, const char *node, const char *identity, long long epoch,
			unsigned long long revision, size_t *len);

#endif
