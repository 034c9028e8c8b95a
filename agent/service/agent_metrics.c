/* Per-pod eBPF counters and the agent's self-metrics: counters are read per pod at its
 * updateInterval, kept in the pod's status, and exported through whole-family snapshots; the
 * node's flow tables are counted every FLOW_STATS_MS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service/agent_metrics.h"
#include "common/syscall_table.h"
#include "bpf/pcmc.h"
#include "common/log.h"

enum pod_family { F_SYSCALLS, F_OUTSIDE, F_FIREWALL, F_ATTACHED, F_ERRORS, F_PODS, F_ENTRIES, F_CAPACITY,
		  N_FAMILIES };

struct agent_metrics {
	struct metrics_family *f[N_FAMILIES];
	struct metrics_family *pushes, *apply_seconds, *epoch, *revision, *reviews, *throttled, *sender_changes,
			      *connections, *connections_refused, *flow_events;
	uint64_t seen_generation;
	bool built;
	struct dataplane_flow_stats flows; /* last read (have_flows) */
	bool have_flows, flows_failed;
	int64_t next_flows_ms;
	struct pod_counters *buf;          /* PCMC_MAX_PODS entries, for dataplane_read_counters */
};

/* Counting the flow tables walks them (a batch read): often enough for a capacity alert, rare
 * enough to cost nothing when they are full. */
#define FLOW_STATS_MS 5000

#define L(...) METRICS_LABELS(__VA_ARGS__)
#define N(a) (sizeof(a) / sizeof((a)[0]))

int agent_metrics_new(struct metrics_registry *r, struct agent_metrics **out)
{
	static const char *const pod[] = { "namespace", "pod_name" };
	static const char *const pod_syscall[] = { "namespace", "pod_name", "syscall" };
	static const char *const pod_stat[] = { "namespace", "pod_name", "stat_type" };
	static const char *const pod_prog[] = { "namespace", "pod_name", "program_type" };
	static const char *const pod_err[] = { "namespace", "pod_name", "program_type", "error_type" };
	static const char *const state[] = { "state" }, *const map[] = { "map" }, *const result[] = { "result" };
	static const char *const event[] = { "event" };
	static const char *const events[] = { "created", "expired", "evicted", "create_failed" };
	static const char *const results[] = { "accepted", "invalid", "unauthenticated", "forbidden",
					       "forbidden_sender", "stale", "unavailable", "unavailable_lease", "error" };
	static const double bounds[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	struct agent_metrics *m = calloc(1, sizeof(*m));
	struct metrics_child *c;
	int err;

	if (!m || !(m->buf = calloc(PCMC_MAX_PODS, sizeof(*m->buf)))) {
		free(m);
		return -ENOMEM;
	}
	err = metrics_counter_new(r, "podconfigmap_controller_ebpf_syscall_count_total",
				  "Syscalls made by the pod's processes, per syscall listed in its policy.",
				  pod_syscall, 3, &m->f[F_SYSCALLS]);
	err = err ?: metrics_counter_new(r, "podconfigmap_controller_ebpf_syscall_outside_allowlist_total",
					 "Syscalls made by the pod's processes that are not in its syscallNames list.",
					 pod, 2, &m->f[F_OUTSIDE]);
	err = err ?: metrics_counter_new(r, "podconfigmap_controller_ebpf_l4_firewall_total",
					 "Packets into the pod judged by its firewall (TCP, UDP, UDP-Lite, SCTP, DCCP; "
					 "blocked: dropped for any reason), by verdict.", pod_stat, 3, &m->f[F_FIREWALL]);
	err = err ?: metrics_gauge_new(r, "podconfigmap_controller_ebpf_attached_programs",
				       "eBPF programs enforcing the pod's policy (1 attached, 0 wanted but not attached).",
				       pod_prog, 3, &m->f[F_ATTACHED]);
	err = err ?: metrics_counter_new(r, "podconfigmap_controller_ebpf_program_errors_total",
					 "Failed attempts to apply the pod's programs, by program and error.", pod_err, 4,
					 &m->f[F_ERRORS]);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_pods", "Pods in the desired state by state (applied, failed).",
				       state, 1, &m->f[F_PODS]);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_map_entries", "Entries used in the dataplane's BPF maps.",
				       map, 1, &m->f[F_ENTRIES]);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_map_capacity", "Capacity of the dataplane's BPF maps.",
				       map, 1, &m->f[F_CAPACITY]);
	err = err ?: metrics_counter_new(r, "pcmc_agent_fw_flow_events_total",
					 "Entries of the node's firewall flow tables (flows pods started): created, "
					 "expired (found past their idle timeout), evicted (pushed out of a full table), "
					 "create_failed.", event, 1, &m->flow_events);
	err = err ?: metrics_counter_new(r, "pcmc_agent_policy_pushes_total", "PUT /v1/policy requests by result.",
					 result, 1, &m->pushes);
	err = err ?: metrics_histogram_new(r, "pcmc_agent_apply_duration_seconds",
					   "Time to apply an accepted push to the dataplane.", NULL, 0, bounds, N(bounds),
					   &m->apply_seconds);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_fencing_epoch", "Epoch of the newest accepted push.", NULL, 0,
				       &m->epoch);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_policy_revision", "Revision of the newest accepted push.", NULL,
				       0, &m->revision);
	err = err ?: metrics_counter_new(r, "pcmc_agent_tokenreviews_total",
					 "Bearer tokens checked, by source: a TokenReview (api) or the cache of recent answers (cache).",
					 (const char *const[]){ "source" }, 1, &m->reviews);
	err = err ?: metrics_counter_new(r, "pcmc_agent_tokenreviews_throttled_total",
					 "Pushes refused before any TokenReview because reviews were over the rate limit "
					 "(429) or too many were pending (503).", NULL, 0, &m->throttled);
	err = err ?: metrics_counter_new(r, "pcmc_agent_policy_sender_changes_total",
					 "Accepted pushes whose sender (the leader's identity) differs from the previous "
					 "accepted push's.", NULL, 0, &m->sender_changes);
	err = err ?: metrics_gauge_new(r, "pcmc_agent_http_connections", "Open HTTP connections.", NULL, 0,
				       &m->connections);
	err = err ?: metrics_counter_new(r, "pcmc_agent_http_connections_refused_total",
					 "New HTTP connections answered 503 and closed: --max-connections were open.",
					 NULL, 0, &m->connections_refused);
	if (!err)
		err = metrics_child_get(m->connections, NULL, &c);
	if (!err)
		err = metrics_child_get(m->connections_refused, NULL, &c);
	if (!err)
		err = metrics_child_get(m->throttled, NULL, &c);
	if (!err)
		err = metrics_child_get(m->sender_changes, NULL, &c);
	for (size_t i = 0; !err && i < N(results); i++)
		err = metrics_child_get(m->pushes, L(results[i]), &c);
	for (size_t i = 0; !err && i < N(events); i++)
		err = metrics_child_get(m->flow_events, L(events[i]), &c);
	if (!err)
		err = metrics_child_get(m->apply_seconds, NULL, &c);
	if (err) {
		agent_metrics_free(m);
		return err;
	}
	*out = m;
	return 0;
}

