/* Agent discovery: a reflector over the agent pods keeps slim copies (node, address, restart
 * count), indexed by node; a change of address, uid or restart count means the agent lost or may
 * have lost its state, so the node's whole desired state is pushed again. */
#include "controller/agent_directory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/cache.h"
#include "controller/reflector.h"

struct agent_pod {
	struct object_meta meta;
	char *node_name;
	char address[300];  /* "" when not running; HOST:PORT when port is -1 (annotation) */
	int port;           /* container port "api"; 0 = the default port */
	long long restarts;
};

struct agent_directory {
	struct agent_directory_config cfg;
	char namespace[128], selector[256], path[400]; /* the reflector keeps pointers to these */
	struct object_cache *cache;
	struct reflector *reflector;
};

static const char *str_at(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void *agent_pod_decode(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata"), *spec = cJSON_GetObjectItem(obj, "spec");
	const cJSON *status = cJSON_GetObjectItem(obj, "status"), *c, *p, *cs;
	struct agent_pod *a = calloc(1, sizeof(*a));
	const char *ann = str_at(cJSON_GetObjectItem(meta, "annotations"), ANNOTATION_AGENT_ADDRESS);
	const char *ip = str_at(status, "podIP"), *phase = str_at(status, "phase");
	int port = 0;

	if (!a)
		return NULL;
	a->meta.namespace = dup_or_null(str_at(meta, "namespace"));
	a->meta.name = dup_or_null(str_at(meta, "name"));
	a->meta.uid = dup_or_null(str_at(meta, "uid"));
	a->meta.resource_version = dup_or_null(str_at(meta, "resourceVersion"));
	a->node_name = dup_or_null(str_at(spec, "nodeName"));
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(spec, "containers")) {
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(c, "ports")) {
			const cJSON *n = cJSON_GetObjectItem(p, "containerPort");

			if (str_at(p, "name") && strcmp(str_at(p, "name"), "api") == 0 && cJSON_IsNumber(n))
				port = (int)n->valuedouble;
		}
	}
	cJSON_ArrayForEach(cs, cJSON_GetObjectItem(status, "containerStatuses")) {
		const cJSON *r = cJSON_GetObjectItem(cs, "restartCount");

		if (cJSON_IsNumber(r))
			a->restarts += (long long)r->valuedouble;
	}
	if (phase && strcmp(phase, "Running") == 0 && !cJSON_GetObjectItem(meta, "deletionTimestamp")) {
		if (ann && *ann) {
			snprintf(a->address, sizeof(a->address), "%s", ann);
			a->port = -1;
		} else if (ip && *ip) {
			snprintf(a->address, sizeof(a->address), strchr(ip, ':') ? "[%s]" : "%s", ip);
			a->port = port;
		}
	}
	if (!a->meta.namespace || !a->meta.name) {
		free(a->meta.namespace);
		free(a->meta.name);
		free(a->meta.uid);
		free(a->meta.resource_version);
		free(a->node_name);
		free(a);
		return NULL;
	}
	return a;
}

static void agent_pod_free(void *obj)
{
	struct agent_pod *a = obj;

	if (!a)
		return;
	free(a->meta.namespace);
	free(a->meta.name);
	free(a->meta.uid);
	free(a->meta.resource_version);
	free(a->node_name);
	free(a);
}

static const struct object_kind agent_pod_kind = { "agentpods", agent_pod_decode, agent_pod_free };

static const char *agent_node(const void *obj)
{
	return ((const struct agent_pod *)obj)->node_name;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void on_event(void *ud, enum object_event ev, const void *old, const void *new)
{
	struct agent_directory *d = ud;
	const struct agent_pod *o = old, *n = new;

	if (ev == OBJECT_UPDATED && same_str(o->node_name, n->node_name) && strcmp(o->address, n->address) == 0 && o->port == n->port &&
	    same_str(o->meta.uid, n->meta.uid) && o->restarts == n->restarts)
		return;
	if (ev != OBJECT_DELETED && n->node_name && n->address[0] && d->cfg.on_agent_changed)
		d->cfg.on_agent_changed(d->cfg.ud, n->node_name);
}

int agent_directory_new(struct kube_client *client, const struct agent_directory_config *cfg,
			struct agent_directory **out)
{
	struct agent_directory *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	snprintf(d->namespace, sizeof(d->namespace), "%s", cfg->namespace);
	snprintf(d->selector, sizeof(d->selector), "%s", cfg->selector);
	d->cache = object_cache_new(&agent_pod_kind);
	if (!d->cache || object_cache_set_index(d->cache, agent_node)) {
		object_cache_free(d->cache);
		free(d);
		return -ENOMEM;
	}
	snprintf(d->path, sizeof(d->path), "/api/v1/namespaces/%s/pods", d->namespace);
	err = reflector_new(client,
			    &(struct reflector_config){ .resource_path = d->path, .label_selector = d->selector,
							.cache = d->cache, .on_event = on_event, .ud = d },
			    &d->reflector);
	if (err) {
		agent_directory_free(d);
		return err;
	}
	*out = d;
	return 0;
}

int agent_directory_start(struct agent_directory *d)
{
	return reflector_start(d->reflector);
}

bool agent_directory_synced(struct agent_directory *d)
{
	return reflector_synced(d->reflector);
}

int agent_directory_wait_synced(struct agent_directory *d)
{
	return reflector_wait_synced(d->reflector);
}

void agent_directory_signal_stop(struct agent_directory *d)
{
	if (d)
		reflector_signal_stop(d->reflector);
}

struct find_ctx {
	const char *node;
	char *out;
	size_t len;
	bool found;
	int default_port;
};

static int find_agent(void *ud, const void *obj)
{
	struct find_ctx *f = ud;
	const struct agent_pod *a = obj;

	if (!a->address[0])
		return 0;
	if (a->port < 0)
		snprintf(f->out, f->len, "%s", a->address); /* annotation: HOST:PORT */
	else
		snprintf(f->out, f->len, "%s:%d", a->address, a->port ? a->port : f->default_port);
	f->found = true;
	return 1;
}

int agent_directory_address(struct agent_directory *d, const char *node, char *out, size_t len)
{
	struct find_ctx f = { node, out, len, false, d->cfg.default_port > 0 ? d->cfg.default_port : 4855 };

	object_cache_read_lock(d->cache);
	object_cache_each_indexed_locked(d->cache, node, find_agent, &f);
	object_cache_unlock(d->cache);
	return f.found ? 0 : -ENOENT;
}

struct each_ctx {
	void (*fn)(void *ud, const char *node);
	void *ud;
};

static int each_node(void *ud, const void *obj)
{
	struct each_ctx *e = ud;
	const struct agent_pod *a = obj;

	if (a->node_name && a->address[0])
		e->fn(e->ud, a->node_name);
	return 0;
}

void agent_directory_each_node(struct agent_directory *d, void (*fn)(void *ud, const char *node), void *ud)
{
	struct each_ctx e = { fn, ud };

	object_cache_read_lock(d->cache);
	object_cache_each_locked(d->cache, NULL, each_node, &e);
	object_cache_unlock(d->cache);
}

void agent_directory_stop(struct agent_directory *d)
{
	if (d && d->reflector)
		reflector_stop(d->reflector);
}

void agent_directory_free(struct agent_directory *d)
{
	if (!d)
		return;
	reflector_free(d->reflector);
	object_cache_free(d->cache);
	free(d);
}
