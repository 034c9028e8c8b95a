/* kubectl pcmc top: reads each node's agent /metrics twice and prints, per pod, the rates of its
 * counters (syscalls, syscalls outside its allowlist, allowed and blocked packets). The agent
 * refreshes a pod's counters every updateInterval, so the samples are that far apart. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kubectl-pcmc/agent_http.h"
#include "kubectl-pcmc/commands.h"
#include "kubectl-pcmc/prom_text.h"
#include "kubectl-pcmc/table.h"

enum counter { SYSCALLS, OUTSIDE, ALLOWED, BLOCKED, N_COUNTERS };

struct pod_rates {
	char namespace[64], pod[254], node[254];
	double first[N_COUNTERS], last[N_COUNTERS];
	bool seen[2];
	double rate[N_COUNTERS];
};

struct top {
	struct pod_rates *pods;
	size_t n, cap;
	const char *namespace;  /* only this namespace, or NULL */
	const char *node;       /* the agent being read */
	int sample;             /* 0 or 1 */
};

static int counter_of(const struct prom_sample *s)
{
	const char *type;

	if (!strcmp(s->name, "podconfigmap_controller_ebpf_syscall_count_total"))
		return SYSCALLS;
	if (!strcmp(s->name, "podconfigmap_controller_ebpf_syscall_outside_allowlist_total"))
		return OUTSIDE;
	if (strcmp(s->name, "podconfigmap_controller_ebpf_l4_firewall_total") || !(type = prom_label(s, "stat_type")))
		return -1;
	return !strcmp(type, "allowed") ? ALLOWED : !strcmp(type, "blocked") ? BLOCKED : -1;
}

static struct pod_rates *pod_entry(struct top *t, const char *ns, const char *pod)
{
	struct pod_rates *grown;

	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->pods[i].namespace, ns) && !strcmp(t->pods[i].pod, pod))
			return &t->pods[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;

		grown = realloc(t->pods, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		t->pods = grown;
		t->cap = cap;
	}
	grown = &t->pods[t->n++];
	*grown = (struct pod_rates){ 0 };
	snprintf(grown->namespace, sizeof(grown->namespace), "%s", ns);
	snprintf(grown->pod, sizeof(grown->pod), "%s", pod);
	snprintf(grown->node, sizeof(grown->node), "%s", t->node);
	return grown;
}

static int add_sample(void *ud, const struct prom_sample *s)
{
	struct top *t = ud;
	const char *ns = prom_label(s, "namespace"), *pod = prom_label(s, "pod_name");
	int c = counter_of(s);
	struct pod_rates *r;

	if (c < 0 || !ns || !pod || (t->namespace && strcmp(ns, t->namespace)))
		return 0;
	r = pod_entry(t, ns, pod);
	if (!r)
		return -ENOMEM;
	if (t->sample == 0)
		r->first[c] += s->value;
	else
		r->last[c] += s->value;
	r->seen[t->sample] = true;
	return 0;
}

/* The agent's /metrics: on its policy API port, or (agents with --metrics-listen) on the metrics port
 * of the same host. */
static int get_metrics(struct plugin *p, const struct node_agent *a, struct agent_body *body, char *why, size_t len)
{
	char other[320];
	const char *colon = strrchr(a->address, ':');
	int err = agent_http_get(a->address, "/metrics", p->view.timeout_ms, body, why, len);

	if (err || body->status != 404 || !colon)
		return err;
	agent_body_clear(body);
	snprintf(other, sizeof(other), "%.*s:%d", (int)(colon - a->address), a->address, p->view.agent_metrics_port);
	return agent_http_get(other, "/metrics", p->view.timeout_ms, body, why, len);
}

