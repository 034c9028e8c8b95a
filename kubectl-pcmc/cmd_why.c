/* kubectl pcmc why POD: everything that decides the pod's enforcement, in the order it is decided:
 * the CRs selecting it, their merge, each listed port's verdict, what its node's agent holds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "kubectl-pcmc/commands.h"
#include "kubectl-pcmc/table.h"

static void print_ports(FILE *out, const struct port_set *s)
{
	fputc('[', out);
	for (uint16_t i = 0; i < s->n; i++)
		fprintf(out, "%s%u", i ? ", " : "", s->ports[i]);
	fputc(']', out);
}

void print_ebpf_config(FILE *out, const char *indent, const struct ebpf_config *c)
{
	char interval[40];

	fprintf(out, "%ssyscallMonitoring: %s", indent, c->syscall_monitoring.enabled ? "enabled" : "disabled");
	if (c->syscall_monitoring.enabled) {
		fputs(", syscallNames: [", out);
		for (uint16_t i = 0; i < c->syscall_monitoring.names.n; i++)
			fprintf(out, "%s%s", i ? ", " : "", c->syscall_monitoring.names.names[i]);
		fputc(']', out);
	}
	fprintf(out, "\n%sl4Firewall: %s", indent, c->l4_firewall.enabled ? "enabled" : "disabled");
	if (c->l4_firewall.enabled) {
		fputs(", allowedPorts: ", out);
		print_ports(out, &c->l4_firewall.allowed);
		fputs(", blockedPorts: ", out);
		print_ports(out, &c->l4_firewall.blocked);
		fprintf(out, ", defaultAction: %s", c->l4_firewall.default_block ? "block" : "allow");
	}
	fprintf(out, "\n%smetricsExport: %s", indent, c->metrics_export.enabled ? "enabled" : "disabled");
	if (c->metrics_export.enabled) {
		duration_format(c->metrics_export.update_interval_ns, interval, sizeof(interval));
		fprintf(out, ", updateInterval: %s", interval);
	}
	fputc('\n', out);
}

/* Every port either list names, in ascending order, then the verdict for all others. */
static int print_port_verdicts(FILE *out, const struct ebpf_config *c)
{
	static const char *const headers[] = { "PORT", "VERDICT", "BY" };
	struct table *t = table_new(3, headers);
	struct port_set listed = { 0 };
	const char *why;
	bool blocked;
	int err = t ? 0 : -ENOMEM;

	err = err ?: port_set_union(&listed, &c->l4_firewall.allowed);
	err = err ?: port_set_union(&listed, &c->l4_firewall.blocked);
	for (uint16_t i = 0; !err && i < listed.n; i++) {
		blocked = port_blocked(c, listed.ports[i], &why);
		err = table_cell(t, "%u", listed.ports[i]) ?: table_cell(t, "%s", blocked ? "block" : "allow") ?:
		      table_cell(t, "%s", why) ?: table_end_row(t);
	}
	port_set_clear(&listed);
	if (!err) {
		/* Port 0 is in no list: the verdict for every other port. */
		blocked = port_blocked(c, 0, &why);
		err = table_cell(t, "any other") ?: table_cell(t, "%s", blocked ? "block" : "allow") ?:
		      table_cell(t, "%s", why) ?: table_end_row(t);
	}
	if (!err) {
		fprintf(out, "Ports (TCP and UDP, by destination port):\n");
		table_print(t, out, "  ");
	}
	table_free(t);
	return err;
}

static void print_agent(FILE *out, const struct pod_report *r)
{
	const struct node_agent *a = r->agent;

	if (!a) {
		fprintf(out, "Agent: none (the pod has no node)\n");
		return;
	}
	if (a->err) {
		fprintf(out, "Agent of node %s%s%s: %s\n", a->node, a->address[0] ? " at " : "", a->address, a->error);
		return;
	}
	if (!a->held->has_sender)
		fprintf(out, "Agent of node %s at %s: holds no push yet\n", a->node, a->address);
	else
		fprintf(out, "Agent of node %s at %s: holds revision %lld from %s (epoch %lld), %zu pods\n", a->node,
			a->address, (long long)a->held->revision, a->held->sender.identity, (long long)a->held->sender.epoch,
			a->held->n_pods);
	if (!r->held) {
		fprintf(out, "  this pod: not held\n");
		return;
	}
	fprintf(out, "  this pod: %s%s%s\n", r->held->state == POLICY_POD_APPLIED ? "applied" : "failed",
		r->held->error && *r->held->error ? ": " : "", r->held->error ? r->held->error : "");
	if (!ebpf_config_equal(&r->held->policy, &r->want)) {
		fprintf(out, "  with a policy other than the effective one:\n");
		print_ebpf_config(out, "    ", &r->held->policy);
	}
}

