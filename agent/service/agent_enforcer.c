/* The dataplane behind struct enforcer: a pod's policy model becomes the dataplane's pod_policy
 * (syscall names to this architecture's numbers, ports as they are). */
#include "agent/service/agent_enforcer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane/dataplane.h"
#include "common/log.h"
#include "common/syscall_table.h"

_Static_assert(POLICY_MAX_SYSCALL_NAMES == DATAPLANE_MAX_SYSCALLS, "the dataplane takes every listed syscall");

struct dataplane_enforcer {
	struct enforcer base;
	struct dataplane *dp;
};

static int apply_pod(struct enforcer *e, const struct policy_pod *pod, char *why, size_t why_len)
{
	struct dataplane_enforcer *d = (struct dataplane_enforcer *)e;
	const struct ebpf_config *c = &pod->policy;
	struct pod_ref ref = { .uid = pod->uid, .namespace = pod->namespace, .name = pod->name };
	int nrs[POLICY_MAX_SYSCALL_NAMES], n = 0, err;
	const char *text;

	for (size_t i = 0; c->syscall_monitoring.enabled && i < c->syscall_monitoring.names.n; i++) {
		nrs[n] = syscall_table_number(c->syscall_monitoring.names.names[i]);
		if (nrs[n] < 0) {
			snprintf(why, why_len, "unknown syscall \"%s\" on %s", c->syscall_monitoring.names.names[i],
				 syscall_table_arch());
			return -EINVAL;
		}
		n++;
	}
	struct pod_policy p = {
		.syscalls_enabled = c->syscall_monitoring.enabled, .syscall_nrs = nrs, .n_syscalls = n,
		.firewall_enabled = c->l4_firewall.enabled,
		.allowed = c->l4_firewall.allowed.ports, .n_allowed = c->l4_firewall.allowed.n,
		.blocked = c->l4_firewall.blocked.ports, .n_blocked = c->l4_firewall.blocked.n,
		.default_block = c->l4_firewall.default_block,
	};
	err = dataplane_apply_pod(d->dp, &ref, &p);
	if (err) {
		text = dataplane_pod_error(d->dp, pod->uid);
		snprintf(why, why_len, "%s", text && *text ? text : log_strerror(err));
	}
	return err;
}

static int remove_pod(struct enforcer *e, const char *uid)
{
	return dataplane_remove_pod(((struct dataplane_enforcer *)e)->dp, uid);
}

static int remove_orphans(struct enforcer *e, const char *const *uids, size_t n)
{
	return dataplane_remove_orphans(((struct dataplane_enforcer *)e)->dp, uids, (int)n);
}

static void dataplane_enforcer_free(struct enforcer *e)
{
	free(e);
}

int dataplane_enforcer_new(struct dataplane *dp, struct enforcer **out)
{
	struct dataplane_enforcer *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->base = (struct enforcer){ .apply_pod = apply_pod, .remove_pod = remove_pod,
				     .remove_orphans = remove_orphans, .free = dataplane_enforcer_free };
	d->dp = dp;
	*out = &d->base;
	return 0;
}

void enforcer_free(struct enforcer *e)
{
	if (e)
		e->free(e);
}
