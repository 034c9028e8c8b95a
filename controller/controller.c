/* Event handlers (which CR keys an object change affects), the worker loop gated on
 * leadership, and start/stop ordering: caches synced before any write, Lease released first. */
#include "controller/controller.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "controller/cache.h"
#include "controller/leader_election.h"
#include "controller/policy_push.h"
#include "controller/reconcile.h"
#include "controller/reflector.h"
#include "controller/workqueue.h"

#define RETRY_BASE_MS 500
#define RETRY_MAX_MS  60000

struct controller {
	struct kube_client *client;
	struct controller_options opts;
	struct controller_metrics *metrics;
	struct object_cache *pods, *pcmcs, *configmaps;
	struct reflector *pod_reflector, *pcmc_reflector, *configmap_reflector;
	struct workqueue *queue;
	struct leader_election *election;
	struct reconciler reconciler;
	struct policy_push *push;      /* NULL unless options.agent_push */
	pthread_t *workers;
	int nworkers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool leading, stopping;
};

static void enqueue(struct controller *c, const char *namespace, const char *name)
{
	char key[600];

	snprintf(key, sizeof(key), "%s/%s", namespace, name);
	workqueue_add(c->queue, key);
}

struct key_list {
	char **keys;
	size_t n, cap;
};

static int collect_key(void *ud, const void *obj)
{
	struct key_list *l = ud;
	const struct object_meta *m = object_meta_of(obj);

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **n = realloc(l->keys, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->keys = n;
		l->cap = cap;
	}
	if (asprintf(&l->keys[l->n], "%s/%s", m->namespace, m->name) >= 0)
		l->n++;
	return 0;
}

static int collect_configmap_owner(void *ud, const void *obj)
{
	struct key_list *l = ud;
	const struct owned_configmap *cm = obj;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **n = realloc(l->keys, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->keys = n;
		l->cap = cap;
	}
	if (asprintf(&l->keys[l->n], "%s/%s", cm->meta.namespace, cm->pcmc_name) >= 0)
		l->n++;
	return 0;
}

static void enqueue_list(struct controller *c, struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		workqueue_add(c->queue, l->keys[i]);
		free(l->keys[i]);
	}
	free(l->keys);
}

/* Every CR of the namespace (NULL: of every namespace) gets a reconcile. */
static void enqueue_crs(struct controller *c, const char *namespace)
{
	struct key_list l = { 0 };

	object_cache_read_lock(c->pcmcs);
	object_cache_each_locked(c->pcmcs, namespace, collect_key, &l);
	object_cache_unlock(c->pcmcs);
	enqueue_list(c, &l);
}

/* Every CR of the namespace may select the pod (or did, before a relabel). */
static void on_pod_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct pod *p = new ? new : old;
	const struct pod *po = old, *pn = new;

	if (c->push && !(ev == OBJECT_UPDATED && pod_same_for_configmaps(po, pn) && po->terminating == pn->terminating)) {
		if (po)
			policy_push_node_dirty(c->push, po->node_name);
		if (pn)
			policy_push_node_dirty(c->push, pn->node_name);
	}
	if (ev == OBJECT_UPDATED && pod_same_for_configmaps(old, new))
		return;
	enqueue_crs(c, p->meta.namespace);
}

/* Status-only updates (our own writes) keep the generation: nothing to do for them. */
static void on_pcmc_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct pcmc *o = old, *n = new;
	const struct pcmc *cr = n ? n : o;

	if (ev == OBJECT_UPDATED && o->generation == n->generation && o->meta.uid && n->meta.uid &&
	    strcmp(o->meta.uid, n->meta.uid) == 0)
		return;
	enqueue(c, cr->meta.namespace, cr->meta.name);
	/* The other CRs of the namespace: their pods' effective policy (ConfigMap keys) and Conflict. */
	enqueue_crs(c, cr->meta.namespace);
	if (c->push)
		policy_push_all_dirty(c->push);
}

static void on_configmap_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct owned_configmap *o = old, *n = new;
	const struct owned_configmap *cm = n ? n : o;

	if (ev == OBJECT_UPDATED && o->fingerprint == n->fingerprint)
		return;
	enqueue(c, cm->meta.namespace, cm->pcmc_name);
}

