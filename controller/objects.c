/* Decoding API JSON into the slim cached objects, and freeing them. Anything the controller does
 * not read (pod specs, managed fields, ConfigMap data) is dropped right here. */
#include "controller/objects.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/configmap_content.h"
#include "controller/ebpf_settings.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
}

/* The four strings share one allocation, owned by m->namespace (a pod's cache entry makes one
 * malloc instead of four: 150,000 pods and their ConfigMaps are 900,000 fewer chunks). */
static bool meta_decode(struct object_meta *m, const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	const char *ns = str_at(meta, "namespace") ? str_at(meta, "namespace") : "", *name = str_at(meta, "name");
	const char *uid = str_at(meta, "uid"), *rv = str_at(meta, "resourceVersion");
	size_t lns, lname, luid, lrv;
	char *b;

	if (!name)
		return false;
	lns = strlen(ns) + 1, lname = strlen(name) + 1;
	luid = uid ? strlen(uid) + 1 : 0, lrv = rv ? strlen(rv) + 1 : 0;
	b = malloc(lns + lname + luid + lrv);
	if (!b)
		return false;
	m->namespace = memcpy(b, ns, lns);
	m->name = memcpy(b + lns, name, lname);
	m->uid = uid ? memcpy(b + lns + lname, uid, luid) : NULL;
	m->resource_version = rv ? memcpy(b + lns + lname + luid, rv, lrv) : NULL;
	return true;
}

static void meta_clear(struct object_meta *m)
{
	free(m->namespace);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

struct pod *pod_decode(const cJSON *obj)
{
	struct pod *p = calloc(1, sizeof(*p));
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");

	if (!p)
		return NULL;
	if (!meta_decode(&p->meta, obj) ||
	    kv_from_json(&p->labels, cJSON_GetObjectItem(meta, "labels"), NULL) ||
	    kv_from_json(&p->annotations, cJSON_GetObjectItem(meta, "annotations"), LAST_APPLIED)) {
		pod_free(p);
		return NULL;
	}
	p->node_name = dup_or_null(str_at(cJSON_GetObjectItem(obj, "spec"), "nodeName"));
	p->phase = dup_or_null(str_at(cJSON_GetObjectItem(obj, "status"), "phase"));
	p->terminating = cJSON_GetObjectItem(meta, "deletionTimestamp") != NULL;
	return p;
}

void pod_free(struct pod *p)
{
	if (!p)
		return;
	meta_clear(&p->meta);
	free(p->node_name);
	free(p->phase);
	kv_clear(&p->labels);
	kv_clear(&p->annotations);
	free(p);
}

bool pod_same_for_configmaps(const struct pod *a, const struct pod *b)
{
	return str_eq(a->meta.uid, b->meta.uid) && str_eq(a->node_name, b->node_name) &&
	       str_eq(a->phase, b->phase) && kv_equal(&a->labels, &b->labels) &&
	       kv_equal(&a->annotations, &b->annotations);
}

static char **string_list(const cJSON *arr, size_t *n)
{
	int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	char **out = calloc((size_t)count + 1, sizeof(char *));
	const cJSON *it;

	*n = 0;
	if (!out)
		return NULL;
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			out[(*n)++] = strdup(it->valuestring);
	return out;
}

static void string_list_free(char **l, size_t n)
{
	for (size_t i = 0; l && i < n; i++)
		free(l[i]);
	free(l);
}

struct pcmc *pcmc_decode(const cJSON *obj)
{
	struct pcmc *c = calloc(1, sizeof(*c));
	const cJSON *spec = cJSON_GetObjectItem(obj, "spec");
	const cJSON *gen = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "generation");
	const cJSON *status = cJSON_GetObjectItem(obj, "status");

	if (!c)
		return NULL;
	if (!meta_decode(&c->meta, obj)) {
		pcmc_free(c);
		return NULL;
	}
	c->generation = cJSON_IsNumber(gen) ? (long long)gen->valuedouble : 0;
	if (label_selector_parse(cJSON_GetObjectItem(spec, "podSelector"), &c->selector, c->selector_error,
				 sizeof(c->selector_error)) && !c->selector_error[0])
		snprintf(c->selector_error, sizeof(c->selector_error), "cannot parse podSelector");
	c->labels_to_include = string_list(cJSON_GetObjectItem(spec, "labelsToInclude"), &c->nlabels);
	c->annotations_to_include = string_list(cJSON_GetObjectItem(spec, "annotationsToInclude"), &c->nannotations);
	if (ebpf_settings_decode(&c->ebpf, cJSON_GetObjectItem(spec, "ebpfConfig"))) {
		pcmc_free(c);
		return NULL;
	}
	if (status && !(c->status_json = cJSON_PrintUnformatted(status))) {
		pcmc_free(c);
		return NULL;
	}
	return c;
}

