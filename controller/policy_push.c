/* Push workers: pick the most overdue node (dirty past its batching window and backoff, or due
 * for the periodic full push), build its whole desired state from the caches, PUT it to the
 * node's agent, keep the per-pod results for status. A 409 means a newer leader exists: stop
 * pushing and give up leadership at once. */
#include "controller/policy_push.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/log.h"
#include "controller/pod_policy.h"
#include "controller/strmap.h"

#define PUSH_TIMEOUT_MS    30000
#define PUSH_MAX_REJECTS   16     /* pods a push may drop after a 400 naming them, per attempt */

struct pod_result {
	enum pod_enforcement state;
	char reason[300];
};

struct node_state {
	char *name;
	bool dirty, in_flight;
	uint64_t dirty_since_ms, next_attempt_ms, last_attempt_ms;
	unsigned backoff_ms;
	struct strmap *results;     /* uid -> struct pod_result, from the last accepted push */
	char error[700];            /* why the last push failed ("" after a success) */
	uint64_t results_fp;
};

struct policy_push {
	struct policy_push_config cfg;
	struct agent_directory *agents;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct node_state **nodes;
	size_t nnodes, cap;
	bool leading, stopping;
	long long epoch;
	unsigned long long revision;
	pthread_t *threads;
	int nthreads;
	struct policy_push_stats stats;
};

struct push_outcome {
	struct strmap *results;     /* uid -> struct pod_result (caller frees) */
	char error[700];
	long http_status;
	int pods;
	int applied, unchanged, failed;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static struct node_state *node_get_locked(struct policy_push *p, const char *name)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i]->name, name) == 0)
			return p->nodes[i];
	if (p->nnodes == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct node_state **n = realloc(p->nodes, cap * sizeof(*n));

		if (!n)
			return NULL;
		p->nodes = n;
		p->cap = cap;
	}
	struct node_state *n = calloc(1, sizeof(*n));

	if (!n || !(n->name = strdup(name)) || !(n->results = strmap_new())) {
		if (n)
			free(n->name);
		free(n);
		return NULL;
	}
	p->nodes[p->nnodes++] = n;
	return n;
}

static void mark_dirty_locked(struct policy_push *p, struct node_state *n, bool reset_backoff)
{
	if (!n)
		return;
	if (!n->dirty) {
		n->dirty = true;
		n->dirty_since_ms = mono_ms();
	}
	if (reset_backoff) {
		n->backoff_ms = 0;
		n->next_attempt_ms = 0;
	}
	pthread_cond_broadcast(&p->cond);
}

void policy_push_node_dirty(struct policy_push *p, const char *node)
{
	if (!p || !node || !*node)
		return;
	pthread_mutex_lock(&p->lock);
	mark_dirty_locked(p, node_get_locked(p, node), false);
	pthread_mutex_unlock(&p->lock);
}

static void agent_changed(void *ud, const char *node)
{
	struct policy_push *p = ud;

	pthread_mutex_lock(&p->lock);
	mark_dirty_locked(p, node_get_locked(p, node), true);
	pthread_mutex_unlock(&p->lock);
}

static int add_pod_node(void *ud, const void *obj)
{
	struct policy_push *p = ud;
	const struct pod *pod = obj;

	if (pod->node_name && *pod->node_name)
		mark_dirty_locked(p, node_get_locked(p, pod->node_name), false);
	return 0;
}

struct node_names {
	char **v;
	size_t n, cap;
};

static void collect_agent_node(void *ud, const char *node)
{
	struct node_names *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(node)))
		l->n++;
}

/* Every node with an agent or a pod, marked in one critical section so a worker cannot push a
 * node between two marks (which would make a second, redundant push). Lock order: agent
 * directory, then pods cache, then p->lock. */
void policy_push_all_dirty(struct policy_push *p)
{
	struct node_names agents = { 0 };

	if (!p)
		return;
	agent_directory_each_node(p->agents, collect_agent_node, &agents);
	object_cache_read_lock(p->cfg.pods);
	pthread_mutex_lock(&p->lock);
	object_cache_each_locked(p->cfg.pods, NULL, add_pod_node, p);
	for (size_t i = 0; i < agents.n; i++)
		mark_dirty_locked(p, node_get_locked(p, agents.v[i]), false);
	pthread_mutex_unlock(&p->lock);
	object_cache_unlock(p->cfg.pods);
	for (size_t i = 0; i < agents.n; i++)
		free(agents.v[i]);
	free(agents.v);
}