struct find_ctx {
	const char *name;
	const struct pod *found[2];
	size_t n;
};

static int find_pod(void *ud, const void *obj)
{
	struct find_ctx *f = ud;
	const struct pod *pod = obj;

	if (!strcmp(pod->meta.name, f->name) && f->n < 2)
		f->found[f->n++] = pod;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int explain(struct plugin *p, struct cluster_view *v, const struct pod *pod)
{
	struct pod_report r;
	int err = pod_report_make_locked(v, pod, &r);

	if (err) {
		pod_report_clear(&r);
		return err;
	}
	fprintf(p->out, "Pod %s/%s on node %s, %s\n", pod->meta.namespace, pod->meta.name,
		pod->node_name && *pod->node_name ? pod->node_name : "(none)", pod->phase ? pod->phase : "no phase");
	fprintf(p->out, "Selected by:");
	for (size_t i = 0; i < r.n_selected; i++)
		fprintf(p->out, "%s%s", i ? ", " : " ", r.selected_by[i]);
	fprintf(p->out, "%s\n", r.n_selected ? "" : " no PodConfigMapConfig");
	if (r.pp.ncrs) {
		const char *merged[POD_POLICY_MAX_CRS];

		memcpy(merged, r.pp.crs, r.pp.ncrs * sizeof(*merged));
		qsort(merged, r.pp.ncrs, sizeof(*merged), by_name);
		fprintf(p->out, "Merged from (CRs with an eBPF feature):");
		for (size_t i = 0; i < r.pp.ncrs; i++)
			fprintf(p->out, "%s%s", i ? ", " : " ", merged[i]);
		fputc('\n', p->out);
	}
	for (size_t i = 0; i < r.pp.nleft_out; i++)
		fprintf(p->out, "Left out of the merge: %s: %s\n", r.pp.left_out[i].cr, r.pp.left_out[i].why);
	if (r.merge_err) {
		fprintf(p->out, "Effective policy: none, the merge failed: %s\n", r.pp.why);
	} else if (r.verdict.state != VERDICT_NOT_WANTED) {
		char names[200];

		fprintf(p->out, "Effective policy:\n");
		print_ebpf_config(p->out, "  ", &r.want);
		if (r.pp.policy.conflicts) {
			effective_policy_conflict_names(r.pp.policy.conflicts, names, sizeof(names));
			fprintf(p->out, "  (the CRs disagree on %s: merged as docs/policy-distribution.md says)\n", names);
		}
		err = r.want.l4_firewall.enabled ? print_port_verdicts(p->out, &r.want) : 0;
		print_agent(p->out, &r);
	}
	fprintf(p->out, "Verdict: %s%s%s\n", verdict_state_name(r.verdict.state), r.verdict.detail[0] ? ": " : "",
		r.verdict.detail);
	pod_report_clear(&r);
	return err;
}

int cmd_why(struct plugin *p, const char *pod_name)
{
	struct find_ctx f = { .name = pod_name };
	struct cluster_view *v;
	char error[512] = "";
	int err = cluster_view_load(p->client, &p->view, &v, error, sizeof(error)), rc = 0;

	if (err) {
		fprintf(p->err, "kubectl-pcmc: %s\n", error);
		return 1;
	}
	object_cache_read_lock(cluster_view_pcmcs(v));
	object_cache_read_lock(cluster_view_pods(v));
	object_cache_each_locked(cluster_view_pods(v), p->view.namespace, find_pod, &f);
	if (f.n == 0) {
		fprintf(p->err, "kubectl-pcmc: pod %s not found in %s\n", pod_name,
			p->view.namespace ? p->view.namespace : "any namespace");
		rc = 1;
	} else if (f.n > 1) {
		fprintf(p->err, "kubectl-pcmc: pods named %s in namespaces %s and %s: say which with -n\n", pod_name,
			f.found[0]->meta.namespace, f.found[1]->meta.namespace);
		rc = 1;
	} else if ((err = explain(p, v, f.found[0]))) {
		fprintf(p->err, "kubectl-pcmc: %s\n", strerror(-err));
		rc = 1;
	}
	object_cache_unlock(cluster_view_pods(v));
	object_cache_unlock(cluster_view_pcmcs(v));
	cluster_view_free(v);
	return rc;
}