void agent_metrics_free(struct agent_metrics *m)
{
	if (!m)
		return;
	free(m->buf);
	free(m);
}

void agent_metrics_push(struct agent_metrics *m, const char *result, double apply_seconds)
{
	struct metrics_child *c;

	if (!metrics_child_get(m->pushes, L(result), &c))
		metrics_counter_add(c, 1);
	if (apply_seconds >= 0 && !metrics_child_get(m->apply_seconds, NULL, &c))
		metrics_histogram_observe(c, apply_seconds);
}

void agent_metrics_auth(struct agent_metrics *m, const struct agent_auth_stats *st)
{
	struct metrics_child *c;

	if (!metrics_child_get(m->reviews, L("api"), &c))
		metrics_counter_set(c, (double)st->reviews);
	if (!metrics_child_get(m->reviews, L("cache"), &c))
		metrics_counter_set(c, (double)st->cache_hits);
	if (!metrics_child_get(m->throttled, NULL, &c))
		metrics_counter_set(c, (double)st->throttled);
	if (!metrics_child_get(m->pushes, L("unauthenticated"), &c))
		metrics_counter_set(c, (double)st->unauthenticated);
	if (!metrics_child_get(m->pushes, L("forbidden"), &c))
		metrics_counter_set(c, (double)st->forbidden);
	if (!metrics_child_get(m->pushes, L("unavailable"), &c))
		metrics_counter_set(c, (double)st->unavailable);
}

