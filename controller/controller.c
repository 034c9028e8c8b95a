/* Event handlers (which CR keys and which node keys an object change affects: handlers compute
 * keys and enqueue, nothing else), the reconcile workers gated on leadership, and start/stop
 * ordering: caches synced before any write, Lease released first. */
#include "controller/controller.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "controller/cache.h"
#include "controller/leader_election.h"
#include "controller/node_push.h"
#include "controller/nodes.h"
#include "controller/pod_policy_cache.h"
#include "controller/reconcile.h"
#include "controller/reflector.h"
#include "controller/workqueue.h"

#define RETRY_BASE_MS 500
#define RETRY_MAX_MS  60000

struct controller {
	struct kube_client *client;
	struct controller_options opts;
	struct controller_metrics *metrics;
	struct object_cache *pods, *pcmcs, *configmaps, *nodes;
	struct reflector *pod_reflector, *pcmc_reflector, *configmap_reflector, *node_reflector;
	struct workqueue *queue;       /* CR keys "namespace/name" */
	struct leader_election *election;
	struct reconciler reconciler;
	struct pod_policy_cache *policies;
	struct node_push *push;        /* NULL unless options.agent_push */
	pthread_t *workers;
	int nworkers;
	pthread_mutex_t start_lock;    /* stop_requested, started */
	bool stop_requested, started;
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

static int key_list_add(struct key_list *l, const char *namespace, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **n = realloc(l->keys, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->keys = n;
		l->cap = cap;
	}
	if (asprintf(&l->keys[l->n], "%s%s%s", namespace, name ? "/" : "", name ? name : "") < 0)
		return -ENOMEM;
	l->n++;
	return 0;
}

static int collect_key(void *ud, const void *obj)
{
	const struct object_meta *m = object_meta_of(obj);

	return key_list_add(ud, m->namespace, m->name);
}

static int collect_configmap_owner(void *ud, const void *obj)
{
	const struct owned_configmap *cm = obj;

	return key_list_add(ud, cm->meta.namespace, cm->pcmc_name);
}

/* Adds every key to the CR queue (or marks every node) and frees the list. */
static void enqueue_list(struct controller *c, struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		workqueue_add(c->queue, l->keys[i]);
		free(l->keys[i]);
	}
	free(l->keys);
}

