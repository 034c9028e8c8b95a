/* The node's policy as applied: the accepted desired state, per pod what the dataplane holds and
 * what failed; a push is applied as a diff against it, failed pods are retried with backoff. */
#ifndef PCMC_AGENT_APPLY_H
#define PCMC_AGENT_APPLY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/service/agent_policy.h"
#include "agent/dataplane/dataplane.h"

enum pod_result { POD_APPLIED, POD_UNCHANGED, POD_REMOVED, POD_FAILED };

/* Counted per pod for podconfigmap_controller_ebpf_program_errors_total. */
enum program_type { PROGRAM_SYSCALL_COUNTER, PROGRAM_L4_FIREWALL, PROGRAM_TYPES };
enum program_error { ERROR_POD_NOT_READY, ERROR_MAP_FULL, ERROR_ATTACH, ERROR_OTHER, PROGRAM_ERRORS };

struct pod_status {
	bool ok;                           /* the dataplane enforces want (last apply succeeded) */
	bool holds_policy;                 /* the dataplane holds `held` (maybe still finishing it) */
	struct pod_policy_spec held;
	char error[256];
	int err;                           /* -errno of the last failure */
	enum program_type failed_program;
	int64_t next_retry_ms, retry_delay_ms;
	uint64_t errors[PROGRAM_TYPES][PROGRAM_ERRORS];
	/* Metrics: counters read at the pod's updateInterval. */
	int64_t next_read_ms;
	bool have_counters;
	struct pod_counters counters;
};

struct node_policy {
	struct dataplane *dp;
	struct desired_state *want;        /* NULL before the first accepted push */
	struct pod_status *status;         /* want->n_pods entries, same order */
	uint64_t generation;               /* bumped whenever the set of pods or a status changes */
};

struct pod_outcome {
	char uid[POLICY_UID_MAX + 1];
	const char *namespace, *name;      /* point into the old or new desired state */
	enum pod_result result;
	char error[256];
};

struct apply_report {
	int n;                             /* outcomes: every pushed pod, then every removed one */
	struct pod_outcome *pods;
	int counts[4];                     /* by enum pod_result */
	/* Keeps the replaced desired state alive for the outcomes' namespace/name. */
	struct desired_state *replaced;
};

const char *pod_result_name(enum pod_result r);
const char *program_type_name(enum program_type t);
const char *program_error_name(enum program_error e);

/* Makes the dataplane match want (taken over by np, also on error): unchanged pods untouched,
 * changed or new ones applied in place, pods no longer listed removed, then orphans. Each pod
 * all or nothing; failures are reported and retried. now_ms: CLOCK_MONOTONIC in ms.
 * 0 or -ENOMEM; *report freed with apply_report_free. */
int node_policy_apply(struct node_policy *np, struct desired_state *want, int64_t now_ms,
		      struct apply_report *report);
void apply_report_free(struct apply_report *r);
/* Retries failed pods whose backoff expired. Returns how many became ok. */
int node_policy_retry(struct node_policy *np, int64_t now_ms);
/* Failed pods are retried at the next node_policy_retry whatever their backoff (containers
 * appeared: the dataplane's event fd fired or refresh tracked new cgroups). */
void node_policy_retry_soon(struct node_policy *np);
/* GET /v1/policy body. NULL on ENOMEM. */
cJSON *node_policy_to_json(const struct node_policy *np, const char *node_name);
/* The pod's index in want, or -1. */
int node_policy_find(const struct node_policy *np, const char *uid);
void node_policy_clear(struct node_policy *np);

#endif
