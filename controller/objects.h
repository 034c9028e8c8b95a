/* The slim copies of API objects the caches keep: only the fields the controller reads, so
 * 10,000 pods fit in a few MiB. Decoded from watch/list JSON, compared to skip no-op events. */
#ifndef PCMC_CONTROLLER_OBJECTS_H
#define PCMC_CONTROLLER_OBJECTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller/kv.h"
#include "controller/selector.h"

#define PCMC_GROUP    "podconfig.example.com"
#define PCMC_VERSION  "v1alpha1"
#define PCMC_PLURAL   "podconfigmapconfigs"
#define PCMC_KIND     "PodConfigMapConfig"
#define LABEL_GENERATED_BY "podconfig.example.com/generated-by-pcmc"
#define LABEL_POD_UID      "podconfig.example.com/pod-uid"
/* Full CR name when it is longer than a label value may be (63). */
#define ANNOTATION_PCMC_NAME "podconfig.example.com/pcmc-name"

/* Every cached object starts with this, so the cache can key it by namespace/name. */
struct object_meta {
	char *namespace;
	char *name;
	char *uid;
	char *resource_version;
};

struct pod {
	struct object_meta meta;
	char *node_name;
	char *phase;
	bool terminating;
	struct kv_list labels;
	struct kv_list annotations; /* without kubectl's last-applied-configuration */
};

/* Settings written under a feature whose `enabled` is not true: they do nothing (SettingsIgnored). */
enum ignored_setting {
	IGNORED_SYSCALL_NAMES   = 1 << 0,
	IGNORED_ALLOWED_PORTS   = 1 << 1,
	IGNORED_BLOCKED_PORTS   = 1 << 2,
	IGNORED_DEFAULT_BLOCK   = 1 << 3,
	IGNORED_UPDATE_INTERVAL = 1 << 4,
};

/* spec.ebpfConfig flattened into the strings the ConfigMap carries. */
struct ebpf_settings {
	bool syscall_monitoring_enabled;
	char *syscall_names;      /* comma-separated */
	bool l4_firewall_enabled;
	char *allowed_ports;      /* comma-separated */
	char *blocked_ports;
	char *default_action;     /* "allow" | "block" */
	bool metrics_export_enabled;
	char *update_interval;
	bool present;             /* spec.ebpfConfig is set (defaulted to {} by the API server) */
	unsigned ignored;         /* enum ignored_setting bits */
};

struct pcmc {
	struct object_meta meta;
	long long generation;
	struct label_selector *selector; /* NULL when selector_error is set */
	char selector_error[160];
	char **labels_to_include;
	size_t nlabels;
	char **annotations_to_include;
	size_t nannotations;
	struct ebpf_settings ebpf;
	cJSON *status;                   /* status as last seen (may be NULL) */
};

/* A ConfigMap this controller generated (label podconfig.example.com/generated-by-pcmc). */
struct owned_configmap {
	struct object_meta meta;
	char *pcmc_name;
	char *pod_uid;
	uint64_t fingerprint;            /* of data, labels and owner (configmap_fingerprint) */
};

/* What the generic cache and reflector need to know about a kind. */
struct object_kind {
	const char *name;                /* "pods" */
	void *(*decode)(const cJSON *obj);
	void (*free)(void *obj);
};

extern const struct object_kind pod_kind, pcmc_kind, owned_configmap_kind;

struct pod *pod_decode(const cJSON *obj);
void pod_free(struct pod *p);
/* True when nothing a generated ConfigMap or a selector depends on changed. */
bool pod_same_for_configmaps(const struct pod *a, const struct pod *b);
struct pcmc *pcmc_decode(const cJSON *obj);
void pcmc_free(struct pcmc *c);
struct owned_configmap *owned_configmap_decode(const cJSON *obj);
void owned_configmap_free(struct owned_configmap *cm);

static inline const struct object_meta *object_meta_of(const void *obj)
{
	return (const struct object_meta *)obj;
}

#endif