void policy_push_started_leading(struct policy_push *p, long long epoch)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->epoch = epoch;
	/* Same epoch after a restart of this replica must still count upwards: start at wall-clock ms. */
	p->revision = wall_ms();
	p->stats.epoch = epoch;
	for (size_t i = 0; i < p->nnodes; i++)
		mark_dirty_locked(p, p->nodes[i], true);
	pthread_mutex_unlock(&p->lock);
	/* Everything is marked before the workers may start, so each node gets one full push. */
	policy_push_all_dirty(p);
	pthread_mutex_lock(&p->lock);
	p->leading = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	log_info("pushing full state to every agent", LOG_INT("epoch", epoch), LOG_STR("identity", p->cfg.identity));
}

void policy_push_stopped_leading(struct policy_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->leading = false;
	pthread_mutex_unlock(&p->lock);
}

/* --- building the desired state of one node --- */

struct build_ctx {
	struct policy_push *p;
	const char *node;
	cJSON *pods;
	struct strmap *failed;        /* uid -> struct pod_result (merge failures, not pushed) */
	const struct strmap *rejected;/* uid -> reason: dropped after a 400 */
	int err;
};

static struct pod_result *result_new(enum pod_enforcement state, const char *reason)
{
	struct pod_result *r = calloc(1, sizeof(*r));

	if (r) {
		r->state = state;
		snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	}
	return r;
}

static int build_pod(void *ud, const void *obj)
{
	struct build_ctx *b = ud;
	const struct pod *pod = obj;
	struct pod_policy pp;
	cJSON *item, *policy;
	int err;

	if (!pod->node_name || strcmp(pod->node_name, b->node) != 0 || !pod_enforceable(pod))
		return 0;
	err = pod_policy_compute_locked(b->p->cfg.pcmcs, pod, NULL, &pp); /* no Node cache yet: the agent checks names */
	if (err == -ENOMEM)
		return err;
	if (err) {
		free(strmap_put(b->failed, pod->meta.uid, result_new(POD_FAILED, pp.why), &b->err));
		return 0;
	}
	if (!effective_policy_wanted(&pp.policy)) {
		pod_policy_clear(&pp);
		return 0;
	}
	if (b->rejected && strmap_contains(b->rejected, pod->meta.uid)) {
		const char *why = strmap_get(b->rejected, pod->meta.uid);

		free(strmap_put(b->failed, pod->meta.uid, result_new(POD_FAILED, why), &b->err));
		pod_policy_clear(&pp);
		return 0;
	}
	policy = effective_policy_to_json(&pp.policy);
	pod_policy_clear(&pp);
	item = cJSON_CreateObject();
	if (!item || !policy) {
		cJSON_Delete(item);
		cJSON_Delete(policy);
		return -ENOMEM;
	}
	cJSON_AddStringToObject(item, "uid", pod->meta.uid);
	cJSON_AddStringToObject(item, "namespace", pod->meta.namespace);
	cJSON_AddStringToObject(item, "name", pod->meta.name);
	cJSON_AddItemToObject(item, "policy", policy);
	cJSON_AddItemToArray(b->pods, item);
	return 0;
}

/* Lock order: pcmcs, then pods (as the reconciler). */
static int build_pods(struct policy_push *p, const char *node, const struct strmap *rejected, cJSON *pods,
		      struct strmap *failed)
{
	struct build_ctx b = { .p = p, .node = node, .pods = pods, .failed = failed, .rejected = rejected };
	int err;

	object_cache_read_lock(p->cfg.pcmcs);
	object_cache_read_lock(p->cfg.pods);
	err = object_cache_each_locked(p->cfg.pods, NULL, build_pod, &b);
	object_cache_unlock(p->cfg.pods);
	object_cache_unlock(p->cfg.pcmcs);
	return err ? err : b.err;
}

/* --- HTTP to the agent --- */

struct buffer {
	char *data;
	size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
	struct buffer *b = ud;
	size_t add = size * n;
	char *d;

	if (b->len + add > (1u << 24))
		return 0;
	d = realloc(b->data, b->len + add + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, ptr, add);
	b->len += add;
	d[b->len] = '\0';
	b->data = d;
	return add;
}

