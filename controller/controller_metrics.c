/* Registers the controller's metric families once and keeps the children the hot paths update. */
#include "controller/controller_metrics.h"

#include <errno.h>
#include <stdlib.h>

static const double reconcile_bounds_s[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
/* A push is one HTTP round trip (plus the agent's apply): a few ms locally, up to the 10 s timeout. */
static const double push_bounds_s[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

const char *configmap_op_name(enum configmap_op op)
{
	static const char *const names[] = { "create", "update", "delete" };

	return op < CONFIGMAP_OP_COUNT ? names[op] : "unknown";
}

static int gauge(struct metrics_registry *r, const char *name, const char *help, struct metrics_child **out)
{
	struct metrics_family *f;
	int err = metrics_gauge_new(r, name, help, NULL, 0, &f);

	return err ? err : metrics_child_get(f, NULL, out);
}

static int counter(struct metrics_registry *r, const char *name, const char *help, struct metrics_child **out)
{
	struct metrics_family *f;
	int err = metrics_counter_new(r, name, help, NULL, 0, &f);

	return err ? err : metrics_child_get(f, NULL, out);
}

int controller_metrics_new(struct controller_metrics **out)
{
	struct controller_metrics *m = calloc(1, sizeof(*m));
	struct metrics_family *ops, *dur, *push_dur, *errs, *pushes, *cached;
	static const char *const cached_kinds[] = { "pods", "podconfigmapconfigs", "configmaps", "nodes" };
	static const char *const cached_labels[] = { "resource" };
	static const char *const op_labels[] = { "operation", "result" };
	static const char *const push_labels[] = { "result" };
	int err;

	if (!m)
		return -ENOMEM;
	err = metrics_registry_new(&m->registry);
	if (err)
		goto fail;
	err = metrics_counter_new(m->registry, "pcmc_controller_configmap_operations_total",
				  "Generated ConfigMap writes by operation and result.", op_labels, 2, &ops);
	for (int op = 0; !err && op < CONFIGMAP_OP_COUNT; op++) {
		err = metrics_child_get(ops, METRICS_LABELS(configmap_op_name(op), "success"), &m->configmap_ops[op][0]);
		if (!err)
			err = metrics_child_get(ops, METRICS_LABELS(configmap_op_name(op), "error"),
						&m->configmap_ops[op][1]);
	}
	if (!err)
		err = metrics_histogram_new(m->registry, "pcmc_controller_reconcile_duration_seconds",
					    "Time to reconcile one PodConfigMapConfig.", NULL, 0, reconcile_bounds_s,
					    sizeof(reconcile_bounds_s) / sizeof(reconcile_bounds_s[0]), &dur);
	if (!err)
		err = metrics_child_get(dur, NULL, &m->reconcile_duration);
	if (!err)
		err = metrics_histogram_new(m->registry, "pcmc_controller_push_duration_seconds",
					    "Time of one policy push to a node's agent (PUT /v1/policy: encoding, round trip "
					    "and the agent's apply), answered or failed.", NULL, 0, push_bounds_s,
					    sizeof(push_bounds_s) / sizeof(push_bounds_s[0]), &push_dur);
	if (!err)
		err = metrics_child_get(push_dur, NULL, &m->push_duration);
	if (!err)
		err = metrics_counter_new(m->registry, "pcmc_controller_reconcile_errors_total",
					  "Reconciles that failed and were requeued with backoff.", NULL, 0, &errs);
	if (!err)
		err = metrics_child_get(errs, NULL, &m->reconcile_errors);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_queue_depth", "PodConfigMapConfig keys waiting in the workqueue.",
			    &m->queue_depth);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_push_queue_depth", "Nodes waiting in the push workqueue.",
			    &m->push_queue_depth);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_active_configmaps",
			    "Generated ConfigMaps known to the cache.", &m->active_configmaps);
	if (!err)
		err = metrics_gauge_new(m->registry, "pcmc_controller_cached_objects",
					"Objects in this process's list/watch caches, by resource.", cached_labels, 1, &cached);
	for (int i = 0; !err && i < 4; i++)
		err = metrics_child_get(cached, METRICS_LABELS(cached_kinds[i]), &m->cached[i]);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_leader", "1 while this process holds the leader Lease.",
			    &m->leader);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_lease_transitions",
			    "leaseTransitions of the leader Lease as last seen.", &m->lease_transitions);
	if (!err)
		err = metrics_counter_new(m->registry, "pcmc_controller_policy_pushes_total",
					  "Policy pushes to node agents by result: ok, failed (unreachable or an error, "
					  "retried with backoff), refused (409: the agent holds a newer or another sender's push).",
					  push_labels, 1, &pushes);
	if (!err)
		err = metrics_child_get(pushes, METRICS_LABELS("ok"), &m->pushes_ok);
	if (!err)
		err = metrics_child_get(pushes, METRICS_LABELS("failed"), &m->pushes_failed);
	if (!err)
		err = metrics_child_get(pushes, METRICS_LABELS("refused"), &m->pushes_refused);
	if (!err)
		err = counter(m->registry, "pcmc_controller_policy_push_bytes_total",
			      "Bytes of policy push bodies sent to node agents.", &m->push_bytes);
	if (!err)
		err = counter(m->registry, "pcmc_controller_agent_reads_total",
			      "Reads of what a node agent holds (GET /v1/policy), at least every lease duration / 2 per node.",
			      &m->agent_reads);
	if (!err)
		err = counter(m->registry, "pcmc_controller_foreign_state_restored_total",
			      "Nodes found holding a push not from this leader (another sender, epoch or revision), "
			      "then pushed again.", &m->foreign_restored);
	if (!err)
		err = counter(m->registry, "pcmc_controller_fencing_epoch_raises_total",
			      "Lease leaseTransitions raised above a node agent's epoch after its 409.", &m->epoch_raises);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_nodes_pushed",
			    "Nodes whose agent accepted a push of this leader since it took the Lease.", &m->nodes_pushed);
	if (!err)
		err = gauge(m->registry, "pcmc_controller_fencing_epoch",
			    "Fencing epoch of this leader's pushes (-1 when not leading).", &m->fencing_epoch);
	if (err)
		goto fail;
	*out = m;
	return 0;