void agent_metrics_http(struct agent_metrics *m, int open, unsigned long refused)
{
	struct metrics_child *c;

	if (!metrics_child_get(m->connections, NULL, &c))
		metrics_gauge_set(c, open);
	if (!metrics_child_get(m->connections_refused, NULL, &c))
		metrics_counter_set(c, (double)refused);
}

void agent_metrics_sender_changed(struct agent_metrics *m)
{
	struct metrics_child *c;

	if (!metrics_child_get(m->sender_changes, NULL, &c))
		metrics_counter_add(c, 1);
}

static int cmp_counters(const void *a, const void *b)
{
	return strcmp(((const struct pod_counters *)a)->uid, ((const struct pod_counters *)b)->uid);
}

static int read_due(struct agent_metrics *m, struct node_policy *np, struct dataplane *dp, int64_t now_ms, bool *any)
{
	bool due = false;
	int n;

	for (size_t i = 0; np->want && i < np->want->n_pods && !due; i++)
		due = np->want->pods[i].policy.metrics_export.enabled && now_ms >= np->status[i].next_read_ms;
	*any = due;
	if (!due)
		return 0;
	n = dataplane_read_counters(dp, m->buf, PCMC_MAX_PODS);
	if (n < 0) {
		log_error("reading counters failed", LOG_ERRNO(n));
		return n;
	}
	qsort(m->buf, (size_t)n, sizeof(*m->buf), cmp_counters);
	for (size_t i = 0; i < np->want->n_pods; i++) {
		const struct policy_pod *pod = &np->want->pods[i];
		struct pod_status *st = &np->status[i];
		struct pod_counters key, *c;

		if (!pod->policy.metrics_export.enabled || now_ms < st->next_read_ms)
			continue;
		snprintf(key.uid, sizeof(key.uid), "%s", pod->uid);
		c = bsearch(&key, m->buf, (size_t)n, sizeof(*m->buf), cmp_counters);
		st->have_counters = c != NULL;
		if (c)
			st->counters = *c;
		st->next_read_ms = now_ms + pod->policy.metrics_export.update_interval_ns / 1000000;
	}
	return 0;
}

/* Counts the flow tables when FLOW_STATS_MS passed; true when new figures were read. */
static bool read_flows(struct agent_metrics *m, struct dataplane *dp, int64_t now_ms)
{
	struct metrics_child *c;
	int err;

	if (now_ms < m->next_flows_ms)
		return false;
	m->next_flows_ms = now_ms + FLOW_STATS_MS;
	err = dataplane_read_flow_stats(dp, &m->flows);
	if (err) {
		if (!m->flows_failed)
			log_error("reading the flow tables failed", LOG_ERRNO(err));
		m->flows_failed = true;
		return false;
	}
	m->flows_failed = false;
	m->have_flows = true;
	if (!metrics_child_get(m->flow_events, L("created"), &c))
		metrics_counter_set(c, (double)m->flows.created_total);
	if (!metrics_child_get(m->flow_events, L("expired"), &c))
		metrics_counter_set(c, (double)m->flows.expired_total);
	if (!metrics_child_get(m->flow_events, L("evicted"), &c))
		metrics_counter_set(c, (double)m->flows.evicted_total);
	if (!metrics_child_get(m->flow_events, L("create_failed"), &c))
		metrics_counter_set(c, (double)m->flows.create_failures_total);
	return true;
}

static bool program_attached(const struct pod_status *st, enum program_type t)
{
	return st->ok || st->failed_program != t;
}