static int http_put(struct policy_push *p, const char *address, const char *body, long *status, struct buffer *reply,
		    char *error, size_t error_len)
{
	char url[400], auth[8300];
	char *token = NULL;
	struct curl_slist *headers = NULL;
	CURL *curl;
	CURLcode rc;

	*status = 0;
	if (kube_config_token(p->cfg.kube_config, &token) || !token) {
		snprintf(error, error_len, "no service-account token to authenticate to the agent");
		free(token);
		return -EACCES;
	}
	snprintf(url, sizeof(url), "http://%s/v1/policy", address);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	free(token);
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)PUSH_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	else
		snprintf(error, error_len, "agent %s unreachable: %s", address, curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return rc == CURLE_OK ? 0 : -ECONNREFUSED;
}

static const char *json_str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));

	return s ? s : "";
}

/* 200 body -> per-pod results. */
static int take_results(const char *body, struct push_outcome *o)
{
	cJSON *reply = cJSON_Parse(body), *r;
	int err = 0;

	if (!reply)
		return -EPROTO;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(reply, "results")) {
		const char *uid = json_str(r, "uid"), *res = json_str(r, "result");
		enum pod_enforcement st;

		if (!*uid || strcmp(res, "removed") == 0)
			continue;
		st = strcmp(res, "applied") == 0 || strcmp(res, "unchanged") == 0 ? POD_ATTACHED : POD_FAILED;
		if (strcmp(res, "applied") == 0)
			o->applied++;
		else if (st == POD_ATTACHED)
			o->unchanged++;
		else
			o->failed++;
		free(strmap_put(o->results, uid, result_new(st, json_str(r, "error")), &err));
	}
	cJSON_Delete(reply);
	return err;
}

/* "$.pods[12]..." -> 12, else -1. */
static int rejected_index(const char *path)
{
	int i;

	return path && sscanf(path, "$.pods[%d]", &i) == 1 ? i : -1;
}

#define PUSH_REFUSED (-ESTALE)

static int merge_failed(void *ud, const char *key, void *value)
{
	struct push_outcome *o = ud;
	const struct pod_result *r = value;
	int err = 0;

	o->failed++;
	free(strmap_put(o->results, key, result_new(r->state, r->reason), &err));
	return err;
}

static int push_node(struct policy_push *p, const char *node, long long epoch, unsigned long long revision,
		     struct push_outcome *o)
{
	struct strmap *rejected = strmap_new(), *failed = NULL;
	char address[320];
	int err = 0, attempts = 0;

	if (!rejected)
		return -ENOMEM;
	if (agent_directory_address(p->agents, node, address, sizeof(address))) {
		snprintf(o->error, sizeof(o->error), "no running pcmc-agent on node %s", node);
		strmap_free(rejected, free);
		return -ENOENT;
	}
	for (;;) {
		cJSON *body = cJSON_CreateObject(), *sender, *pods;
		struct buffer reply = { 0 };
		char *text;

		strmap_free(failed, free);
		failed = strmap_new();
		if (!body || !failed) {
			cJSON_Delete(body);
			err = -ENOMEM;
			break;
		}
		cJSON_AddStringToObject(body, "node", node);
		sender = cJSON_AddObjectToObject(body, "sender");
		cJSON_AddStringToObject(sender, "identity", p->cfg.identity);
		cJSON_AddNumberToObject(sender, "epoch", (double)epoch);
		cJSON_AddNumberToObject(body, "revision", (double)revision);
		pods = cJSON_AddArrayToObject(body, "pods");
		err = build_pods(p, node, rejected, pods, failed);
		o->pods = cJSON_GetArraySize(pods);
		text = err ? NULL : cJSON_PrintUnformatted(body);
		if (!err && !text)
			err = -ENOMEM;
		if (!err)
			err = http_put(p, address, text, &o->http_status, &reply, o->error, sizeof(o->error));
		free(text);
		if (!err && o->http_status == 400 && attempts++ < PUSH_MAX_REJECTS) {
			/* One pod the agent cannot take (e.g. a syscall name unknown on its architecture) must
			 * not hold back the rest of the node: drop it, report it failed, push again. */
			cJSON *r = cJSON_Parse(reply.data ? reply.data : "");
			int idx = rejected_index(json_str(r, "path"));
			cJSON *pod = idx >= 0 ? cJSON_GetArrayItem(pods, idx) : NULL;

			if (pod) {
				int perr = 0;

				free(strmap_put(rejected, json_str(pod, "uid"), strdup(json_str(r, "error")), &perr));
				log_warn("agent refused a pod of the push", LOG_STR("node", node),
					 LOG_STR("pod_uid", json_str(pod, "uid")), LOG_STR("error", json_str(r, "error")));
				cJSON_Delete(r);
				cJSON_Delete(body);
				free(reply.data);
				continue;
			}
			cJSON_Delete(r);
		}
		if (!err && o->http_status == 200) {
			err = take_results(reply.data ? reply.data : "", o);
			if (!err)
				err = strmap_each(failed, merge_failed, o);
		} else if (!err) {
			cJSON *r = cJSON_Parse(reply.data ? reply.data : "");

			snprintf(o->error, sizeof(o->error), "agent %s answered %ld: %s", address, o->http_status,
				 r ? json_str(r, "error") : "");
			cJSON_Delete(r);
			err = o->http_status == 409 ? PUSH_REFUSED : -EIO;
		}
		cJSON_Delete(body);
		free(reply.data);
		break;
	}
	strmap_free(failed, free);
	strmap_free(rejected, free);
	return err;
}

