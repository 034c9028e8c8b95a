/* What a generated ConfigMap must contain: its name (pod-<pod>-from-<pcmc>-cfg, shortened with a
 * hash when too long), data keys, labels and owner reference, and a fingerprint to detect drift. */
#ifndef PCMC_CONTROLLER_CONFIGMAP_CONTENT_H
#define PCMC_CONTROLLER_CONFIGMAP_CONTENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller/kv.h"
#include "controller/objects.h"
#include "controller/pod_policy.h"

#define CONFIGMAP_NAME_MAX 253
#define LABEL_VALUE_MAX 63

struct desired_configmap {
	char name[CONFIGMAP_NAME_MAX + 1];
	char *pod_name;
	char *pod_uid;
	char pcmc_label[LABEL_VALUE_MAX + 1];
	char *pcmc_name;
	struct kv_list data;
	uint64_t fingerprint;
};

#define CONFIGMAP_KEY_MAX 253
#define DATA_KEY_LABEL_PREFIX      "label_"
#define DATA_KEY_ANNOTATION_PREFIX "annotation_"

/* The data key of a pod label or annotation key: prefix + key with "/" written as "_"
 * (app.kubernetes.io/name -> label_app.kubernetes.io_name). The CRD refuses two keys of one list
 * that map to the same data key, and keys whose data key would pass 253 characters. Returns 0, or
 * -EINVAL when the result is not a valid ConfigMap key ([-._a-zA-Z0-9]{1,253}). */
int configmap_data_key(char out[CONFIGMAP_KEY_MAX + 1], const char *prefix, const char *key);
/* A DNS-subdomain name of at most 253 characters, the same for the same inputs. */
void configmap_name(char out[CONFIGMAP_NAME_MAX + 1], const char *pod_name, const char *pcmc_name);
/* The CR name as a label value: itself when it fits in 63 characters, else prefix + hash. */
void pcmc_label_value(char out[LABEL_VALUE_MAX + 1], const char *pcmc_name);
/* Fills `out` with the ConfigMap `pcmc` wants for `pod`; `effective` (may be NULL: keys left out)
 * is what the pod gets after merging every CR that selects it, rendered as ebpf_effective_* keys.
 * Returns 0 or -ENOMEM. */
int configmap_desired(const struct pod *pod, const struct pcmc *pcmc, const struct pod_policy *effective,
		      struct desired_configmap *out);
void desired_configmap_clear(struct desired_configmap *d);
/* Hash over sorted data (sorted in place), the two labels, the full CR name and the owner pod
 * (and whether that owner reference is a controller reference blocking the pod's deletion). */
uint64_t configmap_fingerprint(struct kv_list *data, const char *generated_by, const char *pod_uid_label,
			       const char *pcmc_name, const char *owner_uid, const char *owner_name, bool owner_controls);
/* The ConfigMap object to create or replace; NULL on allocation failure. */
cJSON *configmap_body(const struct desired_configmap *d, const char *namespace);

#endif
