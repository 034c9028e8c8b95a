/* The controller's Prometheus metrics on the shared registry (common/metrics.h): ConfigMap
 * operations, reconcile duration and errors, queue depths, active ConfigMaps, leader, lease
 * transitions, policy pushes to agents and fencing. The gauges and push counters are refreshed right before
 * each scrape. */
#ifndef PCMC_CONTROLLER_CONTROLLER_METRICS_H
#define PCMC_CONTROLLER_CONTROLLER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/metrics.h"

enum configmap_op { CONFIGMAP_CREATE, CONFIGMAP_UPDATE, CONFIGMAP_DELETE, CONFIGMAP_OP_COUNT };

struct controller_metrics {
	struct metrics_registry *registry;
	struct metrics_child *configmap_ops[CONFIGMAP_OP_COUNT][2]; /* [op][0 success, 1 error] */
	struct metrics_child *reconcile_duration;
	struct metrics_child *reconcile_errors;
	struct metrics_child *queue_depth, *active_configmaps, *leader, *lease_transitions;
	struct metrics_child *pushes_ok, *pushes_failed, *pushes_refused;
	struct metrics_child *push_bytes, *agent_reads, *foreign_restored, *epoch_raises, *fencing_epoch;
	struct metrics_child *push_queue_depth, *nodes_pushed;
	struct metrics_child *push_duration;  /* observed by the push workers (node_push.c) */
	struct metrics_child *cached[4];      /* pods, podconfigmapconfigs, configmaps, nodes */
};

struct controller_gauges {
	size_t queue_depth;
	size_t active_configmaps;
	bool leader;
	long long lease_transitions;
	unsigned long long pushes_ok, pushes_failed, pushes_refused; /* PUT /v1/policy by this process */
	unsigned long long push_bytes;       /* their request bodies */
	unsigned long long agent_reads;      /* GET /v1/policy: is the node still holding our push? */
	unsigned long long foreign_restored; /* nodes found holding state not from this leader, restored */
	unsigned long long epoch_raises;     /* Lease raised above an agent's epoch after a 409 */
	long long fencing_epoch;             /* -1 when not leading */
	size_t push_queue_depth;
	size_t nodes_pushed;                 /* nodes whose agent accepted a push of this leadership term */
	size_t cached_pods, cached_pcmcs, cached_configmaps, cached_nodes;
};

int controller_metrics_new(struct controller_metrics **out);
void controller_metrics_free(struct controller_metrics *m);
const char *configmap_op_name(enum configmap_op op);
void controller_metrics_configmap_op(struct controller_metrics *m, enum configmap_op op, bool ok);
void controller_metrics_observe_reconcile(struct controller_metrics *m, double seconds, int err);
/* One PUT /v1/policy, body encoding to answer (or failure); `m` may be NULL. */
void controller_metrics_observe_push(struct controller_metrics *m, double seconds);
void controller_metrics_set_gauges(struct controller_metrics *m, const struct controller_gauges *g);

#endif
