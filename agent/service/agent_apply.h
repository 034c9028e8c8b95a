/* The node's policy as applied: the accepted push, per pod what the enforcer holds and what
 * failed; a push is applied as a diff against it, failed pods are retried with backoff. */
#ifndef PCMC_AGENT_APPLY_H
#define PCMC_AGENT_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/dataplane/dataplane.h"
#include "agent/service/agent_enforcer.h"
#include "common/policy_codec.h"

/* Counted per pod for podconfigmap_controller_ebpf_program_errors_total. */
enum program_type { PROGRAM_SYSCALL_COUNTER, PROGRAM_L4_FIREWALL, PROGRAM_TYPES };
enum program_error { ERROR_POD_NOT_READY, ERROR_MAP_FULL, ERROR_ATTACH, ERROR_OTHER, ERROR_INVALID, PROGRAM_ERRORS };

struct pod_status {
	bool ok;                           /* the enforcer enforces the pushed policy */
	bool holds_policy;                 /* the enforcer holds `held` (maybe still finishing it) */
	bool refused;                      /* not valid on this node: never retried (error, error_path) */
	struct ebpf_config held;           /* owned */
	char error[256];
	char error_path[256];              /* refused: the offending value in the push */
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
	struct enforcer *enforcer;         /* not owned */
	struct policy_push *want;          /* NULL before the first accepted push */
	struct pod_status *status;         /* want->n_pods entries, same order */
	uint64_t generation;               /* bumped whenever the set of pods or a status changes */
};

struct pod_outcome {
	const char *uid, *namespace, *name; /* point into the old or new push */
	enum pod_result result;
	char error[256];
	const char *path;                  /* refused pods: the offending value in the push */
};

struct apply_report {
	int n;                             /* outcomes: every pushed pod, then every removed one */
	struct pod_outcome *pods;
	int counts[POD_RESULTS];
	/* Keeps the replaced push alive for the outcomes' names. */
	struct policy_push *replaced;
};

const char *program_type_name(enum program_type t);
const char *program_error_name(enum program_error e);

/* Makes the enforcer match want (taken over by np, also on error): unchanged pods untouched,
 * changed or new ones applied in place, pods no longer listed removed, then orphans. Each pod
 * all or nothing; failures are reported and retried; a pod the push marks refused (invalid on
 * this node) is reported failed and left as it was. now_ms: CLOCK_MONOTONIC in ms.
 * 0 or -ENOMEM; *report freed with apply_report_free. */
int node_policy_apply(struct node_policy *np, struct policy_push *want, int64_t now_ms,
		      struct apply_report *report);
void apply_report_free(struct apply_report *r);
/* Retries failed pods whose backoff expired. Returns how many became ok. */
int node_policy_retry(struct node_policy *np, int64_t now_ms);
/* Failed pods are retried at the next node_policy_retry whatever their backoff (containers
 * appeared: the dataplane's event fd fired or refresh tracked new cgroups). */
void node_policy_retry_soon(struct node_policy *np);
/* GET /v1/policy body into w. */
void node_policy_write(const struct node_policy *np, const char *node_name, struct json_writer *w);
/* The answer to the push that produced r. */
void apply_report_write(const struct apply_report *r, const struct policy_push *want, struct json_writer *w);
void node_policy_clear(struct node_policy *np);

#endif
