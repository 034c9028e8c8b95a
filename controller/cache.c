/* Two-level map (namespace -> name -> object) under a rwlock: reconcilers iterate one namespace
 * without touching the others; the reflector is the only writer. */
#include "controller/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "controller/strmap.h"

struct object_cache {
	const struct object_kind *kind;
	pthread_rwlock_t lock;
	struct strmap *namespaces; /* namespace -> struct strmap * (name -> object) */
	size_t count;
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


static int free_namespace(void *ud, const char *key, void *value)
{
	const struct object_kind *kind = ud;

	(void)key;
	strmap_free(value, kind->free);
	return 0;
}

void object_cache_free(struct object_cache *c)
{
	if (!c)
		return;
	strmap_each(c->namespaces, free_namespace, (void *)c->kind);
	strmap_free(c->namespaces, NULL);
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

const struct object_kind *object_cache_kind(const struct object_cache *c)
{
	return c->kind;
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