/* A new leader has not reconciled anything yet: every CR, and every CR named by a ConfigMap
 * (CRs deleted while no controller ran), gets a reconcile. */
static void enqueue_everything(struct controller *c)
{
	struct key_list l = { 0 };

	object_cache_read_lock(c->pcmcs);
	object_cache_each_locked(c->pcmcs, NULL, collect_key, &l);
	object_cache_unlock(c->pcmcs);
	object_cache_read_lock(c->configmaps);
	object_cache_each_locked(c->configmaps, NULL, collect_configmap_owner, &l);
	object_cache_unlock(c->configmaps);
	enqueue_list(c, &l);
}

static void on_started_leading(void *ud)
{
	struct controller *c = ud;

	enqueue_everything(c);
	policy_push_started_leading(c->push, leader_election_transitions(c->election));
	pthread_mutex_lock(&c->lock);
	c->leading = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void on_stopped_leading(void *ud)
{
	struct controller *c = ud;

	policy_push_stopped_leading(c->push);
	pthread_mutex_lock(&c->lock);
	c->leading = false;
	pthread_mutex_unlock(&c->lock);
}

/* The agents' per-pod results changed: statuses (attachedPods, nodes, Ready) need a reconcile. */
static void on_push_results(void *ud)
{
	enqueue_crs(ud, NULL);
}

static void *worker_run(void *arg)
{
	struct controller *c = arg;

	for (;;) {
		char *key;
		int err;

		pthread_mutex_lock(&c->lock);
		while (!c->leading && !c->stopping)
			pthread_cond_wait(&c->cond, &c->lock);
		pthread_mutex_unlock(&c->lock);
		key = workqueue_get(c->queue);
		if (!key)
			break;
		err = reconcile(&c->reconciler, key);
		if (err == 0) {
			workqueue_forget(c->queue, key);
		} else if (err == RECONCILE_ENOTLEADER) {
			workqueue_add(c->queue, key); /* for when we lead again */
			usleep(100000);               /* the election thread notices within a retry period */
		} else {
			workqueue_add_rate_limited(c->queue, key);
		}
		workqueue_done(c->queue, key);
		free(key);
	}
	return NULL;
}

int controller_new(struct kube_client *client, const struct controller_options *o, struct controller_metrics *metrics,
		   struct controller **out)
{
	struct controller *c = calloc(1, sizeof(*c));
	struct leader_election_config le;
	int err;

	if (!c)
		return -ENOMEM;
	c->client = client;
	c->opts = *o;
	c->metrics = metrics;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->pods = object_cache_new(&pod_kind);
	c->pcmcs = object_cache_new(&pcmc_kind);
	c->configmaps = object_cache_new(&owned_configmap_kind);
	c->queue = workqueue_new(RETRY_BASE_MS, RETRY_MAX_MS);
	if (!c->pods || !c->pcmcs || !c->configmaps || !c->queue) {
		err = -ENOMEM;
		goto fail;
	}
	err = reflector_new(client, &(struct reflector_config){ .resource_path = "/api/v1/pods", .cache = c->pods,
								 .on_event = on_pod_event, .ud = c },
			    &c->pod_reflector);
	if (!err)
		err = reflector_new(client,
				    &(struct reflector_config){ .resource_path = "/apis/" PCMC_GROUP "/" PCMC_VERSION
									      "/" PCMC_PLURAL,
								.cache = c->pcmcs, .on_event = on_pcmc_event, .ud = c },
				    &c->pcmc_reflector);
	if (!err)
		err = reflector_new(client,
				    &(struct reflector_config){ .resource_path = "/api/v1/configmaps",
								.label_selector = LABEL_GENERATED_BY,
								.cache = c->configmaps, .on_event = on_configmap_event,
								.ud = c },
				    &c->configmap_reflector);
	if (err)
		goto fail;
	err = leader_election_config_from_env(&le, o->default_namespace);
	if (err) {
		log_error("invalid LEADER_ELECTION_* settings",
			  LOG_STR("rule", "LEASE_DURATION > RENEW_DEADLINE > 1.2 * RETRY_PERIOD, durations like 15s"));
		goto fail;
	}
	le.identity = o->identity;
	le.on_started_leading = on_started_leading;
	le.on_stopped_leading = on_stopped_leading;
	le.ud = c;
	err = leader_election_new(client, &le, &c->election);
	if (err)
		goto fail;
	if (o->agent_push) {
		err = policy_push_new(&(struct policy_push_config){
					      .client = client, .agent_namespace = o->agent_namespace,
					      .agent_selector = o->agent_selector, .agent_port = o->agent_port,
					      .kube_config = o->kube_config, .pods = c->pods, .pcmcs = c->pcmcs,
					      .election = c->election, .identity = o->identity,
					      .resync_ms = o->push_resync_ms, .on_results = on_push_results, .ud = c },
				      &c->push);
		if (err)
			goto fail;
	}
	c->reconciler = (struct reconciler){ .client = client, .pods = c->pods, .pcmcs = c->pcmcs,
					     .configmaps = c->configmaps, .election = c->election,
					     .metrics = metrics, .identity = o->identity, .push = c->push };
	err = reconciler_init(&c->reconciler);
	if (err)
		goto fail;
	*out = c;
	return 0;
fail:
	controller_free(c);
	return err;
}

bool controller_synced(struct controller *c)
{
	return reflector_synced(c->pod_reflector) && reflector_synced(c->pcmc_reflector) &&
	       reflector_synced(c->configmap_reflector);
}

int controller_start(struct controller *c, const volatile int *stop)
{
	int err;

	err = reflector_start(c->pcmc_reflector);
	if (!err)
		err = reflector_start(c->configmap_reflector);
	if (!err)
		err = reflector_start(c->pod_reflector);
	if (err)
		return err;
	/* Never write from a partial view: a pod missing from the cache would look deleted. */
	while (!controller_synced(c)) {
		if (stop && *stop)
			return -ECANCELED;
		usleep(20000);
	}
	log_info("caches synced", LOG_INT("pods", object_cache_count(c->pods)),
		 LOG_INT("podconfigmapconfigs", object_cache_count(c->pcmcs)),
		 LOG_INT("configmaps", object_cache_count(c->configmaps)));
	c->workers = calloc((size_t)c->opts.workers, sizeof(pthread_t));
	if (!c->workers)
		return -ENOMEM;
	for (int i = 0; i < c->opts.workers; i++) {
		err = pthread_create(&c->workers[i], NULL, worker_run, c);
		if (err)
			return -err;
		c->nworkers++;
	}
	if (c->push) {
		err = policy_push_start(c->push);
		if (err)
			return err;
	}
	return leader_election_start(c->election);
}

void controller_gauges(struct controller *c, struct controller_gauges *g)
{
	g->queue_depth = workqueue_len(c->queue);
	g->active_configmaps = object_cache_count(c->configmaps);
	g->leader = leader_election_is_leader(c->election);
	g->lease_transitions = leader_election_transitions(c->election);
	g->pushes_ok = g->pushes_failed = g->pushes_refused = 0;
	if (c->push) {
		struct policy_push_stats s;

		policy_push_stats(c->push, &s);
		g->pushes_ok = s.pushes_ok;
		g->pushes_failed = s.pushes_failed;
		g->pushes_refused = s.pushes_refused;
	}
}

void controller_stop(struct controller *c)
{
	leader_election_stop(c->election, true);
	pthread_mutex_lock(&c->lock);
	c->leading = false;
	c->stopping = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	policy_push_stop(c->push);
	workqueue_shutdown(c->queue);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	c->nworkers = 0;
	reflector_signal_stop(c->pod_reflector);
	reflector_signal_stop(c->pcmc_reflector);
	reflector_signal_stop(c->configmap_reflector);
	reflector_stop(c->pod_reflector);
	reflector_stop(c->pcmc_reflector);
	reflector_stop(c->configmap_reflector);
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	reflector_free(c->pod_reflector);
	reflector_free(c->pcmc_reflector);
	reflector_free(c->configmap_reflector);
	policy_push_free(c->push);
	leader_election_free(c->election);
	workqueue_free(c->queue);
	reconciler_clear(&c->reconciler);
	object_cache_free(c->pods);
	object_cache_free(c->pcmcs);
	object_cache_free(c->configmaps);
	free(c->workers);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
