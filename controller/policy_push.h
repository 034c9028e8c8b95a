/* Pushes each node's whole desired state (PUT /v1/policy) to the node's agent while this replica
 * leads: per-node dirty flag and batching window, retries with exponential backoff, a periodic
 * full push, fencing epoch = the Lease's leaseTransitions when leadership began. */
#ifndef PCMC_CONTROLLER_POLICY_PUSH_H
#define PCMC_CONTROLLER_POLICY_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/kube_client.h"
#include "controller/agent_directory.h"
#include "controller/cache.h"
#include "controller/leader_election.h"

struct policy_push_config {
	struct kube_client *client;       /* agent discovery (list/watch of the agent pods) */
	const char *agent_namespace;      /* pcmc-system */
	const char *agent_selector;       /* app.kubernetes.io/name=pcmc-agent */
	int agent_port;                   /* when the agent pod names no container port "api" (9090) */
	struct kube_config *kube_config;  /* its bearer token authenticates us to the agents */
	struct object_cache *pods, *pcmcs;
	struct leader_election *election;
	const char *identity;
	unsigned batch_ms;                 /* at most one push per node per window; the first change goes at once (100) */
	unsigned resync_ms;                /* full push to every agent this often (30000) */
	unsigned backoff_base_ms, backoff_max_ms; /* after a failed push (200, 10000) */
	int workers;                       /* nodes pushed concurrently (4) */
	/* Called (push thread) after an agent's per-pod results changed: statuses need a reconcile. */
	void (*on_results)(void *ud);
	void *ud;
};

struct policy_push;

int policy_push_new(const struct policy_push_config *cfg, struct policy_push **out);
/* Starts agent discovery and the push workers (they push only while leading). */
int policy_push_start(struct policy_push *p);
void policy_push_stop(struct policy_push *p);
void policy_push_free(struct policy_push *p);

/* Leadership edges (from the election callbacks): a new leader pushes every node at once. */
void policy_push_started_leading(struct policy_push *p, long long epoch);
void policy_push_stopped_leading(struct policy_push *p);
/* Something that affects `node` changed (pod event, agent restart). */
void policy_push_node_dirty(struct policy_push *p, const char *node);
/* A CR changed: every node may be affected. */
void policy_push_all_dirty(struct policy_push *p);

enum pod_enforcement { POD_PENDING, POD_ATTACHED, POD_FAILED };
/* What the node's agent last said about pod `uid`; reason filled for POD_FAILED and POD_PENDING. */
enum pod_enforcement policy_push_pod_result(struct policy_push *p, const char *node, const char *uid, char *reason,
					    size_t len);

struct policy_push_stats {
	unsigned long long pushes_ok, pushes_failed, pushes_refused;
	long long epoch;
};
void policy_push_stats(struct policy_push *p, struct policy_push_stats *s);

#endif
