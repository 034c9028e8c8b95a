/* The node's pods from the index, sorted by uid so equal states have equal fingerprints (each
 * pod's policy enters by the hash of its canonical encoding, computed once per distinct merge in
 * pod_policy_cache); the body is streamed by common/policy_codec. */
#include "controller/node_desired.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy_codec.h"
#include "controller/node_results.h"

struct pick {
	const struct pod *pod;
	const struct pod_policy_result *policy;
};

struct build_ctx {
	struct object_cache *pcmcs;
	struct pod_policy_cache *cache;
	const struct strmap *rejected;
	struct node_desired *out;
	struct pick *picks;
	size_t n, cap;
	int err;
};

static void desired_pod_free(void *v)
{
	struct desired_pod *p = v;

	if (p) {
		free(p->namespace);
		free(p->name);
	}
	free(p);
}

static int remember(struct build_ctx *b, const struct pod *pod, const struct pod_policy_result *policy, int index)
{
	struct desired_pod *d = calloc(1, sizeof(*d));
	int err = 0;

	if (!d || !(d->namespace = strdup(pod->meta.namespace)) || !(d->name = strdup(pod->meta.name))) {
		desired_pod_free(d);
		return -ENOMEM;
	}
	d->policy = policy;
	d->index = index;
	desired_pod_free(strmap_put(b->out->pods, pod->meta.uid, d, &err));
	if (err)
		desired_pod_free(d);
	return err;
}

static int fail_pod(struct build_ctx *b, const char *uid, const char *why)
{
	struct pod_outcome *r = pod_outcome_new(ENFORCE_FAILED, why);
	int err = 0;

	if (!r)
		return -ENOMEM;
	free(strmap_put(b->out->failed, uid, r, &err));
	if (err)
		free(r);
	return err;
}

static int visit_pod(void *ud, const void *obj)
{
	struct build_ctx *b = ud;
	const struct pod *pod = obj;
	const struct pod_policy_result *policy;
	int err;

	if (!pod_enforceable(pod))
		return 0;
	policy = pod_policy_cache_get_locked(b->cache, b->pcmcs, pod);
	if (!policy)
		return -ENOMEM;
	if (!policy->err && !policy->wanted) {
		pod_policy_result_put(b->cache, policy);
		return 0;
	}
	if (policy->err || (b->rejected && strmap_contains(b->rejected, pod->meta.uid))) {
		err = fail_pod(b, pod->meta.uid, policy->err ? policy->pp.why : strmap_get(b->rejected, pod->meta.uid));
		if (!err)
			err = remember(b, pod, policy, -1);
		if (err)
			pod_policy_result_put(b->cache, policy);
		return err;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		struct pick *n = realloc(b->picks, cap * sizeof(*n));

		if (!n) {
			pod_policy_result_put(b->cache, policy);
			return -ENOMEM;
		}
		b->picks = n;
		b->cap = cap;
	}
	b->picks[b->n++] = (struct pick){ pod, policy };
	return 0;
}

static int by_uid(const void *a, const void *b)
{
	return strcmp(((const struct pick *)a)->pod->meta.uid, ((const struct pick *)b)->pod->meta.uid);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return fnv1a64(h, s, strlen(s) + 1); /* the NUL separates fields */
}

static int render(struct build_ctx *b)
{
	struct node_desired *d = b->out;
	uint64_t h = FNV1A64_INIT;
	int err = 0;

	if (b->n > 1)
		qsort(b->picks, b->n, sizeof(*b->picks), by_uid);
	d->pushed = calloc(b->n ? b->n : 1, sizeof(*d->pushed));
	if (!d->pushed)
		return -ENOMEM;
	for (size_t i = 0; i < b->n && !err; i++) {
		const struct pod *pod = b->picks[i].pod;
		const struct pod_policy_result *policy = b->picks[i].policy;
		struct pushed_pod *pp = &d->pushed[i];

		h = hash_str(hash_str(hash_str(h, pod->meta.uid), pod->meta.namespace), pod->meta.name);
		h = fnv1a64(h, &policy->policy_hash, sizeof(policy->policy_hash));
		err = remember(b, pod, policy, (int)i);
		if (err)
			break;
		b->picks[i].policy = NULL; /* the reference now belongs to out->pods */
		pp->policy = policy;
		pp->uid = strdup(pod->meta.uid);
		pp->namespace = strdup(pod->meta.namespace);
		pp->name = strdup(pod->meta.name);
		d->npushed = (int)i + 1;
		if (!pp->uid || !pp->namespace || !pp->name)
			err = -ENOMEM;
	}
	d->fingerprint = h ^ (uint64_t)b->n;
	return err;
}

int node_desired_build(struct object_cache *pcmcs, struct object_cache *pods, struct pod_policy_cache *cache,
		       const char *node, const struct strmap *rejected, struct node_desired *out)
{
	struct build_ctx b = { .pcmcs = pcmcs, .cache = cache, .rejected = rejected, .out = out };
	int err;

	memset(out, 0, sizeof(*out));
	out->pods = strmap_new();
	out->failed = strmap_new();
	if (!out->pods || !out->failed) {
		node_desired_clear(cache, out);
		return -ENOMEM;
	}
	/* Lock order: pcmcs, then pods (as the reconciler). The pods' pointers are only used inside. */
	object_cache_read_lock(pcmcs);
	object_cache_read_lock(pods);
	err = object_cache_each_indexed_locked(pods, node, visit_pod, &b);
	if (!err)
		err = render(&b);
	object_cache_unlock(pods);
	object_cache_unlock(pcmcs);
	for (size_t i = 0; i < b.n; i++)
		pod_policy_result_put(cache, b.picks[i].policy);
	free(b.picks);
	if (err)
		node_desired_clear(cache, out);
	return err;
}

static int put_policy(void *ud, const char *key, void *value)
{
	struct desired_pod *p = value;

	(void)key;
	pod_policy_result_put(ud, p->policy);
	return 0;
}

void node_desired_clear(struct pod_policy_cache *cache, struct node_desired *d)
{
	if (d->pods)
		strmap_each(d->pods, put_policy, cache);
	strmap_free(d->pods, desired_pod_free);
	strmap_free(d->failed, free);
	for (int i = 0; i < d->npushed; i++) {
		free(d->pushed[i].uid);
		free(d->pushed[i].namespace);
		free(d->pushed[i].name);
	}
	free(d->pushed);
	memset(d, 0, sizeof(*d));
}

char *node_desired_body(const struct node_desired *d, const char *node, const char *identity, long long epoch,
			unsigned long long revision, size_t *len)
{
	struct policy_sender sender = { .identity = (char *)identity, .epoch = epoch };
	struct json_writer w = { 0 };
	char *text = NULL;

	policy_push_write_begin(&w, node, &sender, (int64_t)revision);
	for (int i = 0; i < d->npushed; i++)
		policy_push_write_pod(&w, d->pushed[i].uid, d->pushed[i].namespace, d->pushed[i].name,
				      &d->pushed[i].policy->pp.policy.config);
	policy_push_write_end(&w);
	return jw_finish(&w, &text, len) ? NULL : text;
}
