/* The controller process wired together: four reflectors (pods indexed by node,
 * PodConfigMapConfigs, owned ConfigMaps, nodes; with agent push a fifth for the agent pods, in
 * agent_directory.c) fill caches; their event handlers compute keys and enqueue them: CR keys on
 * the CR workqueue (N workers reconcile ConfigMaps and status) and, with agent push, node names
 * on the node workqueue (node_push.c). Nothing polls: start waits for each cache's first list on
 * its condition variable, and workers run only while this process holds the Lease, woken by the
 * election; the pods' effective policies are computed once per change (pod_policy_cache.c) and
 * shared by pushes and status. */
#ifndef PCMC_CONTROLLER_CONTROLLER_H
#define PCMC_CONTROLLER_CONTROLLER_H

#include <stdbool.h>

#include "common/kube_client.h"
#include "controller/controller_metrics.h"

struct controller_options {
	int workers;
	const char *identity;
	const char *default_namespace; /* for the Lease when LEADER_ELECTION_LOCK_NAMESPACE is unset */
	/* Policy distribution to the node agents (docs/policy-distribution.md). */
	bool agent_push;
	const char *agent_namespace, *agent_selector;
	int agent_port;
	unsigned push_resync_ms;       /* each agent is read at least this often (and every lease duration / 2) */
	int push_workers;              /* nodes pushed concurrently */
	struct kube_config *kube_config; /* its token authenticates the pushes */
};

struct controller;

int controller_new(struct kube_client *client, const struct controller_options *o, struct controller_metrics *metrics,
		   struct controller **out);
/* Starts the reflectors, then (once their caches are synced) leader election and the workers.
 * Returns 0, -ECANCELED when controller_request_stop came first, or -errno. */
int controller_start(struct controller *c);
/* From any thread (a signal handler's thread): before the caches synced, ends controller_start's
 * wait; after, nothing (controller_stop does the ordered shutdown). */
void controller_request_stop(struct controller *c);
/* Every cache holds a complete list (readiness). */
bool controller_synced(struct controller *c);
/* Gauges for /metrics. */
void controller_gauges(struct controller *c, struct controller_gauges *g);
/* Releases the Lease (if held) first, so a standby can take over, then stops workers and watches. */
void controller_stop(struct controller *c);
void controller_free(struct controller *c);

#endif