static void mark_list(struct controller *c, struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		node_push_mark(c->push, l->keys[i]);
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

struct selecting {
	const struct pod *a, *b; /* the pod before and after (either may be NULL) */
	struct key_list keys;
};

static int collect_selecting_cr(void *ud, const void *obj)
{
	struct selecting *s = ud;
	const struct pcmc *cr = obj;

	if (!cr->selector || cr->selector_error[0])
		return 0;
	if ((s->a && label_selector_matches(cr->selector, &s->a->labels)) ||
	    (s->b && label_selector_matches(cr->selector, &s->b->labels)))
		return collect_key(&s->keys, cr);
	return 0;
}

/* The CRs that select the pod before or after a change. */
static void enqueue_selecting_crs(struct controller *c, const struct pod *before, const struct pod *after)
{
	const struct pod *p = after ? after : before;
	struct selecting s = { .a = before, .b = after };

	object_cache_read_lock(c->pcmcs);
	object_cache_each_locked(c->pcmcs, p->meta.namespace, collect_selecting_cr, &s);
	object_cache_unlock(c->pcmcs);
	enqueue_list(c, &s.keys);
}

/* A pod's enforcement changed (a push answer): the CRs selecting it now get a status reconcile.
 * Lock order pcmcs, then pods, as the reconciler. */
static void on_pod_result_changed(void *ud, const char *namespace, const char *name)
{
	struct controller *c = ud;
	struct selecting s = { 0 };

	object_cache_read_lock(c->pcmcs);
	object_cache_read_lock(c->pods);
	s.b = object_cache_get_locked(c->pods, namespace, name);
	if (s.b)
		object_cache_each_locked(c->pcmcs, namespace, collect_selecting_cr, &s);
	object_cache_unlock(c->pods);
	object_cache_unlock(c->pcmcs);
	enqueue_list(c, &s.keys);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A pod's change reaches its CRs (ConfigMaps, status) and, when it can change what its node
 * enforces (bound node, phase, labels, terminating), the node's push. */
static void on_pod_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct pod *po = old, *pn = new;
	bool same = ev == OBJECT_UPDATED && pod_same_for_configmaps(po, pn);

	if (ev == OBJECT_DELETED)
		pod_policy_cache_forget_pod(c->policies, po->meta.uid);
	if (c->push && !(same && po->terminating == pn->terminating)) {
		if (po)
			node_push_mark(c->push, po->node_name);
		if (pn && !(po && same_str(po->node_name, pn->node_name)))
			node_push_mark(c->push, pn->node_name);
	}
	if (!same)
		enqueue_selecting_crs(c, po, pn);
}

struct pods_of {
	const struct pcmc *a, *b; /* the CR before and after */
	struct key_list nodes;
};

static int collect_selected_node(void *ud, const void *obj)
{
	struct pods_of *s = ud;
	const struct pod *pod = obj;
	const struct pcmc *crs[2] = { s->a, s->b };

	if (!pod->node_name || !*pod->node_name)
		return 0;
	for (int i = 0; i < 2; i++)
		if (crs[i] && crs[i]->selector && !crs[i]->selector_error[0] &&
		    label_selector_matches(crs[i]->selector, &pod->labels))
			return key_list_add(&s->nodes, pod->node_name, NULL);
	return 0;
}

/* Status-only updates (our own writes) keep the generation: nothing to do for them. A spec
 * change reaches the CR, the other CRs of its namespace (a Conflict may come or go) and the
 * nodes of the pods it selected before or selects now. */
static void on_pcmc_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct pcmc *o = old, *n = new;
	const struct pcmc *cr = n ? n : o;

	if (ev == OBJECT_UPDATED && o->generation == n->generation && o->meta.uid && n->meta.uid &&
	    strcmp(o->meta.uid, n->meta.uid) == 0)
		return;
	pod_policy_cache_namespace_changed(c->policies, cr->meta.namespace);
	enqueue(c, cr->meta.namespace, cr->meta.name);
	/* The other CRs of the namespace: their pods' effective policy (ConfigMap keys) and Conflict. */
	enqueue_crs(c, cr->meta.namespace);
	if (c->push) {
		struct pods_of s = { .a = o, .b = n };

		object_cache_read_lock(c->pods);
		object_cache_each_locked(c->pods, cr->meta.namespace, collect_selected_node, &s);
		object_cache_unlock(c->pods);
		mark_list(c, &s.nodes);
	}
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

static int enqueue_pod_crs(void *ud, const void *obj)
{
	enqueue_selecting_crs(ud, NULL, obj);
	return 0;
}

/* A node's architecture decides which syscall names its agent knows: its pods' policies and the
 * status of the CRs selecting them are recomputed. */
static void on_node_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct controller *c = ud;
	const struct node *o = old, *n = new;
	const struct node *node = n ? n : o;

	if (ev == OBJECT_UPDATED && same_str(o->arch, n->arch))
		return;
	pod_policy_cache_node_changed(c->policies, node->meta.name);
	node_push_mark(c->push, node->meta.name);
	object_cache_read_lock(c->pods);
	object_cache_each_indexed_locked(c->pods, node->meta.name, enqueue_pod_crs, c);
	object_cache_unlock(c->pods);
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
	node_push_started_leading(c->push, leader_election_transitions(c->election));
}

static void on_stopped_leading(void *ud)
{
	struct controller *c = ud;

	node_push_stopped_leading(c->push);
}