cJSON *pcmc_status(const struct pcmc *c)
{
	return c->status_json ? cJSON_Parse(c->status_json) : NULL;
}

void pcmc_free(struct pcmc *c)
{
	if (!c)
		return;
	meta_clear(&c->meta);
	label_selector_free(c->selector);
	string_list_free(c->labels_to_include, c->nlabels);
	string_list_free(c->annotations_to_include, c->nannotations);
	ebpf_settings_clear(&c->ebpf);
	free(c->status_json);
	free(c);
}

static const cJSON *pod_owner(const cJSON *meta)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(meta, "ownerReferences"))
		if (str_eq(str_at(o, "kind"), "Pod"))
			return o;
	return NULL;
}

bool configmap_made_by_pcmc(const cJSON *obj)
{
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	const cJSON *labels = cJSON_GetObjectItem(meta, "labels");
	const char *pod_uid = str_at(labels, LABEL_POD_UID);
	const cJSON *owner = pod_owner(meta);

	return str_at(labels, LABEL_GENERATED_BY) && str_at(cJSON_GetObjectItem(meta, "annotations"), ANNOTATION_PCMC_NAME) &&
	       pod_uid && *pod_uid && owner && str_eq(str_at(owner, "apiVersion"), "v1") &&
	       str_eq(str_at(owner, "uid"), pod_uid);
}

struct owned_configmap *owned_configmap_decode(const cJSON *obj)
{
	struct owned_configmap *cm = calloc(1, sizeof(*cm));
	const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
	const cJSON *labels = cJSON_GetObjectItem(meta, "labels");
	const char *label = str_at(labels, LABEL_GENERATED_BY);
	const char *full = str_at(cJSON_GetObjectItem(meta, "annotations"), ANNOTATION_PCMC_NAME);
	const cJSON *owner = pod_owner(meta);
	struct kv_list data = { 0 };

	if (!cm)
		return NULL;
	if (!meta_decode(&cm->meta, obj) || !label) {
		owned_configmap_free(cm);
		return NULL;
	}
	cm->pcmc_name = strdup(full ? full : label);
	cm->pod_uid = dup_or_null(str_at(labels, LABEL_POD_UID));
	cm->made_by_pcmc = configmap_made_by_pcmc(obj);
	kv_from_json(&data, cJSON_GetObjectItem(obj, "data"), NULL);
	cm->fingerprint = configmap_fingerprint(&data, label, cm->pod_uid ? cm->pod_uid : "", full ? full : "",
						str_at(owner, "uid"), str_at(owner, "name"),
						cJSON_IsTrue(cJSON_GetObjectItem(owner, "controller")) &&
							cJSON_IsTrue(cJSON_GetObjectItem(owner, "blockOwnerDeletion")));
	kv_clear(&data);
	return cm;
}

void owned_configmap_free(struct owned_configmap *cm)
{
	if (!cm)
		return;
	meta_clear(&cm->meta);
	free(cm->pcmc_name);
	free(cm->pod_uid);
	free(cm);
}

static void *pod_decode_any(const cJSON *o) { return pod_decode(o); }
static void pod_free_any(void *p) { pod_free(p); }
static void *pcmc_decode_any(const cJSON *o) { return pcmc_decode(o); }
static void pcmc_free_any(void *p) { pcmc_free(p); }
static void *owned_configmap_decode_any(const cJSON *o) { return owned_configmap_decode(o); }
static void owned_configmap_free_any(void *p) { owned_configmap_free(p); }

const struct object_kind pod_kind = { "pods", pod_decode_any, pod_free_any };
const struct object_kind pcmc_kind = { PCMC_PLURAL, pcmc_decode_any, pcmc_free_any };
const struct object_kind owned_configmap_kind = { "configmaps", owned_configmap_decode_any, owned_configmap_free_any };
