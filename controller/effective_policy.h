/* The eBPF policy a pod gets from every PodConfigMapConfig that selects it (merge rules in
 * docs/policy-distribution.md) and which fields those CRs disagree on. Pure logic, no I/O. */
#ifndef PCMC_CONTROLLER_EFFECTIVE_POLICY_H
#define PCMC_CONTROLLER_EFFECTIVE_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "controller/objects.h"

/* The agent's limits (docs/policy-api.md): a merge past them fails with -E2BIG. */
#define EFFECTIVE_MAX_SYSCALLS 64
#define EFFECTIVE_MAX_PORTS    256

/* Fields on which the CRs selecting one pod disagree (only CRs with that section enabled count). */
enum policy_conflict {
	CONFLICT_SYSCALL_NAMES   = 1 << 0,
	CONFLICT_ALLOWED_PORTS   = 1 << 1,
	CONFLICT_BLOCKED_PORTS   = 1 << 2,
	CONFLICT_DEFAULT_ACTION  = 1 << 3,
	CONFLICT_UPDATE_INTERVAL = 1 << 4,
};

struct effective_policy {
	bool syscall_enabled;
	char *syscalls[EFFECTIVE_MAX_SYSCALLS]; /* sorted, unique */
	size_t nsyscalls;
	bool firewall_enabled;
	unsigned short allowed[EFFECTIVE_MAX_PORTS], blocked[EFFECTIVE_MAX_PORTS]; /* sorted, disjoint */
	size_t nallowed, nblocked;
	bool default_block;
	bool metrics_enabled;
	long long update_interval_ms;
	char update_interval[33];               /* as the CR with the shortest one wrote it */
	unsigned conflicts;                     /* enum policy_conflict bits */
};

/* Merges the ebpfConfig of every CR selecting one pod into *out (cleared first; release with
 * effective_policy_clear). Returns 0, -E2BIG when the union exceeds an agent limit (message in
 * `why`), or -ENOMEM. */
int effective_policy_merge(const struct ebpf_settings *const *inputs, size_t n, struct effective_policy *out,
			   char *why, size_t why_len);
void effective_policy_clear(struct effective_policy *p);
/* True when any eBPF feature is on: only such pods are pushed to their node's agent. */
bool effective_policy_wanted(const struct effective_policy *p);
/* The `policy` object of PUT /v1/policy. NULL on allocation failure. */
cJSON *effective_policy_to_json(const struct effective_policy *p);
/* Whether `e` (one CR's settings) can be enforced on a node whose kubernetes.io/arch label is
 * `node_arch` ("amd64", "arm64"; "" or another value: only names every supported architecture has
 * pass; NULL: not known to the caller, nothing checked). 0, or -EINVAL with `why` naming the CR's own field path and item
 * ("spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64"). */
int effective_policy_check_node(const struct ebpf_settings *e, const char *node_arch, char *why, size_t why_len);
/* For the CR `inputs[self]` merged with the others on one pod: which of its fields the merge
 * changed and which value won, naming the CR that brought it ("l4Firewall.blockedPorts: port 8080
 * allowed here is blocked by shop/strict (blocked wins)"). `names` are the CRs' names, `namespace`
 * theirs. "" when the merge changed nothing of the CR's. Never cut mid-item: past `len` the text
 * ends with "; and more". */
void effective_policy_explain(const struct ebpf_settings *const *inputs, const char *const *names, size_t n,
			      size_t self, const char *namespace, char *out, size_t len);
/* Comma-separated field names of the conflict bits ("l4Firewall.allowedPorts,..."). */
void effective_policy_conflict_names(unsigned conflicts, char *out, size_t len);

#endif
