/* Pushes each node's whole desired state to its pcmc-agent while this replica leads, through a
 * workqueue keyed by node name (the same workqueue as the CRs': dedup, rate limit, backoff,
 * forget). Event handlers only mark nodes; workers build the node's state from the pods-by-node
 * index, push it when it changed (or the agent holds something else), and read what the agent
 * holds at least every verify interval. Fencing: the epoch is the Lease's leaseTransitions; an
 * agent refusing with 409 makes the leader raise the Lease above the agent's epoch and push
 * again (docs/policy-distribution.md). */
#ifndef PCMC_CONTROLLER_NODE_PUSH_H
#define PCMC_CONTROLLER_NODE_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/kube_client.h"
#include "controller/cache.h"
#include "controller/controller_metrics.h"
#include "controller/leader_election.h"
#include "controller/node_results.h"
#include "controller/pod_policy_cache.h"

struct node_push_config {
	struct kube_client *client;        /* agent discovery (list/watch of the agent pods) */
	const char *agent_namespace;       /* pcmc-system */
	const char *agent_selector;        /* app.kubernetes.io/name=pcmc-agent */
	int agent_port;                    /* when the agent pod names no container port "api" (4855) */
	struct kube_config *kube_config;   /* its bearer token authenticates us to the agents */
	struct object_cache *pods, *pcmcs; /* pods indexed by node (object_cache_set_index) */
	struct pod_policy_cache *policies;
	struct leader_election *election;
	const char *identity;
	unsigned batch_ms;                 /* a node is pushed at most once per window (100) */
	unsigned verify_ms;                /* each agent is read at least this often (7500) */
	unsigned backoff_base_ms, backoff_max_ms; /* after a failed push (200, 10000) */
	int workers;                       /* nodes pushed concurrently (8) */
	unsigned max_connections;          /* keep-alive connections to agents (8192) */
	/* Called (push worker, no cache lock held) for each pod whose enforcement changed: the status of
	 * the CRs selecting it needs a reconcile. */
	void (*pod_result_changed)(void *ud, const char *namespace, const char *pod);
	void *ud;
	struct controller_metrics *metrics; /* push durations (may be NULL) */
};

struct node_push;

int node_push_new(const struct node_push_config *cfg, struct node_push **out);
/* Starts agent discovery and the workers (they push only while leading). */
int node_push_start(struct node_push *np);
/* After leader_election_stop: wakes and joins the workers, stops discovery. */
void node_push_stop(struct node_push *np);
void node_push_free(struct node_push *np);
bool node_push_synced(struct node_push *np);
/* Blocks until node_push_synced (0) or node_push_cancel_sync (-ECANCELED, a shutdown: it stops
 * agent discovery), woken by either event. */
int node_push_wait_synced(struct node_push *np);
void node_push_cancel_sync(struct node_push *np);

/* Leadership edges (election callbacks): a new term pushes every node with pods or an agent. */
void node_push_started_leading(struct node_push *np, long long epoch);
void node_push_stopped_leading(struct node_push *np);

/* Something that decides `node`'s desired state changed (a pod, a CR, the node itself). */
void node_push_mark(struct node_push *np, const char *node);

/* What this leader knows of pod `uid` on `node` (ENFORCE_UNKNOWN before this term's first answer). */
enum pod_enforcement node_push_pod_result(struct node_push *np, const char *node, const char *uid, char *reason,
					  size_t len);

struct node_push_stats {
	unsigned long long pushes_ok, pushes_failed, pushes_refused; /* PUT /v1/policy answers */
	unsigned long long push_bytes;        /* request bodies sent */
	unsigned long long reads;             /* GET /v1/policy (verification) */
	unsigned long long foreign_restored;  /* nodes found holding state not from this leader */
	unsigned long long epoch_raises;      /* Lease raised above an agent's epoch */
	long long epoch;                      /* fencing epoch in use (-1 when not leading) */
	size_t nodes_pushed;                  /* nodes whose agent accepted a push of this term */
	size_t queue_depth;
};
void node_push_stats(struct node_push *np, struct node_push_stats *s);

#endif