/* --- workers --- */

static uint64_t results_fingerprint(struct strmap *results);

static int fp_entry(void *ud, const char *key, void *value)
{
	uint64_t *h = ud;
	const struct pod_result *r = value;
	uint64_t e = fnv1a64(FNV1A64_INIT, key, strlen(key));

	e = fnv1a64(e, &r->state, sizeof(r->state));
	e = fnv1a64(e, r->reason, strlen(r->reason));
	*h ^= e; /* order-independent */
	return 0;
}

static uint64_t results_fingerprint(struct strmap *results)
{
	uint64_t h = 0;

	strmap_each(results, fp_entry, &h);
	return h ^ strmap_count(results);
}

/* The node due first, or NULL and *wake_ms when to look again. Caller holds p->lock. */
static struct node_state *pick_locked(struct policy_push *p, uint64_t now, uint64_t *wake_ms)
{
	struct node_state *best = NULL;
	uint64_t best_due = UINT64_MAX;

	*wake_ms = now + 1000;
	for (size_t i = 0; i < p->nnodes; i++) {
		struct node_state *n = p->nodes[i];
		uint64_t due = n->last_attempt_ms + p->cfg.resync_ms;

		if (n->in_flight)
			continue;
		if (n->dirty) {
			/* Leading edge: a node quiet for a batching window is pushed at once; changes
			 * arriving right after a push wait for the window, then go out together. */
			uint64_t d = n->last_attempt_ms + p->cfg.batch_ms;

			if (d < n->dirty_since_ms)
				d = n->dirty_since_ms;

			if (n->next_attempt_ms > d)
				d = n->next_attempt_ms;
			if (d < due)
				due = d;
		}
		if (due <= now && due < best_due) {
			best = n;
			best_due = due;
		} else if (due > now && due < *wake_ms) {
			*wake_ms = due;
		}
	}
	return best;
}

