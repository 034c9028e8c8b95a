/* Two-level map (namespace -> name -> object) under a rwlock: reconcilers iterate one namespace
 * without touching the others; the reflector is the only writer. The secondary index maps a
 * bucket name to its objects ("namespace/name" -> object), kept in step on every write. */
#include "controller/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "controller/strmap.h"

struct object_cache {
	const struct object_kind *kind;
	pthread_rwlock_t lock;
	struct strmap *namespaces; /* namespace -> struct strmap * (name -> object) */
	size_t count;
	const char *(*index_key)(const void *obj);
	struct strmap *index;      /* bucket -> struct strmap * ("namespace/name" -> object) */
};

struct object_cache *object_cache_new(const struct object_kind *kind)
{
	struct object_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = kind;
	pthread_rwlock_init(&c->lock, NULL);
	c->namespaces = strmap_new();
	if (!c->namespaces) {
		free(c);
		return NULL;
	}
	return c;
}


/* Frees one inner map; ud is the kind whose objects it owns, or NULL (an index bucket). */
static int free_namespace(void *ud, const char *key, void *value)
{
	const struct object_kind *kind = ud;

	(void)key;
	strmap_free(value, kind ? kind->free : NULL);
	return 0;
}

void object_cache_free(struct object_cache *c)
{
	if (!c)
		return;
	strmap_each(c->namespaces, free_namespace, (void *)c->kind);
	strmap_free(c->namespaces, NULL);
	if (c->index) {
		strmap_each(c->index, free_namespace, NULL);
		strmap_free(c->index, NULL);
	}
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

const struct object_kind *object_cache_kind(const struct object_cache *c)
{
	return c->kind;
}

int object_cache_set_index(struct object_cache *c, const char *(*index_key)(const void *obj))
{
	c->index = strmap_new();
	if (!c->index)
		return -ENOMEM;
	c->index_key = index_key;
	return 0;
}

static const char *bucket_of(struct object_cache *c, const void *obj)
{
	const char *b = obj ? c->index_key(obj) : NULL;

	return b && *b ? b : NULL;
}

static void index_remove(struct object_cache *c, const void *obj)
{
	const struct object_meta *m = object_meta_of(obj);
	const char *b = bucket_of(c, obj);
	struct strmap *bucket = b ? strmap_get(c->index, b) : NULL;
	char key[600];

	if (!bucket)
		return;
	snprintf(key, sizeof(key), "%s/%s", m->namespace, m->name);
	strmap_remove(bucket, key);
	if (strmap_count(bucket) == 0) {
		strmap_remove(c->index, b);
		strmap_free(bucket, NULL);
	}
}

static int index_add(struct object_cache *c, void *obj)
{
	const struct object_meta *m = object_meta_of(obj);
	const char *b = bucket_of(c, obj);
	struct strmap *bucket;
	char key[600];
	int err = 0;

	if (!b)
		return 0;
	bucket = strmap_get(c->index, b);
	if (!bucket) {
		bucket = strmap_new();
		if (!bucket)
			return -ENOMEM;
		strmap_put(c->index, b, bucket, &err);
		if (err) {
			strmap_free(bucket, NULL);
			return err;
		}
	}
	snprintf(key, sizeof(key), "%s/%s", m->namespace, m->name);
	strmap_put(bucket, key, obj, &err);
	return err;
}

void *object_cache_upsert(struct object_cache *c, void *obj, int *err)
{
	const struct object_meta *m = object_meta_of(obj);
	struct strmap *ns;
	void *old = NULL;

	*err = 0;
	pthread_rwlock_wrlock(&c->lock);
	ns = strmap_get(c->namespaces, m->namespace);
	if (!ns) {
		ns = strmap_new();
		if (ns)
			strmap_put(c->namespaces, m->namespace, ns, err);
		if (!ns || *err) {
			strmap_free(ns, NULL);
			*err = -ENOMEM;
			goto out;
		}
	}
	old = strmap_put(ns, m->name, obj, err);
	if (!old && !*err)
		c->count++;
	if (c->index && !*err) {
		if (old)
			index_remove(c, old);
		*err = index_add(c, obj);
		if (*err) {
			/* Not indexed means not in the cache: put back what was there, so readers of the
			 * index and of the namespace always agree. */
			int ignored = 0;

			if (old) {
				strmap_put(ns, m->name, old, &ignored);
				index_add(c, old); /* its bucket entry was just freed: the room exists */
			} else {
				strmap_remove(ns, m->name);
				c->count--;
			}
			old = NULL;
		}
	}
out:
	pthread_rwlock_unlock(&c->lock);
	if (*err)
		c->kind->free(obj);
	return old;
}

void *object_cache_remove(struct object_cache *c, const char *namespace, const char *name)
{
	struct strmap *ns;
	void *old = NULL;

	pthread_rwlock_wrlock(&c->lock);
	ns = strmap_get(c->namespaces, namespace);
	if (ns) {
		old = strmap_remove(ns, name);
		if (old)
			c->count--;
		if (old && c->index)
			index_remove(c, old);
		if (strmap_count(ns) == 0) {
			strmap_remove(c->namespaces, namespace);
			strmap_free(ns, NULL);
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return old;
}

size_t object_cache_count(struct object_cache *c)
{
	size_t n;

	pthread_rwlock_rdlock(&c->lock);
	n = c->count;
	pthread_rwlock_unlock(&c->lock);
	return n;
}

void object_cache_read_lock(struct object_cache *c)
{
	pthread_rwlock_rdlock(&c->lock);
}

void object_cache_unlock(struct object_cache *c)
{
	pthread_rwlock_unlock(&c->lock);
}

const void *object_cache_get_locked(struct object_cache *c, const char *namespace, const char *name)
{
	struct strmap *ns = strmap_get(c->namespaces, namespace);

	return ns ? strmap_get(ns, name) : NULL;
}

struct each_ctx {
	int (*fn)(void *ud, const void *obj);
	void *ud;
};

static int each_object(void *ud, const char *key, void *value)
{
	struct each_ctx *e = ud;

	(void)key;
	return e->fn(e->ud, value);
}

static int each_namespace(void *ud, const char *key, void *value)
{
	(void)key;
	return strmap_each(value, each_object, ud);
}

int object_cache_each_locked(struct object_cache *c, const char *namespace,
			     int (*fn)(void *ud, const void *obj), void *ud)
{
	struct each_ctx e = { fn, ud };
	struct strmap *ns;

	if (!namespace)
		return strmap_each(c->namespaces, each_namespace, &e);
	ns = strmap_get(c->namespaces, namespace);
	return ns ? strmap_each(ns, each_object, &e) : 0;
}

int object_cache_each_indexed_locked(struct object_cache *c, const char *value,
				     int (*fn)(void *ud, const void *obj), void *ud)
{
	struct each_ctx e = { fn, ud };
	struct strmap *bucket = c->index && value ? strmap_get(c->index, value) : NULL;

	return bucket ? strmap_each(bucket, each_object, &e) : 0;
}

struct value_ctx {
	int (*fn)(void *ud, const char *value);
	void *ud;
};

static int each_value(void *ud, const char *key, void *value)
{
	struct value_ctx *v = ud;

	(void)value;
	return v->fn(v->ud, key);
}

int object_cache_each_index_value_locked(struct object_cache *c, int (*fn)(void *ud, const char *value), void *ud)
{
	struct value_ctx v = { fn, ud };

	return c->index ? strmap_each(c->index, each_value, &v) : 0;
}
