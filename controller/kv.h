/* A small list of string key/value pairs: pod labels, annotations, ConfigMap data. */
#ifndef PCMC_CONTROLLER_KV_H
#define PCMC_CONTROLLER_KV_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct kv {
	char *key;
	char *value;
};

struct kv_list {
	struct kv *items;
	size_t len, cap;
};

const char *kv_get(const struct kv_list *l, const char *key);
/* Sets key to value (both copied), replacing an existing entry. Returns 0 or -ENOMEM. */
int kv_set(struct kv_list *l, const char *key, const char *value);
/* Adds key and value (copied) without looking for key: the caller knows it is not there. */
int kv_append(struct kv_list *l, const char *key, const char *value);
/* Fills l from a JSON object of strings ("labels", "data"), skipping `skip_key` (may be NULL). */
int kv_from_json(struct kv_list *l, const cJSON *obj, const char *skip_key);
/* A JSON object with the pairs; NULL on allocation failure. */
cJSON *kv_to_json(const struct kv_list *l);
void kv_sort(struct kv_list *l);
/* Same pairs regardless of order. */
bool kv_equal(const struct kv_list *a, const struct kv_list *b);
void kv_clear(struct kv_list *l);

#endif
