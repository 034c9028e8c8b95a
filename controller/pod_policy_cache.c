/* pod uid -> record {hash of the pod's resourceVersion, namespace and node generations, result};
 * results interned by their content (policy JSON, CR names, error) with reference counts. One
 * mutex; the merge runs under it (it is short and needs the caller's cache read locks anyway). */
#include "controller/pod_policy_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_writer.h"
#include "common/log.h"
#include "common/policy_codec.h"
#include "controller/nodes.h"
#include "controller/strmap.h"

struct pod_record {
	uint64_t rv_hash;
	uint64_t namespace_gen, node_gen;
	struct pod_policy_result *result;
};

struct pod_policy_cache {
	struct object_cache *nodes;
	pthread_mutex_t lock;
	struct strmap *pods;            /* uid -> struct pod_record */
	struct strmap *interned;        /* intern key -> struct pod_policy_result */
	struct strmap *namespace_gen;   /* namespace -> (uintptr_t) generation */
	struct strmap *node_gen;        /* node -> (uintptr_t) generation */
	uint64_t next_gen;
	unsigned long long computed, hits;
};

struct pod_policy_cache *pod_policy_cache_new(struct object_cache *nodes)
{
	struct pod_policy_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nodes = nodes;
	pthread_mutex_init(&c->lock, NULL);
	c->pods = strmap_new();
	c->interned = strmap_new();
	c->namespace_gen = strmap_new();
	c->node_gen = strmap_new();
	if (!c->pods || !c->interned || !c->namespace_gen || !c->node_gen) {
		pod_policy_cache_free(c);
		return NULL;
	}
	return c;
}

static void result_free(struct pod_policy_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->pp.ncrs; i++)
		free((char *)r->pp.crs[i]);
	for (size_t i = 0; i < r->pp.nleft_out; i++)
		free((char *)r->pp.left_out[i].cr);
	pod_policy_clear(&r->pp);
	free(r->intern_key);
	free(r);
}

static void result_free_void(void *r)
{
	result_free(r);
}

void pod_policy_cache_free(struct pod_policy_cache *c)
{
	if (!c)
		return;
	strmap_free(c->pods, free);
	strmap_free(c->interned, result_free_void);
	strmap_free(c->namespace_gen, NULL);
	strmap_free(c->node_gen, NULL);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Caller holds c->lock. */
static void unref_locked(struct pod_policy_cache *c, struct pod_policy_result *r)
{
	if (!r || --r->refs)
		return;
	strmap_remove(c->interned, r->intern_key);
	result_free(r);
}

void pod_policy_result_put(struct pod_policy_cache *c, const struct pod_policy_result *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&c->lock);
	unref_locked(c, (struct pod_policy_result *)r);
	pthread_mutex_unlock(&c->lock);
}

static uint64_t gen_of(const struct strmap *m, const char *key)
{
	return key ? (uint64_t)(uintptr_t)strmap_get(m, key) : 0;
}

static int drop_record(void *ud, const char *key, void *value)
{
	struct pod_record *rec = value;

	(void)ud, (void)key;
	rec->rv_hash = 0;
	rec->namespace_gen = rec->node_gen = UINT64_MAX; /* never matches again */
	return 0;
}

static void bump(struct pod_policy_cache *c, struct strmap *m, const char *key)
{
	int err = 0;

	if (!key)
		return;
	pthread_mutex_lock(&c->lock);
	strmap_put(m, key, (void *)(uintptr_t)++c->next_gen, &err);
	if (err) /* the change cannot be recorded: invalidate every record rather than serve a stale one */
		strmap_each(c->pods, drop_record, NULL);
	pthread_mutex_unlock(&c->lock);
}

void pod_policy_cache_namespace_changed(struct pod_policy_cache *c, const char *namespace)
{
	bump(c, c->namespace_gen, namespace);
}

void pod_policy_cache_node_changed(struct pod_policy_cache *c, const char *node)
{
	bump(c, c->node_gen, node);
}

void pod_policy_cache_forget_pod(struct pod_policy_cache *c, const char *uid)
{
	struct pod_record *rec;

	if (!uid)
		return;
	pthread_mutex_lock(&c->lock);
	rec = strmap_remove(c->pods, uid);
	if (rec)
		unref_locked(c, rec->result);
	pthread_mutex_unlock(&c->lock);
	free(rec);
}

/* The content that makes two results interchangeable: the outcome, the CRs and the policy's
 * canonical encoding (common/policy_codec.h). NULL: no memory or an unencodable policy. */