static void timed_wait_locked(struct policy_push *p, uint64_t until_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(until_ms / 1000), .tv_nsec = (long)(until_ms % 1000) * 1000000 };

	pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static void *push_worker(void *arg)
{
	struct policy_push *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct push_outcome o = { 0 };
		struct node_state *n;
		uint64_t now = mono_ms(), wake, started;
		unsigned long long revision;
		long long epoch;
		char node[256];
		int err;

		if (!p->leading) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		n = pick_locked(p, now, &wake);
		if (!n) {
			timed_wait_locked(p, wake);
			continue;
		}
		n->in_flight = true;
		n->dirty = false;
		n->last_attempt_ms = now;
		epoch = p->epoch;
		revision = ++p->revision;
		snprintf(node, sizeof(node), "%s", n->name);
		pthread_mutex_unlock(&p->lock);

		started = mono_ms();
		o.results = strmap_new();
		err = o.results ? push_node(p, node, epoch, revision, &o) : -ENOMEM;

		pthread_mutex_lock(&p->lock);
		n->in_flight = false;
		if (!err) {
			uint64_t fp = results_fingerprint(o.results);
			bool changed = fp != n->results_fp || n->error[0];

			n->backoff_ms = 0;
			n->next_attempt_ms = 0;
			n->error[0] = '\0';
			strmap_free(n->results, free);
			n->results = o.results;
			o.results = NULL;
			n->results_fp = fp;
			p->stats.pushes_ok++;
			pthread_mutex_unlock(&p->lock);
			log_info("policy pushed", LOG_STR("node", node), LOG_INT("epoch", epoch), LOG_INT("revision", revision),
				 LOG_INT("pods", o.pods), LOG_INT("applied", o.applied), LOG_INT("unchanged", o.unchanged),
				 LOG_INT("failed", o.failed),
				 LOG_DOUBLE("duration_ms", (double)(mono_ms() - started)));
			if (changed && p->cfg.on_results)
				p->cfg.on_results(p->cfg.ud);
		} else if (err == PUSH_REFUSED) {
			p->stats.pushes_refused++;
			p->leading = false;
			pthread_mutex_unlock(&p->lock);
			log_warn("policy push refused: a newer leader exists, stepping down", LOG_STR("node", node),
				 LOG_INT("epoch", epoch), LOG_INT("revision", revision), LOG_STR("detail", o.error));
			leader_election_step_down(p->cfg.election, "an agent refused our push (newer fencing epoch)");
		} else {
			bool changed = strcmp(n->error, o.error) != 0;

			n->backoff_ms = n->backoff_ms ? n->backoff_ms * 2 : p->cfg.backoff_base_ms;
			if (n->backoff_ms > p->cfg.backoff_max_ms)
				n->backoff_ms = p->cfg.backoff_max_ms;
			n->next_attempt_ms = mono_ms() + n->backoff_ms;
			mark_dirty_locked(p, n, false);
			unsigned retry_ms = n->backoff_ms;

			snprintf(n->error, sizeof(n->error), "%s", o.error[0] ? o.error : log_strerror(err));
			p->stats.pushes_failed++;
			pthread_mutex_unlock(&p->lock);
			log_warn("policy push failed", LOG_STR("node", node), LOG_INT("epoch", epoch),
				 LOG_INT("revision", revision), LOG_STR("detail", o.error), LOG_INT("retry_ms", retry_ms),
				 LOG_ERRNO(err));
			if (changed && p->cfg.on_results)
				p->cfg.on_results(p->cfg.ud);
		}
		strmap_free(o.results, free);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int policy_push_new(const struct policy_push_config *cfg, struct policy_push **out)
{
	struct policy_push *p = calloc(1, sizeof(*p));
	pthread_condattr_t attr;
	int err;

	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	if (!p->cfg.batch_ms)
		p->cfg.batch_ms = 100;
	if (!p->cfg.resync_ms)
		p->cfg.resync_ms = 30000;
	if (!p->cfg.backoff_base_ms)
		p->cfg.backoff_base_ms = 200;
	if (!p->cfg.backoff_max_ms)
		p->cfg.backoff_max_ms = 10000;
	if (p->cfg.workers <= 0)
		p->cfg.workers = 4;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	err = agent_directory_new(cfg->client,
				  &(struct agent_directory_config){ .namespace = cfg->agent_namespace,
								    .selector = cfg->agent_selector,
								    .default_port = cfg->agent_port,
								    .on_agent_changed = agent_changed, .ud = p },
				  &p->agents);
	if (err) {
		policy_push_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int policy_push_start(struct policy_push *p)
{
	int err = agent_directory_start(p->agents);

	if (err)
		return err;
	p->threads = calloc((size_t)p->cfg.workers, sizeof(pthread_t));
	if (!p->threads)
		return -ENOMEM;
	for (int i = 0; i < p->cfg.workers; i++) {
		int err = pthread_create(&p->threads[i], NULL, push_worker, p);

		if (err)
			return -err;
		p->nthreads++;
	}
	return 0;
}

void policy_push_stop(struct policy_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->leading = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
	agent_directory_stop(p->agents);
}

void policy_push_free(struct policy_push *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nnodes; i++) {
		strmap_free(p->nodes[i]->results, free);
		free(p->nodes[i]->name);
		free(p->nodes[i]);
	}
	free(p->nodes);
	free(p->threads);
	agent_directory_free(p->agents);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

enum pod_enforcement policy_push_pod_result(struct policy_push *p, const char *node, const char *uid, char *reason,
					    size_t len)
{
	enum pod_enforcement st = POD_PENDING;

	snprintf(reason, len, "not yet pushed to the agent of node %s", node);
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nnodes; i++) {
		struct node_state *n = p->nodes[i];
		const struct pod_result *r;

		if (strcmp(n->name, node) != 0)
			continue;
		r = strmap_get(n->results, uid);
		if (r) {
			st = r->state;
			snprintf(reason, len, "%s", r->reason);
		} else if (n->error[0]) {
			snprintf(reason, len, "%s", n->error);
		}
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return st;
}

void policy_push_stats(struct policy_push *p, struct policy_push_stats *s)
{
	pthread_mutex_lock(&p->lock);
	*s = p->stats;
	pthread_mutex_unlock(&p->lock);
}
