/* The controller's Prometheus metrics on the shared registry (common/metrics.h): ConfigMap
 * operations, reconcile duration and errors, queue depth, active ConfigMaps, leader, lease
 * transitions, policy pushes to agents. The gauges and push counters are refreshed right before
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
};

struct controller_gauges {
	size_t queue_depth;
	size_t active_configmaps;
	bool leader;
	long long lease_transitions;
	unsigned long long pushes_ok, pushes_failed, pushes_refused; /* PUT /v1/policy by this process */
};

int controller_metrics_new(struct controller_metrics **out);
void controller_metrics_free(struct controller_metrics *m);
const char *configmap_op_name(enum configmap_op op);
void controller_metrics_configmap_op(struct controller_metrics *m, enum configmap_op op, bool ok);
void controller_metrics_observe_reconcile(struct controller_metrics *m, double seconds, int err);
void controller_metrics_set_gauges(struct controller_metrics *m, const struct controller_gauges *g);

#endif
