/* What applying a node's policy drives, pod by pod: the real dataplane (dataplane_enforcer_new)
 * or, in pcmc-hollow-agents, nothing at all. node_policy_apply knows only this interface. */
#ifndef PCMC_AGENT_ENFORCER_H
#define PCMC_AGENT_ENFORCER_H

#include <stddef.h>

#include "common/policy_codec.h"

struct dataplane;

struct enforcer {
	/* Makes the pod enforce pod->policy (all or nothing). 0 or -errno with why filled. */
	int (*apply_pod)(struct enforcer *e, const struct policy_pod *pod, char *why, size_t why_len);
	/* Stops enforcing the pod and forgets it. 0, -ENOENT (not held) or -errno. */
	int (*remove_pod)(struct enforcer *e, const char *uid);
	/* Removes everything held for pods not in uids (after a restart or failover). Count or -errno. */
	int (*remove_orphans)(struct enforcer *e, const char *const *uids, size_t n);
	void (*free)(struct enforcer *e);
};

/* Over an open dataplane (not owned): syscall names become this architecture's numbers. */
int dataplane_enforcer_new(struct dataplane *dp, struct enforcer **out);
void enforcer_free(struct enforcer *e);

#endif