static int read_metrics(struct plugin *p, struct top *t, const struct node_agent *a)
{
	struct agent_body body;
	char why[400];
	int bad_line = 0, err = get_metrics(p, a, &body, why, sizeof(why));

	if (err) {
		fprintf(p->err, "kubectl-pcmc: node %s: %s\n", a->node, why);
		return err;
	}
	t->node = a->node;
	err = body.status == 200 ? prom_text_each(body.text, add_sample, t, &bad_line) : -EPROTO;
	if (err == -EPROTO)
		fprintf(p->err, "kubectl-pcmc: node %s: GET http://%s/metrics: HTTP %ld\n", a->node, a->address, body.status);
	else if (err == -EINVAL)
		fprintf(p->err, "kubectl-pcmc: node %s: /metrics line %d is not Prometheus text\n", a->node, bad_line);
	agent_body_clear(&body);
	return err;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct scope {
	struct cluster_view *v;
	const struct node_agent *agents[256];
	size_t n_agents;
	int64_t longest_interval_ns;
};

/* Every node running a pod in scope, with the longest updateInterval its agent holds for them. */
static int collect_node(void *ud, const void *obj)
{
	struct scope *s = ud;
	const struct pod *pod = obj;
	const struct node_agent *a;
	long i;

	if (!pod->node_name || !*pod->node_name)
		return 0;
	a = cluster_view_agent(s->v, pod->node_name);
	if (a->err)
		return 0;
	i = pod->meta.uid ? policy_push_find(a->held, pod->meta.uid) : -1;
	if (i >= 0 && a->held->pods[i].policy.metrics_export.enabled &&
	    a->held->pods[i].policy.metrics_export.update_interval_ns > s->longest_interval_ns)
		s->longest_interval_ns = a->held->pods[i].policy.metrics_export.update_interval_ns;
	for (size_t k = 0; k < s->n_agents; k++)
		if (s->agents[k] == a)
			return 0;
	if (s->n_agents < sizeof(s->agents) / sizeof(s->agents[0]))
		s->agents[s->n_agents++] = a;
	return 0;
}

static int by_syscall_rate(const void *a, const void *b)
{
	const struct pod_rates *x = a, *y = b;

	if (x->rate[SYSCALLS] != y->rate[SYSCALLS])
		return x->rate[SYSCALLS] < y->rate[SYSCALLS] ? 1 : -1;
	return strcmp(x->pod, y->pod);
}

static int print_rates(struct plugin *p, struct top *t, double seconds)
{
	static const char *const headers[] = { "NAMESPACE", "POD", "NODE", "SYSCALLS/S", "OUTSIDE-ALLOWLIST/S",
					       "ALLOWED-PACKETS/S", "BLOCKED-PACKETS/S" };
	struct table *tab = table_new(7, headers);
	size_t shown = 0;
	int err = tab ? 0 : -ENOMEM;

	for (size_t i = 0; i < t->n; i++)
		for (int c = 0; c < N_COUNTERS; c++) /* a counter that went down restarted from zero */
			t->pods[i].rate[c] = (t->pods[i].last[c] >= t->pods[i].first[c] ?
						      t->pods[i].last[c] - t->pods[i].first[c] : t->pods[i].last[c]) / seconds;
	qsort(t->pods, t->n, sizeof(*t->pods), by_syscall_rate);
	for (size_t i = 0; !err && i < t->n; i++) {
		const struct pod_rates *r = &t->pods[i];

		if (!r->seen[0] || !r->seen[1])
			continue; /* came or went between the samples */
		err = table_cell(tab, "%s", r->namespace) ?: table_cell(tab, "%s", r->pod) ?: table_cell(tab, "%s", r->node) ?:
		      table_cell(tab, "%.1f", r->rate[SYSCALLS]) ?: table_cell(tab, "%.1f", r->rate[OUTSIDE]) ?:
		      table_cell(tab, "%.1f", r->rate[ALLOWED]) ?: table_cell(tab, "%.1f", r->rate[BLOCKED]) ?:
		      table_end_row(tab);
		shown++;
	}
	if (!err && shown)
		table_print(tab, p->out, "");
	else if (!err)
		fprintf(p->out, "No pod with metricsExport enabled in %s.\n", t->namespace ? t->namespace : "any namespace");
	table_free(tab);
	return err;
}

int cmd_top(struct plugin *p)
{
	struct scope s = { 0 };
	struct top t = { .namespace = p->view.namespace };
	char error[512] = "";
	double t0, seconds;
	int err = cluster_view_load(p->client, &p->view, &s.v, error, sizeof(error));

	if (err) {
		fprintf(p->err, "kubectl-pcmc: %s\n", error);
		return 1;
	}
	object_cache_read_lock(cluster_view_pods(s.v));
	object_cache_each_locked(cluster_view_pods(s.v), p->view.namespace, collect_node, &s);
	object_cache_unlock(cluster_view_pods(s.v));
	seconds = p->interval_s > 0 ? p->interval_s : (double)s.longest_interval_ns / 1e9 + 1;
	t0 = now_s();
	for (size_t i = 0; !err && i < s.n_agents; i++)
		err = read_metrics(p, &t, s.agents[i]);
	if (!err) {
		double wait = seconds - (now_s() - t0);

		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		seconds = now_s() - t0;
		t.sample = 1;
	}
	for (size_t i = 0; !err && i < s.n_agents; i++)
		err = read_metrics(p, &t, s.agents[i]);
	err = err ?: print_rates(p, &t, seconds);
	if (err == -ENOMEM)
		fprintf(p->err, "kubectl-pcmc: no memory\n");
	free(t.pods);
	cluster_view_free(s.v);
	return err ? 1 : 0;
}