/* Waits for leadership (an event from the election, not a poll), then reconciles keys. */
static void *worker_run(void *arg)
{
	struct controller *c = arg;

	while (leader_election_wait(c->election)) {
		char *key = workqueue_get(c->queue);
		int err;

		if (!key)
			break;
		err = reconcile(&c->reconciler, key);
		if (err == 0)
			workqueue_forget(c->queue, key);
		else if (err == RECONCILE_ENOTLEADER)
			workqueue_add(c->queue, key); /* again once we lead: leader_election_wait blocks until then */
		else
			workqueue_add_rate_limited(c->queue, key, NULL);
		workqueue_done(c->queue, key);
		free(key);
	}
	return NULL;
}

static const char *pod_node(const void *obj)
{
	return ((const struct pod *)obj)->node_name;
}

int controller_new(struct kube_client *client, const struct controller_options *o, struct controller_metrics *metrics,
		   struct controller **out)
{
	struct controller *c = calloc(1, sizeof(*c));
	struct leader_election_config le;
	char why[256];
	int err;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->start_lock, NULL);
	c->client = client;
	c->opts = *o;
	c->metrics = metrics;
	c->pods = object_cache_new(&pod_kind);
	c->pcmcs = object_cache_new(&pcmc_kind);
	c->configmaps = object_cache_new(&owned_configmap_kind);
	c->nodes = object_cache_new(&node_kind);
	c->queue = workqueue_new(RETRY_BASE_MS, RETRY_MAX_MS);
	c->policies = pod_policy_cache_new(c->nodes);
	if (!c->pods || !c->pcmcs || !c->configmaps || !c->nodes || !c->queue || !c->policies ||
	    object_cache_set_index(c->pods, pod_node)) {
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
	if (!err)
		err = reflector_new(client, &(struct reflector_config){ .resource_path = "/api/v1/nodes",
									 .cache = c->nodes, .on_event = on_node_event,
									 .ud = c },
				    &c->node_reflector);
	if (err)
		goto fail;
	err = leader_election_config_from_env(&le, o->default_namespace, why, sizeof(why));
	if (err) {
		log_error("invalid leader election settings", LOG_STR("error", why));
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
		unsigned verify_ms = le.lease_duration_ms / 2;

		if (o->push_resync_ms && o->push_resync_ms < verify_ms)
			verify_ms = o->push_resync_ms;
		err = node_push_new(&(struct node_push_config){
					    .client = client, .agent_namespace = o->agent_namespace,
					    .agent_selector = o->agent_selector, .agent_port = o->agent_port,
					    .kube_config = o->kube_config, .pods = c->pods, .pcmcs = c->pcmcs,
					    .policies = c->policies, .election = c->election, .identity = o->identity,
					    .verify_ms = verify_ms, .workers = o->push_workers,
					    .pod_result_changed = on_pod_result_changed, .ud = c,
					    .metrics = metrics },
				    &c->push);
		if (err)
			goto fail;
	}
	c->reconciler = (struct reconciler){ .client = client, .pods = c->pods, .pcmcs = c->pcmcs,
					     .configmaps = c->configmaps, .nodes = c->nodes, .election = c->election,
					     .metrics = metrics, .identity = o->identity, .push = c->push,
					     .policies = c->policies };
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
	       reflector_synced(c->configmap_reflector) && reflector_synced(c->node_reflector) &&
	       (!c->push || node_push_synced(c->push));
}

/* Each reflector's wait ends when its first list is in or when controller_request_stop stopped it. */
static int wait_synced(struct controller *c)
{
	int err = reflector_wait_synced(c->pcmc_reflector);

	if (!err)
		err = reflector_wait_synced(c->configmap_reflector);
	if (!err)
		err = reflector_wait_synced(c->node_reflector);
	if (!err)
		err = reflector_wait_synced(c->pod_reflector);
	if (!err && c->push)
		err = node_push_wait_synced(c->push);
	return err;
}

void controller_request_stop(struct controller *c)
{
	pthread_mutex_lock(&c->start_lock);
	c->stop_requested = true;
	if (!c->started) {
		reflector_signal_stop(c->pod_reflector);
		reflector_signal_stop(c->pcmc_reflector);
		reflector_signal_stop(c->configmap_reflector);
		reflector_signal_stop(c->node_reflector);
		node_push_cancel_sync(c->push);
	}
	pthread_mutex_unlock(&c->start_lock);
}

