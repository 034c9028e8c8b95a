/* Pod and port verdicts (see verdict.h): the order of the checks is the order of what must hold for
 * a pod to be enforced, so the first one missing is the one reported. */
#include "kubectl-pcmc/verdict.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *verdict_state_name(enum verdict_state s)
{
	static const char *const names[] = { "enforced", "failed", "pending", "not wanted" };

	return names[s];
}

#define SAY(st, ...) (out->state = (st), snprintf(out->detail, sizeof(out->detail), __VA_ARGS__), (void)0)

void pod_verdict_decide(const struct verdict_input *in, struct pod_verdict *out)
{
	if (in->merge_err)
		return SAY(VERDICT_FAILED, "the selecting PodConfigMapConfigs cannot be merged: %s",
			   in->merge_why && *in->merge_why ? in->merge_why : strerror(-in->merge_err));
	if (!in->wanted)
		return SAY(VERDICT_NOT_WANTED, "no eBPF feature enabled");
	if (!in->node || !*in->node)
		return SAY(VERDICT_PENDING, "pod not scheduled to a node");
	if (in->terminating)
		return SAY(VERDICT_PENDING, "pod terminating");
	if (!in->phase || strcmp(in->phase, "Running"))
		return SAY(VERDICT_PENDING, "pod %s, not Running", in->phase && *in->phase ? in->phase : "without phase");
	if (in->agent_err == -ENOENT)
		return SAY(VERDICT_FAILED, "no running pcmc-agent on node %s", in->node);
	if (in->agent_err || !in->held)
		return SAY(VERDICT_FAILED, "cannot read the agent of node %s: %s", in->node,
			   in->agent_error && *in->agent_error ? in->agent_error : strerror(-in->agent_err));
	if (!in->held_pod)
		return SAY(VERDICT_PENDING, "not pushed to the agent yet (it holds revision %lld)", (long long)in->held->revision);
	if (in->held_pod->state == POLICY_POD_FAILED)
		return SAY(VERDICT_FAILED, "%s", in->held_pod->error && *in->held_pod->error ? in->held_pod->error :
			   "the agent reports it failed");
	if (in->held_pod->state != POLICY_POD_APPLIED)
		return SAY(VERDICT_PENDING, "the agent reports no state for it");
	if (!in->want || !ebpf_config_equal(in->want, &in->held_pod->policy))
		return SAY(VERDICT_PENDING, "the agent holds an older policy (revision %lld)", (long long)in->held->revision);
	SAY(VERDICT_ENFORCED, "revision %lld from %s (epoch %lld)", (long long)in->held->revision,
	    in->held->has_sender ? in->held->sender.identity : "?", (long long)in->held->sender.epoch);
}

bool port_blocked(const struct ebpf_config *c, unsigned port, const char **why)
{
	if (!c->l4_firewall.enabled) {
		*why = "no firewall";
		return false;
	}
	if (port_set_contains(&c->l4_firewall.blocked, port)) {
		*why = "blockedPorts";
		return true;
	}
	if (port_set_contains(&c->l4_firewall.allowed, port)) {
		*why = "allowedPorts";
		return false;
	}
	*why = c->l4_firewall.default_block ? "defaultAction block" : "defaultAction allow";
	return c->l4_firewall.default_block;
}
