/* kubectl pcmc status [CR]: for each PodConfigMapConfig, its Ready condition and, per node and
 * pod it selects, whether the node's agent enforces the pod's policy (verdict.c). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kubectl-pcmc/commands.h"
#include "kubectl-pcmc/table.h"

struct list_ctx {
	const void **items;
	size_t n, cap;
};

static int collect(void *ud, const void *obj)
{
	struct list_ctx *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		const void **grown = realloc(l->items, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = obj;
	return 0;
}

static int by_namespace_and_name(const void *a, const void *b)
{
	const struct object_meta *x = object_meta_of(*(const void *const *)a), *y = object_meta_of(*(const void *const *)b);
	int c = strcmp(x->namespace, y->namespace);

	return c ? c : strcmp(x->name, y->name);
}

/* The CR's condition of `type` as "True (Reason)", or "unknown". */
static void condition_text(const struct pcmc *cr, const char *type, char *out, size_t len)
{
	cJSON *status = pcmc_status(cr);
	const cJSON *c;

	snprintf(out, len, "unknown");
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(status, "conditions")) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason"));

		if (t && s && !strcmp(t, type))
			snprintf(out, len, "%s%s%s%s", s, r ? " (" : "", r ? r : "", r ? ")" : "");
	}
	cJSON_Delete(status);
}

struct row {
	const char *node, *pod;
	struct pod_verdict verdict;
};

static int by_node_and_pod(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->node, y->node);

	return c ? c : strcmp(x->pod, y->pod);
}

static bool selects(const struct pod_report *r, const char *cr)
{
	for (size_t i = 0; i < r->n_selected; i++)
		if (!strcmp(r->selected_by[i], cr))
			return true;
	return false;
}

/* Pods that ran to completion need nothing enforced. */
static bool finished(const struct pod *pod)
{
	return pod->phase && (!strcmp(pod->phase, "Succeeded") || !strcmp(pod->phase, "Failed"));
}

static int show_cr(struct plugin *p, struct cluster_view *v, const struct pcmc *cr, const struct list_ctx *pods)
{
	static const char *const headers[] = { "NODE", "POD", "STATE", "DETAIL" };
	struct row *rows = calloc(pods->n ? pods->n : 1, sizeof(*rows));
	size_t n = 0, count[4] = { 0 };
	struct table *t = table_new(4, headers);
	char ready[160], conflict[160];
	int err = rows && t ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < pods->n; i++) {
		const struct pod *pod = pods->items[i];
		struct pod_report r;

		if (strcmp(pod->meta.namespace, cr->meta.namespace) || finished(pod))
			continue;
		err = pod_report_make_locked(v, pod, &r);
		if (!err && selects(&r, cr->meta.name) && pcmc_wants_ebpf(cr)) {
			rows[n] = (struct row){ .node = pod->node_name && *pod->node_name ? pod->node_name : "(none)",
						.pod = pod->meta.name, .verdict = r.verdict };
			count[r.verdict.state]++;
			n++;
		}
		pod_report_clear(&r);
	}
	qsort(rows, n, sizeof(*rows), by_node_and_pod);
	for (size_t i = 0; !err && i < n; i++) {
		err = table_cell(t, "%s", rows[i].node) ?: table_cell(t, "%s", rows[i].pod) ?:
		      table_cell(t, "%s", verdict_state_name(rows[i].verdict.state)) ?:
		      table_cell(t, "%s", rows[i].verdict.state == VERDICT_ENFORCED ? "" : rows[i].verdict.detail) ?:
		      table_end_row(t);
	}
	if (!err) {
		condition_text(cr, "Ready", ready, sizeof(ready));
		condition_text(cr, "Conflict", conflict, sizeof(conflict));
		fprintf(p->out, "PodConfigMapConfig %s/%s: Ready %s, Conflict %s\n", cr->meta.namespace, cr->meta.name,
			ready, conflict);
		if (!pcmc_wants_ebpf(cr))
			fprintf(p->out, "  enables no eBPF feature: nothing to enforce\n");
		else if (n == 0)
			fprintf(p->out, "  selects no pod\n");
		else {
			fprintf(p->out, "  %zu pods: %zu enforced, %zu failed, %zu pending\n", n, count[VERDICT_ENFORCED],
				count[VERDICT_FAILED], count[VERDICT_PENDING]);
			table_print(t, p->out, "  ");
		}
	}
	table_free(t);
	free(rows);
	return err;
}

int cmd_status(struct plugin *p, const char *cr_name)
{
	struct list_ctx crs = { 0 }, pods = { 0 };
	struct cluster_view *v;
	char error[512] = "";
	size_t shown = 0;
	int err = cluster_view_load(p->client, &p->view, &v, error, sizeof(error));

	if (err) {
		fprintf(p->err, "kubectl-pcmc: %s\n", error);
		return 1;
	}
	object_cache_read_lock(cluster_view_pcmcs(v));
	object_cache_read_lock(cluster_view_pods(v));
	err = object_cache_each_locked(cluster_view_pcmcs(v), p->view.namespace, collect, &crs) ?:
	      object_cache_each_locked(cluster_view_pods(v), p->view.namespace, collect, &pods);
	if (!err) {
		qsort(crs.items, crs.n, sizeof(*crs.items), by_namespace_and_name);
		qsort(pods.items, pods.n, sizeof(*pods.items), by_namespace_and_name);
	}
	for (size_t i = 0; !err && i < crs.n; i++) {
		const struct pcmc *cr = crs.items[i];

		if (cr_name && strcmp(cr->meta.name, cr_name))
			continue;
		if (shown++)
			fputc('\n', p->out);
		err = show_cr(p, v, cr, &pods);
	}
	object_cache_unlock(cluster_view_pods(v));
	object_cache_unlock(cluster_view_pcmcs(v));
	free(crs.items);
	free(pods.items);
	cluster_view_free(v);
	if (err) {
		fprintf(p->err, "kubectl-pcmc: %s\n", strerror(-err));
		return 1;
	}
	if (!shown && cr_name) {
		fprintf(p->err, "kubectl-pcmc: PodConfigMapConfig %s not found in %s\n", cr_name,
			p->view.namespace ? p->view.namespace : "any namespace");
		return 1;
	}
	if (!shown)
		fprintf(p->out, "No PodConfigMapConfig in %s.\n", p->view.namespace ? p->view.namespace : "any namespace");
	return 0;
}
