/* Key/value lists: linear scans are fine, labels and annotations have a handful of entries. */
#include "controller/kv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *kv_get(const struct kv_list *l, const char *key)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

int kv_set(struct kv_list *l, const char *key, const char *value)
{
	for (size_t i = 0; i < l->len; i++) {
		if (strcmp(l->items[i].key, key) == 0) {
			char *v = strdup(value ? value : "");

			if (!v)
				return -ENOMEM;
			free(l->items[i].value);
			l->items[i].value = v;
			return 0;
		}
	}
	return kv_append(l, key, value);
}

int kv_append(struct kv_list *l, const char *key, const char *value)
{
	char *v = strdup(value ? value : ""), *k;

	if (!v)
		return -ENOMEM;
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct kv *n = realloc(l->items, cap * sizeof(*n));

		if (!n) {
			free(v);
			return -ENOMEM;
		}
		l->items = n;
		l->cap = cap;
	}
	k = strdup(key);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	l->items[l->len++] = (struct kv){ .key = k, .value = v };
	return 0;
}

int kv_from_json(struct kv_list *l, const cJSON *obj, const char *skip_key)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, obj) {
		if (!it->string || (skip_key && strcmp(it->string, skip_key) == 0))
			continue;
		if (kv_set(l, it->string, cJSON_IsString(it) ? it->valuestring : ""))
			return -ENOMEM;
	}
	return 0;
}

cJSON *kv_to_json(const struct kv_list *l)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < l->len; i++) {
		if (!cJSON_AddStringToObject(o, l->items[i].key, l->items[i].value)) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

void kv_sort(struct kv_list *l)
{
	if (l->len > 1)
		qsort(l->items, l->len, sizeof(*l->items), by_key);
}

bool kv_equal(const struct kv_list *a, const struct kv_list *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		const char *v = kv_get(b, a->items[i].key);

		if (!v || strcmp(v, a->items[i].value) != 0)
			return false;
	}
	return true;
}

void kv_clear(struct kv_list *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	*l = (struct kv_list){ 0 };
}
