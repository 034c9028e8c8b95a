/* The informer cache: slim objects of one kind keyed by namespace and name, filled by a
 * reflector and read by reconcilers under a read lock, with one optional secondary index
 * (client-go's Indexer), e.g. pods by node. */
#ifndef PCMC_CONTROLLER_CACHE_H
#define PCMC_CONTROLLER_CACHE_H

#include <stddef.h>

#include "controller/objects.h"

struct object_cache;

struct object_cache *object_cache_new(const struct object_kind *kind);
/* Frees the cache and every object in it. */
void object_cache_free(struct object_cache *c);
const struct object_kind *object_cache_kind(const struct object_cache *c);
/* Adds the secondary index: index_key(obj) names the bucket of obj (NULL or "": none). Call
 * before the first upsert. Returns 0 or -ENOMEM. */
int object_cache_set_index(struct object_cache *c, const char *(*index_key)(const void *obj));

/* Stores obj (ownership passes to the cache) and returns the object it replaced, which the caller
 * frees with kind->free once done with it; NULL if new. On -ENOMEM obj is freed, *err set. */
void *object_cache_upsert(struct object_cache *c, void *obj, int *err);
/* Takes the object out of the cache and returns it (caller frees), or NULL. */
void *object_cache_remove(struct object_cache *c, const char *namespace, const char *name);
size_t object_cache_count(struct object_cache *c);

/* Readers: pointers stay valid only until object_cache_unlock. */
void object_cache_read_lock(struct object_cache *c);
void object_cache_unlock(struct object_cache *c);
const void *object_cache_get_locked(struct object_cache *c, const char *namespace, const char *name);
/* Calls fn for each object of `namespace` (every namespace if NULL) until fn returns non-zero. */
int object_cache_each_locked(struct object_cache *c, const char *namespace,
			     int (*fn)(void *ud, const void *obj), void *ud);
/* Calls fn for each object in bucket `value` of the index, until fn returns non-zero. */
int object_cache_each_indexed_locked(struct object_cache *c, const char *value,
				     int (*fn)(void *ud, const void *obj), void *ud);
/* Calls fn with each non-empty bucket name of the index, until fn returns non-zero. */
int object_cache_each_index_value_locked(struct object_cache *c, int (*fn)(void *ud, const char *value), void *ud);

#endif
