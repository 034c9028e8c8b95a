/* The agent's view of the controller's Lease (coordination.k8s.io), for fencing: who holds it, its
 * leaseTransitions, and whether it is still renewed as this agent observes it (the record changed
 * within leaseDurationSeconds on the agent's monotonic clock, like client-go's observedTime).
 * A watch keeps the view current; a push the view disagrees with makes it read the Lease once more. */
#ifndef PCMC_AGENT_LEASE_H
#define PCMC_AGENT_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/policy_codec.h"

struct kube_client;

/* What the agent saw of the Lease when it decided. */
struct lease_seen {
	bool exists;
	char holder[POLICY_IDENTITY_MAX + 1];
	int64_t transitions;
	int64_t duration_ms;
	int64_t since_renew_ms;            /* since the agent saw the record change */
};

struct agent_lease;

/* Watches namespace/name through client (not owned; must outlive the view). 0 or -errno. */
int agent_lease_new(struct kube_client *client, const char *namespace, const char *name, struct agent_lease **out);
void agent_lease_free(struct agent_lease *l);
/* Whether a push from (identity, epoch) comes from the current leader: *reason FENCE_NONE, or
 * FENCE_NOT_LEASE_HOLDER (another holder, or no Lease), FENCE_LEASE_EXPIRED (no renewal seen within
 * leaseDurationSeconds), FENCE_EPOCH_ABOVE_LEASE (epoch > leaseTransitions). A disagreeing view is
 * read again once first. 0, or -EIO when the Lease cannot be read (nothing can be confirmed).
 * Blocks up to a few seconds on the API server: call it from the worker, never the HTTP thread. */
int agent_lease_check(struct agent_lease *l, const char *identity, int64_t epoch, enum fence_reason *reason,
		      struct lease_seen *seen);
/* "namespace/name" of the Lease, for messages. */
const char *agent_lease_name(const struct agent_lease *l);

#endif