int agent_metrics_refresh(struct agent_metrics *m, struct node_policy *np, struct dataplane *dp, int64_t now_ms)
{
	struct metrics_snapshot *s[N_FAMILIES] = { 0 };
	int n_ok = 0, n_failed = 0, err = 0;
	double rules = 0, listed = 0;
	struct metrics_child *c;
	bool any, flows;

	err = read_due(m, np, dp, now_ms, &any);
	flows = read_flows(m, dp, now_ms);
	if (m->built && !any && !flows && m->seen_generation == np->generation)
		return err;
	for (int f = 0; f < N_FAMILIES; f++)
		if ((err = metrics_snapshot_new(m->f[f], &s[f])))
			goto out;
	for (size_t i = 0; np->want && i < np->want->n_pods; i++) {
		const struct policy_pod *pod = &np->want->pods[i];
		const struct ebpf_config *p = &pod->policy;
		const struct pod_status *st = &np->status[i];
		const struct pod_counters *k = &st->counters;

		st->ok ? n_ok++ : n_failed++;
		if (st->holds_policy && st->held.l4_firewall.enabled)
			rules += st->held.l4_firewall.allowed.n + st->held.l4_firewall.blocked.n;
		if (st->holds_policy && st->held.syscall_monitoring.enabled)
			listed += st->held.syscall_monitoring.names.n;
		if (!p->metrics_export.enabled)
			continue;
		if (p->syscall_monitoring.enabled && st->have_counters) {
			for (int j = 0; j < k->n_listed; j++) {
				const char *name = syscall_table_name(k->listed_nr[j]);

				if (name)
					err = err ?: metrics_snapshot_set(s[F_SYSCALLS], L(pod->namespace, pod->name, name),
									 (double)k->listed_count[j]);
			}
			err = err ?: metrics_snapshot_set(s[F_OUTSIDE], L(pod->namespace, pod->name),
							 (double)k->syscalls_outside_list);
		}
		if (p->l4_firewall.enabled && st->have_counters) {
			err = err ?: metrics_snapshot_set(s[F_FIREWALL], L(pod->namespace, pod->name, "allowed"),
							 (double)k->packets_allowed);
			err = err ?: metrics_snapshot_set(s[F_FIREWALL], L(pod->namespace, pod->name, "blocked"),
							 (double)k->packets_blocked);
		}
		if (p->syscall_monitoring.enabled)
			err = err ?: metrics_snapshot_set(s[F_ATTACHED], L(pod->namespace, pod->name, "syscall_counter"),
							 program_attached(st, PROGRAM_SYSCALL_COUNTER));
		if (p->l4_firewall.enabled)
			err = err ?: metrics_snapshot_set(s[F_ATTACHED], L(pod->namespace, pod->name, "l4_firewall"),
							 program_attached(st, PROGRAM_L4_FIREWALL));
		for (int t = 0; t < PROGRAM_TYPES; t++)
			for (int e = 0; e < PROGRAM_ERRORS; e++)
				if (st->errors[t][e])
					err = err ?: metrics_snapshot_set(s[F_ERRORS],
						L(pod->namespace, pod->name, program_type_name(t), program_error_name(e)),
						(double)st->errors[t][e]);
	}
	err = err ?: metrics_snapshot_set(s[F_PODS], L("applied"), n_ok);
	err = err ?: metrics_snapshot_set(s[F_PODS], L("failed"), n_failed);
	err = err ?: metrics_snapshot_set(s[F_ENTRIES], L("pod_slots"), dataplane_pod_count(dp));
	err = err ?: metrics_snapshot_set(s[F_CAPACITY], L("pod_slots"), PCMC_MAX_PODS);
	err = err ?: metrics_snapshot_set(s[F_ENTRIES], L("fw_rules"), rules);
	err = err ?: metrics_snapshot_set(s[F_CAPACITY], L("fw_rules"), PCMC_MAX_FW_RULES);
	err = err ?: metrics_snapshot_set(s[F_ENTRIES], L("listed_syscalls"), listed);
	err = err ?: metrics_snapshot_set(s[F_CAPACITY], L("listed_syscalls"), PCMC_MAX_PODS * PCMC_MAX_LISTED);
	if (m->have_flows) {
		err = err ?: metrics_snapshot_set(s[F_ENTRIES], L("fw_flows4"), (double)m->flows.entries_v4);
		err = err ?: metrics_snapshot_set(s[F_CAPACITY], L("fw_flows4"), (double)m->flows.capacity_v4);
		err = err ?: metrics_snapshot_set(s[F_ENTRIES], L("fw_flows6"), (double)m->flows.entries_v6);
		err = err ?: metrics_snapshot_set(s[F_CAPACITY], L("fw_flows6"), (double)m->flows.capacity_v6);
	}
	if (err)
		goto out;
	for (int f = 0; f < N_FAMILIES; f++) {
		metrics_family_replace(m->f[f], s[f]);
		s[f] = NULL;
	}
	if (np->want && !metrics_child_get(m->epoch, NULL, &c))
		metrics_gauge_set(c, (double)np->want->sender.epoch);
	if (np->want && !metrics_child_get(m->revision, NULL, &c))
		metrics_gauge_set(c, (double)np->want->revision);
	m->seen_generation = np->generation;
	m->built = true;
out:
	for (int f = 0; f < N_FAMILIES; f++)
		metrics_snapshot_free(s[f]);
	if (err)
		log_error("updating metrics failed", LOG_ERRNO(err));
	return err;
}
