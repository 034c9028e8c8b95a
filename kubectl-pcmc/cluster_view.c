/* The cluster as the controller sees it (see cluster_view.h): reflectors fill the caches once and
 * stop, so every command works on one consistent snapshot; agents are read on first use. */
#include "kubectl-pcmc/cluster_view.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/json_reader.h"
#include "controller/agent_directory.h"
#include "controller/nodes.h"
#include "controller/reflector.h"
#include "kubectl-pcmc/agent_http.h"

struct cluster_view {
	struct kube_client *client;
	struct cluster_view_opts opts;
	char pods_path[300], pcmcs_path[300];
	struct object_cache *pods, *pcmcs, *nodes; /* nodes: NULL when the user may not list them */
	struct reflector *pod_reflector, *pcmc_reflector, *node_reflector;
	struct agent_directory *agents_dir;
	struct node_agent **agents; /* each allocated alone: pointers handed out stay valid */
	size_t n_agents;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One small GET first, so that a missing CRD or permission is reported as the API server says it
 * (a reflector would only retry). */
static int probe(struct cluster_view *v, const char *path, const char *what, char *error, size_t error_len)
{
	struct kube_error kerr = { 0 };
	char url[400];
	cJSON *reply = NULL;
	int err;

	snprintf(url, sizeof(url), "%s?limit=1", path);
	err = kube_request_timeout(v->client, "GET", url, NULL, NULL, &reply, &kerr, v->opts.timeout_ms);
	cJSON_Delete(reply);
	if (err)
		snprintf(error, error_len, "cannot list %s: %s%s%s", what, kerr.message[0] ? kerr.message : strerror(-err),
			 kerr.reason[0] ? " " : "", kerr.reason);
	return err;
}

static int wait_synced(struct cluster_view *v, char *error, size_t error_len)
{
	long long deadline = now_ms() + v->opts.timeout_ms;

	while (!reflector_synced(v->pod_reflector) || !reflector_synced(v->pcmc_reflector) ||
	       (v->node_reflector && !reflector_synced(v->node_reflector)) || !agent_directory_synced(v->agents_dir)) {
		if (now_ms() > deadline) {
			snprintf(error, error_len, "the lists of pods, PodConfigMapConfigs and agent pods did not complete "
				 "within %ld ms", v->opts.timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	return 0;
}

/* The caches are read once filled: nothing to do per event. */
static void ignore_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	(void)ud, (void)ev, (void)old, (void)new;
}

int cluster_view_load(struct kube_client *client, const struct cluster_view_opts *o, struct cluster_view **out,
		      char *error, size_t error_len)
{
	struct cluster_view *v = calloc(1, sizeof(*v));
	char ns_part[200] = "";
	int err;

	if (!v)
		return -ENOMEM;
	v->client = client;
	v->opts = *o;
	if (o->namespace)
		snprintf(ns_part, sizeof(ns_part), "/namespaces/%s", o->namespace);
	snprintf(v->pods_path, sizeof(v->pods_path), "/api/v1%s/pods", ns_part);
	snprintf(v->pcmcs_path, sizeof(v->pcmcs_path), "/apis/%s/%s%s/%s", PCMC_GROUP, PCMC_VERSION, ns_part, PCMC_PLURAL);
	v->pods = object_cache_new(&pod_kind);
	v->pcmcs = object_cache_new(&pcmc_kind);
	err = v->pods && v->pcmcs ? 0 : -ENOMEM;
	err = err ?: probe(v, v->pcmcs_path, "PodConfigMapConfigs", error, error_len);
	err = err ?: probe(v, v->pods_path, "pods", error, error_len);
	err = err ?: reflector_new(client, &(struct reflector_config){ .resource_path = v->pods_path, .cache = v->pods,
								       .on_event = ignore_event },
				   &v->pod_reflector);
	err = err ?: reflector_new(client, &(struct reflector_config){ .resource_path = v->pcmcs_path, .cache = v->pcmcs,
								       .on_event = ignore_event },
				   &v->pcmc_reflector);
	err = err ?: agent_directory_new(client,
					 &(struct agent_directory_config){ .namespace = o->agent_namespace,
									   .selector = o->agent_selector,
									   .default_port = o->agent_port },
					 &v->agents_dir);
	/* The nodes' architectures, as the controller merges with them; a user who may not list nodes
	 * gets the merge without the per-node check (the agent checks its own architecture). */
	if (!err && probe(v, "/api/v1/nodes", "nodes", error, error_len) == 0) {
		v->nodes = object_cache_new(&node_kind);
		err = v->nodes ? 0 : -ENOMEM;
		err = err ?: reflector_new(client, &(struct reflector_config){ .resource_path = "/api/v1/nodes",
									       .cache = v->nodes, .on_event = ignore_event },
					   &v->node_reflector);
		err = err ?: reflector_start(v->node_reflector);
	}
	if (!err)
		error[0] = '\0';
	err = err ?: reflector_start(v->pod_reflector);
	err = err ?: reflector_start(v->pcmc_reflector);
	err = err ?: agent_directory_start(v->agents_dir);
	err = err ?: wait_synced(v, error, error_len);
	/* A snapshot: no more changes from here on. */
	if (v->pod_reflector)
		reflector_signal_stop(v->pod_reflector);
	if (v->pcmc_reflector)
		reflector_signal_stop(v->pcmc_reflector);
	if (v->agents_dir)
		agent_directory_stop(v->agents_dir);
	reflector_signal_stop(v->node_reflector);
	if (v->pod_reflector)
		reflector_stop(v->pod_reflector);
	if (v->pcmc_reflector)
		reflector_stop(v->pcmc_reflector);
	reflector_stop(v->node_reflector);
	if (err) {
		if (err == -ENOMEM && !error[0])
			snprintf(error, error_len, "no memory");
		cluster_view_free(v);
		return err;
	}
	*out = v;
	return 0;
}

void cluster_view_free(struct cluster_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_agents; i++) {
		policy_push_free(v->agents[i]->held);
		free(v->agents[i]);
	}
	free(v->agents);
	agent_directory_free(v->agents_dir);
	reflector_free(v->pod_reflector);
	reflector_free(v->pcmc_reflector);
	reflector_free(v->node_reflector);
	object_cache_free(v->pods);
	object_cache_free(v->pcmcs);
	object_cache_free(v->nodes);
	free(v);
}

struct object_cache *cluster_view_pods(struct cluster_view *v)
{
	return v->pods;
}

struct object_cache *cluster_view_pcmcs(struct cluster_view *v)
{
	return v->pcmcs;
}

static void read_agent(struct cluster_view *v, struct node_agent *a)
{
	struct agent_body body;
	struct json_error jerr;
	char why[300], path[400];

	a->err = agent_directory_address(v->agents_dir, a->node, a->address, sizeof(a->address));
	if (a->err) {
		a->address[0] = '\0';
		snprintf(a->error, sizeof(a->error), "no running pcmc-agent on node %s", a->node);
		return;
	}
	/* ?node=: an address may serve several nodes (hollow agents); an agent answers for its own. */
	snprintf(path, sizeof(path), "/v1/policy?node=%s", a->node);
	a->err = agent_http_get(a->address, path, v->opts.timeout_ms, &body, why, sizeof(why));
	if (a->err) {
		snprintf(a->error, sizeof(a->error), "%s", why);
		return;
	}
	if (body.status != 200) {
		a->err = -EPROTO;
		snprintf(a->error, sizeof(a->error), "GET http://%.300s/v1/policy: HTTP %ld: %.200s", a->address, body.status,
			 body.text);
	} else if ((a->err = node_state_decode(body.text, body.len, &a->held, &jerr))) {
		snprintf(a->error, sizeof(a->error), "GET http://%.300s/v1/policy: %.256s: %.256s", a->address, jerr.path, jerr.message);
	}
	agent_body_clear(&body);
}

const struct node_agent *cluster_view_agent(struct cluster_view *v, const char *node)
{
	static const struct node_agent no_memory = { .err = -ENOMEM, .error = "no memory" };
	struct node_agent **grown, *a;

	for (size_t i = 0; i < v->n_agents; i++)
		if (!strcmp(v->agents[i]->node, node))
			return v->agents[i];
	grown = realloc(v->agents, (v->n_agents + 1) * sizeof(*grown));
	if (!grown)
		return &no_memory;
	v->agents = grown;
	a = calloc(1, sizeof(*a));
	if (!a)
		return &no_memory;
	v->agents[v->n_agents++] = a;
	snprintf(a->node, sizeof(a->node), "%s", node);
	read_agent(v, a);
	return a;
}

/* The merge as JSON (what the controller pushes), read back as the agent reads it. */
static int want_config(const struct effective_policy *p, struct ebpf_config *out)
{
	cJSON *json = effective_policy_to_json(p);
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;
	struct json_error jerr;
	struct json_reader r;
	int err;

	cJSON_Delete(json);
	if (!text)
		return -ENOMEM;
	jr_init(&r, text, strlen(text), &jerr);
	err = ebpf_config_read(&r, out);
	free(text);
	return err;
}

struct select_ctx {
	const struct pod *pod;
	struct pod_report *r;
};

static int collect_selecting(void *ud, const void *obj)
{
	struct select_ctx *s = ud;
	const struct pcmc *cr = obj;

	if (cr->selector && label_selector_matches(cr->selector, &s->pod->labels) && s->r->n_selected < POD_POLICY_MAX_CRS)
		s->r->selected_by[s->r->n_selected++] = cr->meta.name;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pod_report_make_locked(struct cluster_view *v, const struct pod *pod, struct pod_report *out)
{
	struct verdict_input in;
	bool wanted;
	int err;

	*out = (struct pod_report){ .pod = pod };
	ebpf_config_init(&out->want);
	object_cache_each_locked(v->pcmcs, pod->meta.namespace, collect_selecting,
				 &(struct select_ctx){ .pod = pod, .r = out });
	qsort(out->selected_by, out->n_selected, sizeof(*out->selected_by), by_name);
	/* The node's architecture as the controller's merge uses it (NULL: Node unknown or not listable,
	 * the agent checks syscall names itself). */
	if (v->nodes)
		object_cache_read_lock(v->nodes);
	out->merge_err = pod_policy_compute_locked(v->pcmcs, pod,
						   v->nodes ? node_arch_locked(v->nodes, pod->node_name) : NULL, &out->pp);
	if (v->nodes)
		object_cache_unlock(v->nodes);
	if (out->merge_err == -ENOMEM)
		return -ENOMEM;
	wanted = !out->merge_err && effective_policy_wanted(&out->pp.policy);
	if (wanted && (err = want_config(&out->pp.policy, &out->want)))
		return err;
	if (pod->node_name && *pod->node_name)
		out->agent = cluster_view_agent(v, pod->node_name);
	if (out->agent && out->agent->held && pod->meta.uid) {
		long i = policy_push_find(out->agent->held, pod->meta.uid);

		out->held = i >= 0 ? &out->agent->held->pods[i] : NULL;
	}
	in = (struct verdict_input){
		.merge_err = out->merge_err, .merge_why = out->pp.why, .wanted = wanted, .node = pod->node_name,
		.phase = pod->phase, .terminating = pod->terminating,
		.agent_err = out->agent ? out->agent->err : -ENOENT, .agent_error = out->agent ? out->agent->error : NULL,
		.held = out->agent ? out->agent->held : NULL, .held_pod = out->held, .want = &out->want,
	};
	pod_verdict_decide(&in, &out->verdict);
	return 0;
}

void pod_report_clear(struct pod_report *r)
{
	pod_policy_clear(&r->pp);
	ebpf_config_clear(&r->want);
}
