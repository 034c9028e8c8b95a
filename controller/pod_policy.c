/* Selecting CRs of a pod, looked up in the CR cache of the pod's namespace, sorted by name; each
 * is checked for the pod's node and merged only if the merge with it stays within the limits. The
 * merge itself is pure (effective_policy.c). */
#include "controller/pod_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool pod_enforceable(const struct pod *pod)
{
	return pod->node_name && *pod->node_name && pod->meta.uid && !pod->terminating && pod->phase &&
	       strcmp(pod->phase, "Running") == 0;
}

bool pcmc_wants_ebpf(const struct pcmc *cr)
{
	return ebpf_config_wanted(&cr->ebpf.config);
}

struct selected {
	const char *name;
	const struct ebpf_settings *ebpf;
};

struct select_ctx {
	const struct pod *pod;
	struct selected crs[POD_POLICY_MAX_CRS];
	size_t n;
};

static int select_cr(void *ud, const void *obj)
{
	struct select_ctx *s = ud;
	const struct pcmc *cr = obj;

	if (cr->selector_error[0] || !cr->selector || !pcmc_wants_ebpf(cr) ||
	    !label_selector_matches(cr->selector, &s->pod->labels))
		return 0;
	if (s->n == POD_POLICY_MAX_CRS)
		return -E2BIG;
	s->crs[s->n++] = (struct selected){ cr->meta.name, &cr->ebpf };
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct selected *)a)->name, ((const struct selected *)b)->name);
}

static void leave_out(struct pod_policy *out, const char *cr, const char *why)
{
	struct pod_policy_left_out *l = &out->left_out[out->nleft_out++];

	l->cr = cr;
	snprintf(l->why, sizeof(l->why), "%s", why);
}

int pod_policy_compute_locked(struct object_cache *pcmcs, const struct pod *pod, const char *node_arch,
			      struct pod_policy *out)
{
	struct select_ctx s = { .pod = pod };
	char why[POD_POLICY_WHY_MAX], merge_why[sizeof(((struct ebpf_settings *)0)->invalid)];
	int err;

	memset(out, 0, sizeof(*out));
	effective_policy_init(&out->policy);
	err = object_cache_each_locked(pcmcs, pod->meta.namespace, select_cr, &s);
	if (err == -E2BIG) {
		snprintf(out->why, sizeof(out->why), "more than %d PodConfigMapConfigs select the pod",
			 POD_POLICY_MAX_CRS);
		return err;
	}
	if (err)
		return err;
	qsort(s.crs, s.n, sizeof(s.crs[0]), by_name);
	for (size_t i = 0; i < s.n; i++) {
		err = effective_policy_check_node(s.crs[i].ebpf, node_arch, why, sizeof(why));
		if (err == -ENOMEM)
			goto fail;
		if (err) {
			leave_out(out, s.crs[i].name, why);
			continue;
		}
		/* Merged after the CRs before it (by name); one that does not fit changes nothing. */
		err = effective_policy_add(&out->policy, s.crs[i].ebpf, merge_why, sizeof(merge_why));
		if (err == -ENOMEM)
			goto fail;
		if (err == -EINVAL) {
			leave_out(out, s.crs[i].name, merge_why);
			continue;
		}
		if (err) {
			snprintf(why, sizeof(why), "spec.ebpfConfig: %s%s", merge_why,
				 out->ncrs ? " (merged in name order, this PodConfigMapConfig came last)" : "");
			leave_out(out, s.crs[i].name, why);
			continue;
		}
		out->crs[out->ncrs++] = s.crs[i].name;
	}
	effective_policy_finish(&out->policy);
	return 0;
fail:
	pod_policy_clear(out);
	return err;
}

const struct pod_policy_left_out *pod_policy_left_out_of(const struct pod_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nleft_out; i++)
		if (strcmp(p->left_out[i].cr, name) == 0)
			return &p->left_out[i];
	return NULL;
}

void pod_policy_clear(struct pod_policy *p)
{
	effective_policy_clear(&p->policy);
	p->ncrs = 0;
	p->nleft_out = 0;
}
