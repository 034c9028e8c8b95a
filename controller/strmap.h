/* A string-keyed hash map (chained, grows by doubling) used by the caches and the workqueue.
 * Keys are copied; values are opaque pointers the caller owns. Not thread-safe. */
#ifndef PCMC_CONTROLLER_STRMAP_H
#define PCMC_CONTROLLER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap;

struct strmap *strmap_new(void);
/* Frees the map and its keys; calls free_value (may be NULL) on each value. */
void strmap_free(struct strmap *m, void (*free_value)(void *));
size_t strmap_count(const struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
bool strmap_contains(const struct strmap *m, const char *key);
/* Stores value under key; returns the previous value (or NULL). -ENOMEM is reported through *err. */
void *strmap_put(struct strmap *m, const char *key, void *value, int *err);
/* Removes key; returns its value (or NULL). */
void *strmap_remove(struct strmap *m, const char *key);
/* Calls fn for each entry until fn returns non-zero (that value is returned). fn must not change m. */
int strmap_each(const struct strmap *m, int (*fn)(void *ud, const char *key, void *value), void *ud);

/* 64-bit FNV-1a, also used for ConfigMap fingerprints and short name hashes. */
uint64_t fnv1a64(uint64_t h, const void *data, size_t len);
#define FNV1A64_INIT 0xcbf29ce484222325ULL

#endif