int controller_start(struct controller *c)
{
	int err;

	err = reflector_start(c->pcmc_reflector);
	if (!err)
		err = reflector_start(c->configmap_reflector);
	if (!err)
		err = reflector_start(c->node_reflector);
	if (!err)
		err = reflector_start(c->pod_reflector);
	if (!err && c->push)
		err = node_push_start(c->push);
	if (err)
		return err;
	/* Never write from a partial view: a pod missing from the cache would look deleted. */
	err = wait_synced(c);
	pthread_mutex_lock(&c->start_lock);
	if (!err && c->stop_requested)
		err = -ECANCELED;
	c->started = !err;
	pthread_mutex_unlock(&c->start_lock);
	if (err)
		return err;
	log_info("caches synced", LOG_INT("pods", object_cache_count(c->pods)),
		 LOG_INT("podconfigmapconfigs", object_cache_count(c->pcmcs)),
		 LOG_INT("configmaps", object_cache_count(c->configmaps)), LOG_INT("nodes", object_cache_count(c->nodes)));
	c->workers = calloc((size_t)c->opts.workers, sizeof(pthread_t));
	if (!c->workers)
		return -ENOMEM;
	for (int i = 0; i < c->opts.workers; i++) {
		err = pthread_create(&c->workers[i], NULL, worker_run, c);
		if (err)
			return -err;
		c->nworkers++;
	}
	return leader_election_start(c->election);
}

void controller_gauges(struct controller *c, struct controller_gauges *g)
{
	memset(g, 0, sizeof(*g));
	g->queue_depth = workqueue_len(c->queue);
	g->active_configmaps = object_cache_count(c->configmaps);
	g->cached_pods = object_cache_count(c->pods);
	g->cached_pcmcs = object_cache_count(c->pcmcs);
	g->cached_configmaps = g->active_configmaps;
	g->cached_nodes = object_cache_count(c->nodes);
	g->leader = leader_election_is_leader(c->election);
	g->lease_transitions = leader_election_transitions(c->election);
	g->fencing_epoch = -1;
	if (c->push) {
		struct node_push_stats s;

		node_push_stats(c->push, &s);
		g->pushes_ok = s.pushes_ok;
		g->pushes_failed = s.pushes_failed;
		g->pushes_refused = s.pushes_refused;
		g->push_bytes = s.push_bytes;
		g->agent_reads = s.reads;
		g->foreign_restored = s.foreign_restored;
		g->epoch_raises = s.epoch_raises;
		g->fencing_epoch = s.epoch;
		g->push_queue_depth = s.queue_depth;
		g->nodes_pushed = s.nodes_pushed;
	}
}

void controller_stop(struct controller *c)
{
	leader_election_stop(c->election, true);
	node_push_stop(c->push);
	workqueue_shutdown(c->queue);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	c->nworkers = 0;
	reflector_signal_stop(c->pod_reflector);
	reflector_signal_stop(c->pcmc_reflector);
	reflector_signal_stop(c->configmap_reflector);
	reflector_signal_stop(c->node_reflector);
	reflector_stop(c->pod_reflector);
	reflector_stop(c->pcmc_reflector);
	reflector_stop(c->configmap_reflector);
	reflector_stop(c->node_reflector);
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	reflector_free(c->pod_reflector);
	reflector_free(c->pcmc_reflector);
	reflector_free(c->configmap_reflector);
	reflector_free(c->node_reflector);
	node_push_free(c->push);
	leader_election_free(c->election);
	workqueue_free(c->queue);
	reconciler_clear(&c->reconciler);
	object_cache_free(c->pods);
	object_cache_free(c->pcmcs);
	object_cache_free(c->configmaps);
	object_cache_free(c->nodes);
	pod_policy_cache_free(c->policies);
	free(c->workers);
	pthread_mutex_destroy(&c->start_lock);
	free(c);
}
