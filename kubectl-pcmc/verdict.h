/* What kubectl-pcmc says about a pod and a port, from what the cluster wants (the controller's
 * merge) and what the node's agent holds. Pure logic: fail closed, never "enforced" unless the
 * agent holds this very policy as applied. */
#ifndef PCMC_KUBECTL_VERDICT_H
#define PCMC_KUBECTL_VERDICT_H

#include <stdbool.h>

#include "common/ebpf_config.h"
#include "common/policy_codec.h"

enum verdict_state { VERDICT_ENFORCED, VERDICT_FAILED, VERDICT_PENDING, VERDICT_NOT_WANTED };

struct verdict_input {
	int merge_err;              /* the merge of the selecting CRs failed (-E2BIG, -EINVAL) */
	const char *merge_why;
	bool wanted;                /* the merged policy enables an eBPF feature */
	const char *node;           /* spec.nodeName, or NULL/"" */
	const char *phase;          /* status.phase */
	bool terminating;
	int agent_err;              /* 0, -ENOENT (no running agent on the node), or reading it failed */
	const char *agent_error;    /* why reading it failed */
	const struct policy_push *held;    /* what the agent holds (agent_err == 0) */
	const struct policy_pod *held_pod; /* this pod in it, or NULL */
	const struct ebpf_config *want;    /* the merged policy */
};

struct pod_verdict {
	enum verdict_state state;
	char detail[512];           /* why (failed, pending) or what the agent holds (enforced) */
};

void pod_verdict_decide(const struct verdict_input *in, struct pod_verdict *out);
const char *verdict_state_name(enum verdict_state s); /* "enforced", "failed", "pending", "not wanted" */

/* The firewall's verdict for TCP/UDP to `port` of a pod with config c: true = dropped. `why`:
 * "blockedPorts", "allowedPorts", "defaultAction block", "defaultAction allow", "no firewall". */
bool port_blocked(const struct ebpf_config *c, unsigned port, const char **why);

#endif
