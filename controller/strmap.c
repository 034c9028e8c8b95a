/* String-keyed hash map: separate chaining, power-of-two bucket count, doubled at load 1.
 * Small and predictable; the caches hold up to tens of thousands of entries. */
#include "controller/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct strmap {
	struct entry **buckets;
	size_t nbuckets, count;
};

uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_key(const char *key)
{
	return fnv1a64(FNV1A64_INIT, key, strlen(key));
}

struct strmap *strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nbuckets = 16;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(struct strmap *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct entry *e = m->buckets[i], *next; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	}
	free(m->buckets);
	free(m);
}

size_t strmap_count(const struct strmap *m)
{
	return m->count;
}

static struct entry **find(const struct strmap *m, const char *key, uint64_t h)
{
	struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct entry *e = *find(m, key, hash_key(key));

	return e ? e->value : NULL;
}

bool strmap_contains(const struct strmap *m, const char *key)
{
	return *find(m, key, hash_key(key)) != NULL;
}

static void grow(struct strmap *m)
{
	size_t n = m->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct entry *e = m->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void *strmap_put(struct strmap *m, const char *key, void *value, int *err)
{
	uint64_t h = hash_key(key);
	struct entry **pp = find(m, key, h), *e;
	size_t klen;

	if (err)
		*err = 0;
	if (*pp) {
		void *old = (*pp)->value;

		(*pp)->value = value;
		return old;
	}
	klen = strlen(key);
	e = malloc(sizeof(*e) + klen + 1);
	if (!e) {
		if (err)
			*err = -ENOMEM;
		return NULL;
	}
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++m->count > m->nbuckets)
		grow(m);
	return NULL;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct entry **pp = find(m, key, hash_key(key)), *e = *pp;
	void *v;

	if (!e)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	m->count--;
	return v;
}

int strmap_each(const struct strmap *m, int (*fn)(void *ud, const char *key, void *value), void *ud)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct entry *e = m->buckets[i]; e; e = e->next) {
			int rc = fn(ud, e->key, e->value);

			if (rc)
				return rc;
		}
	}
	return 0;
}
