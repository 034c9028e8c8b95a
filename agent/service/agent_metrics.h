/* The agent's Prometheus series: per-pod eBPF counters (seed names, labels namespace/pod_name)
 * read at each pod's updateInterval into snapshots, and the agent's own pushes/latency/capacity. */
#ifndef PCMC_AGENT_METRICS_H
#define PCMC_AGENT_METRICS_H

#include <stdint.h>

#include "agent/service/agent_apply.h"
#include "agent/service/agent_auth.h"
#include "common/metrics.h"

struct agent_metrics;

int agent_metrics_new(struct metrics_registry *r, struct agent_metrics **out);
void agent_metrics_free(struct agent_metrics *m);
/* One PUT /v1/policy answered by the worker: result is accepted|invalid|stale|error. */
void agent_metrics_push(struct agent_metrics *m, const char *result, double apply_seconds);
/* What agent_auth counted: reviews, cache hits, throttled checks, pushes refused
 * (unauthenticated, forbidden, unavailable). */
void agent_metrics_auth(struct agent_metrics *m, const struct agent_auth_stats *st);
/* The HTTP server's open connections and those refused for being over the limit. */
void agent_metrics_http(struct agent_metrics *m, int open, unsigned long refused);
/* An accepted push came from another sender than the one before. */
void agent_metrics_sender_changed(struct agent_metrics *m);
/* Reads the counters of exported pods whose updateInterval passed and replaces the per-pod series
 * when anything changed. Call with the dataplane lock held. 0 or -errno. */
int agent_metrics_refresh(struct agent_metrics *m, struct node_policy *np, struct dataplane *dp, int64_t now_ms);

#endif