fail:
	controller_metrics_free(m);
	return err;
}

void controller_metrics_free(struct controller_metrics *m)
{
	if (!m)
		return;
	metrics_registry_free(m->registry);
	free(m);
}

void controller_metrics_configmap_op(struct controller_metrics *m, enum configmap_op op, bool ok)
{
	metrics_counter_add(m->configmap_ops[op][ok ? 0 : 1], 1);
}

void controller_metrics_observe_push(struct controller_metrics *m, double seconds)
{
	if (m)
		metrics_histogram_observe(m->push_duration, seconds);
}

void controller_metrics_observe_reconcile(struct controller_metrics *m, double seconds, int err)
{
	metrics_histogram_observe(m->reconcile_duration, seconds);
	if (err)
		metrics_counter_add(m->reconcile_errors, 1);
}

void controller_metrics_set_gauges(struct controller_metrics *m, const struct controller_gauges *g)
{
	metrics_gauge_set(m->queue_depth, (double)g->queue_depth);
	metrics_gauge_set(m->active_configmaps, (double)g->active_configmaps);
	metrics_gauge_set(m->leader, g->leader ? 1 : 0);
	metrics_gauge_set(m->lease_transitions, (double)g->lease_transitions);
	metrics_counter_set(m->pushes_ok, (double)g->pushes_ok);
	metrics_counter_set(m->pushes_failed, (double)g->pushes_failed);
	metrics_counter_set(m->pushes_refused, (double)g->pushes_refused);
	metrics_counter_set(m->push_bytes, (double)g->push_bytes);
	metrics_counter_set(m->agent_reads, (double)g->agent_reads);
	metrics_counter_set(m->foreign_restored, (double)g->foreign_restored);
	metrics_counter_set(m->epoch_raises, (double)g->epoch_raises);
	metrics_gauge_set(m->fencing_epoch, (double)g->fencing_epoch);
	metrics_gauge_set(m->push_queue_depth, (double)g->push_queue_depth);
	metrics_gauge_set(m->nodes_pushed, (double)g->nodes_pushed);
	metrics_gauge_set(m->cached[0], (double)g->cached_pods);
	metrics_gauge_set(m->cached[1], (double)g->cached_pcmcs);
	metrics_gauge_set(m->cached[2], (double)g->cached_configmaps);
	metrics_gauge_set(m->cached[3], (double)g->cached_nodes);
}
