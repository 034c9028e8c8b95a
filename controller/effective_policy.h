/* The eBPF policy a pod gets from every PodConfigMapConfig that selects it (merge rules in
 * docs/policy-distribution.md), in the common model (common/ebpf_config.h: what the push sends),
 * which fields those CRs disagree on, and whether one CR can be enforced on a node. Pure logic. */
#ifndef PCMC_CONTROLLER_EFFECTIVE_POLICY_H
#define PCMC_CONTROLLER_EFFECTIVE_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/ebpf_config.h"
#include "controller/objects.h"

/* Fields on which the CRs selecting one pod disagree (only CRs with that section enabled count). */
enum policy_conflict {
	CONFLICT_SYSCALL_NAMES   = 1 << 0,
	CONFLICT_ALLOWED_PORTS   = 1 << 1,
	CONFLICT_BLOCKED_PORTS   = 1 << 2,
	CONFLICT_DEFAULT_ACTION  = 1 << 3,
	CONFLICT_UPDATE_INTERVAL = 1 << 4,
};

struct effective_policy {
	struct ebpf_config config;   /* the merged policy (after effective_policy_finish: blocked wins) */
	unsigned conflicts;          /* enum policy_conflict bits */
	/* merge state: the first CR of each section, which the others are compared with */
	const struct ebpf_config *first_sys, *first_fw, *first_mx;
};

/* One CR at a time: init, add each, finish (blocked ports leave the allowed ones), clear. */
void effective_policy_init(struct effective_policy *p);
/* Merges e's settings into p. 0; -E2BIG when the union would pass a limit of common/policy_limits.h,
 * or -EINVAL for settings the model refuses (why says which, may be NULL): p is then unchanged, so
 * the CR can be left out and the others kept; -ENOMEM. e must outlive p's merge (until finish). */
int effective_policy_add(struct effective_policy *p, const struct ebpf_settings *e, char *why, size_t why_len);
void effective_policy_finish(struct effective_policy *p);
/* All of inputs at once (init, add, finish): 0, or the first error with p cleared. */
int effective_policy_merge(const struct ebpf_settings *const *inputs, size_t n, struct effective_policy *out,
			   char *why, size_t why_len);
void effective_policy_clear(struct effective_policy *p);
/* True when any eBPF feature is on: only such pods are pushed to their node's agent. */
bool effective_policy_wanted(const struct effective_policy *p);
/* The `policy` object of PUT /v1/policy. NULL on allocation failure. */
cJSON *effective_policy_to_json(const struct effective_policy *p);
/* Comma-separated field names of the conflict bits ("l4Firewall.allowedPorts,..."). */
void effective_policy_conflict_names(unsigned conflicts, char *out, size_t len);
/* Whether `e` (one CR's settings) can be enforced on a node whose kubernetes.io/arch label is
 * `node_arch` ("amd64", "arm64"; "" or another value: only names every supported architecture has
 * pass; NULL: not known to the caller, nothing checked). 0, or -EINVAL with `why` naming the CR's
 * own field path and item ("spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a
 * syscall of arm64"), or -ENOMEM. */
int effective_policy_check_node(const struct ebpf_settings *e, const char *node_arch, char *why, size_t why_len);

#endif
