/* The agent's Prometheus series: per-pod eBPF counters (seed names, labels namespace/pod_name)
 * read at each pod's updateInterval into snapshots, and the agent's own pushes/latency/capacity. */
#ifndef PCMC_AGENT_METRICS_H
#define PCMC_AGENT_METRICS_H

#include <stdint.h>

#include "agent/service/agent_apply.h"
#include "common/metrics.h"

struct agent_metrics;

int agent_metrics_new(struct metrics_registry *r, struct agent_metrics **out);
void agent_metrics_free(struct agent_metrics *m);
/* One PUT /v1/policy answered: result is accepted|invalid|unauthenticated|forbidden|stale|error. */
void agent_metrics_push(struct agent_metrics *m, const char *result, double apply_seconds);
/* TokenReviews made and checks answered from the auth cache (counted by agent_auth). */
void agent_metrics_auth(struct agent_metrics *m, unsigned long reviews, unsigned long cache_hits);
/* Reads the counters of exported pods whose updateInterval passed and replaces the per-pod series
 * when anything changed. Call with the dataplane lock held. 0 or -errno. */
int agent_metrics_refresh(struct agent_metrics *m, struct node_policy *np, struct dataplane *dp, int64_t now_ms);

#endif
