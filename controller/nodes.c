/* Node decode (only name, uid, resourceVersion and the arch label are kept) and the arch lookup. */
#include "controller/nodes.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void node_free(void *obj)
{
	struct node *n = obj;

	if (!n)
		return;
	free(n->meta.namespace);
	free(n->meta.name);
	free(n->meta.uid);
	free(n->meta.resource_version);
	free(n->arch);
	free(n);
}

static void *node_decode(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "name"));
	const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "labels"), LABEL_NODE_ARCH));
	struct node *n;

	if (!name || !*name)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->meta.namespace = strdup("");
	n->meta.name = strdup(name);
	n->meta.uid = dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "uid")));
	n->meta.resource_version = dup_or_null(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "resourceVersion")));
	n->arch = dup_or_null(arch);
	if (!n->meta.namespace || !n->meta.name || (arch && !n->arch)) {
		node_free(n);
		return NULL;
	}
	return n;
}

const struct object_kind node_kind = { "nodes", node_decode, node_free };

const char *node_arch_locked(struct object_cache *nodes, const char *name)
{
	const struct node *n = name ? object_cache_get_locked(nodes, "", name) : NULL;

	return n ? (n->arch ? n->arch : "") : NULL;
}
