/* Selecting CRs of a pod, looked up in the CR cache of the pod's namespace; the merge itself is
 * pure (effective_policy.c). */
#include "controller/pod_policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool pod_enforceable(const struct pod *pod)
{
	return pod->node_name && *pod->node_name && pod->meta.uid && !pod->terminating && pod->phase &&
	       strcmp(pod->phase, "Running") == 0;
}

bool pcmc_wants_ebpf(const struct pcmc *cr)
{
	return cr->ebpf.syscall_monitoring_enabled || cr->ebpf.l4_firewall_enabled || cr->ebpf.metrics_export_enabled;
}

struct select_ctx {
	const struct pod *pod;
	struct pod_policy *out;
	const struct ebpf_settings *inputs[POD_POLICY_MAX_CRS];
};

static int select_cr(void *ud, const void *obj)
{
	struct select_ctx *s = ud;
	const struct pcmc *cr = obj;

	if (cr->selector_error[0] || !cr->selector || !pcmc_wants_ebpf(cr) ||
	    !label_selector_matches(cr->selector, &s->pod->labels))
		return 0;
	if (s->out->ncrs == POD_POLICY_MAX_CRS)
		return -E2BIG;
	s->inputs[s->out->ncrs] = &cr->ebpf;
	s->out->crs[s->out->ncrs++] = cr->meta.name;
	return 0;
}

int pod_policy_compute_locked(struct object_cache *pcmcs, const struct pod *pod, struct pod_policy *out)
{
	struct select_ctx s = { .pod = pod, .out = out };
	int err;

	memset(out, 0, sizeof(*out));
	err = object_cache_each_locked(pcmcs, pod->meta.namespace, select_cr, &s);
	if (err == -E2BIG) {
		snprintf(out->why, sizeof(out->why), "more than %d PodConfigMapConfigs select the pod",
			 POD_POLICY_MAX_CRS);
		return err;
	}
	if (err)
		return err;
	if (!out->ncrs)
		return 0;
	return effective_policy_merge(s.inputs, out->ncrs, &out->policy, out->why, sizeof(out->why));
}

void pod_policy_clear(struct pod_policy *p)
{
	effective_policy_clear(&p->policy);
	p->ncrs = 0;
}