static char *intern_key_of(struct pod_policy_result *r)
{
	struct json_writer w = { 0 };
	char *policy = NULL, *key = NULL, *p;
	size_t len = 0, need;

	ebpf_config_write(&w, &r->pp.policy.config, 0);
	if (jw_finish(&w, &policy, &len))
		return NULL;
	r->policy_hash = fnv1a64(FNV1A64_INIT, policy, len);
	need = len + strlen(r->pp.why) + 64;
	for (size_t i = 0; i < r->pp.ncrs; i++)
		need += strlen(r->pp.crs[i]) + 1;
	for (size_t i = 0; i < r->pp.nleft_out; i++)
		need += strlen(r->pp.left_out[i].cr) + strlen(r->pp.left_out[i].why) + 2;
	key = malloc(need);
	if (key) {
		p = key + sprintf(key, "%d|%d|%u|%s|", r->err, r->wanted, r->pp.policy.conflicts, r->pp.why);
		for (size_t i = 0; i < r->pp.ncrs; i++)
			p += sprintf(p, "%s,", r->pp.crs[i]);
		for (size_t i = 0; i < r->pp.nleft_out; i++)
			p += sprintf(p, "|%s:%s", r->pp.left_out[i].cr, r->pp.left_out[i].why);
		sprintf(p, "|%s", policy);
	}
	free(policy);
	return key;
}

/* Copies a name that points into the CR cache; NULL: no memory. */
static const char *own(const char **name)
{
	*name = strdup(*name);
	return *name;
}

/* The kubernetes.io/arch of the pod's node into out ("" when the Node has no such label: then
 * only names every architecture knows pass). False when the Node is not known: the merge does not
 * check names then, the node's agent checks them against its own architecture. */
static bool node_arch(struct pod_policy_cache *c, const struct pod *pod, char *out, size_t len)
{
	const char *arch;

	object_cache_read_lock(c->nodes);
	arch = node_arch_locked(c->nodes, pod->node_name);
	if (arch)
		snprintf(out, len, "%s", arch);
	object_cache_unlock(c->nodes);
	return arch != NULL;
}

/* A fresh result for pod, not yet interned. Caller holds the cache read locks. */
static struct pod_policy_result *compute(struct pod_policy_cache *c, struct object_cache *pcmcs, const struct pod *pod)
{
	struct pod_policy_result *r = calloc(1, sizeof(*r));
	char arch[64];
	bool known;

	if (!r)
		return NULL;
	known = c->nodes && node_arch(c, pod, arch, sizeof(arch));
	r->err = pod_policy_compute_locked(pcmcs, pod, known ? arch : NULL, &r->pp);
	if (r->err == -ENOMEM) {
		pod_policy_clear(&r->pp);
		free(r);
		return NULL;
	}
	/* The CR names point into the CR cache: own copies, valid as long as the result. */
	for (size_t i = 0; i < r->pp.ncrs; i++)
		if (!own(&r->pp.crs[i])) {
			r->pp.ncrs = i;
			r->pp.nleft_out = 0;
			result_free(r);
			return NULL;
		}
	for (size_t i = 0; i < r->pp.nleft_out; i++)
		if (!own(&r->pp.left_out[i].cr)) {
			r->pp.nleft_out = i;
			result_free(r);
			return NULL;
		}
	r->wanted = !r->err && effective_policy_wanted(&r->pp.policy);
	r->intern_key = intern_key_of(r);
	if (!r->intern_key) {
		result_free(r);
		return NULL;
	}
	return r;
}

const struct pod_policy_result *pod_policy_cache_get_locked(struct pod_policy_cache *c, struct object_cache *pcmcs,
							     const struct pod *pod)
{
	const char *rv = pod->meta.resource_version ? pod->meta.resource_version : "";
	uint64_t rv_hash = fnv1a64(FNV1A64_INIT, rv, strlen(rv)), ns_gen, node_gen;
	struct pod_policy_result *r, *same;
	struct pod_record *rec;
	int err = 0;

	if (!pod->meta.uid)
		return NULL;
	pthread_mutex_lock(&c->lock);
	ns_gen = gen_of(c->namespace_gen, pod->meta.namespace);
	node_gen = gen_of(c->node_gen, pod->node_name);
	rec = strmap_get(c->pods, pod->meta.uid);
	if (rec && rec->rv_hash == rv_hash && rec->namespace_gen == ns_gen && rec->node_gen == node_gen) {
		r = rec->result;
		r->refs++;
		c->hits++;
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	r = compute(c, pcmcs, pod);
	if (!r)
		goto fail;
	c->computed++;
	same = strmap_get(c->interned, r->intern_key);
	if (same) {
		result_free(r);
		r = same;
	} else {
		strmap_put(c->interned, r->intern_key, r, &err);
		if (err) {
			result_free(r);
			goto fail;
		}
	}
	if (!rec) {
		rec = calloc(1, sizeof(*rec));
		if (rec)
			strmap_put(c->pods, pod->meta.uid, rec, &err);
		if (!rec || err) {
			free(rec);
			rec = NULL;
		}
	}
	if (rec) {
		r->refs++;
		unref_locked(c, rec->result);
		*rec = (struct pod_record){ rv_hash, ns_gen, node_gen, r };
	}
	r->refs++; /* the caller's */
	pthread_mutex_unlock(&c->lock);
	return r;
fail:
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void pod_policy_cache_stats(struct pod_policy_cache *c, struct pod_policy_cache_stats *s)
{
	pthread_mutex_lock(&c->lock);
	s->computed = c->computed;
	s->hits = c->hits;
	s->pods = strmap_count(c->pods);
	s->distinct = strmap_count(c->interned);
	pthread_mutex_unlock(&c->lock);
}
