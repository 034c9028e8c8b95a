/* Generated ConfigMap content. Pure functions: the reconciler diffs their output against the
 * fingerprints of the ConfigMaps in the cache and writes only what differs. */
#include "controller/configmap_content.h"
#include "controller/strmap.h"
#include "common/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_HEX 10

static uint64_t hash_str(const char *s)
{
	return fnv1a64(FNV1A64_INIT, s, strlen(s));
}

/* Cuts `s` to at most `keep` characters, drops trailing '-'/'.' (a DNS label must end
 * alphanumeric), then appends "-<hash of full>". */
static void shorten(char *out, size_t out_size, const char *full, size_t keep)
{
	size_t n = strlen(full) < keep ? strlen(full) : keep;

	while (n > 0 && (full[n - 1] == '-' || full[n - 1] == '.'))
		n--;
	snprintf(out, out_size, "%.*s-%0*" PRIx64, (int)n, full, HASH_HEX,
		 (uint64_t)(hash_str(full) & ((1ULL << (4 * HASH_HEX)) - 1)));
}

void configmap_name(char out[CONFIGMAP_NAME_MAX + 1], const char *pod_name, const char *pcmc_name)
{
	char *full;

	if (asprintf(&full, "pod-%s-from-%s-cfg", pod_name, pcmc_name) < 0) {
		out[0] = '\0';
		return;
	}
	if (strlen(full) <= CONFIGMAP_NAME_MAX)
		snprintf(out, CONFIGMAP_NAME_MAX + 1, "%s", full);
	else
		shorten(out, CONFIGMAP_NAME_MAX + 1, full, CONFIGMAP_NAME_MAX - 1 - HASH_HEX);
	free(full);
}

void pcmc_label_value(char out[LABEL_VALUE_MAX + 1], const char *pcmc_name)
{
	if (strlen(pcmc_name) <= LABEL_VALUE_MAX)
		snprintf(out, LABEL_VALUE_MAX + 1, "%s", pcmc_name);
	else
		shorten(out, LABEL_VALUE_MAX + 1, pcmc_name, LABEL_VALUE_MAX - 1 - HASH_HEX);
}

uint64_t configmap_fingerprint(struct kv_list *data, const char *generated_by, const char *pod_uid_label,
			       const char *pcmc_name, const char *owner_uid, const char *owner_name, bool owner_controls)
{
	const char *parts[] = { generated_by, pod_uid_label, pcmc_name, owner_uid, owner_name,
				owner_controls ? "controller" : "" };
	uint64_t h = FNV1A64_INIT;

	kv_sort(data);
	for (size_t i = 0; i < data->len; i++) {
		h = fnv1a64(h, data->items[i].key, strlen(data->items[i].key) + 1);
		h = fnv1a64(h, data->items[i].value, strlen(data->items[i].value) + 1);
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = fnv1a64(h, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 1);
	return h;
}

int configmap_data_key(char out[CONFIGMAP_KEY_MAX + 1], const char *prefix, const char *key)
{
	size_t np = strlen(prefix), nk = strlen(key);

	out[0] = '\0';
	if (!nk || np + nk > CONFIGMAP_KEY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nk; i++) {
		char c = key[i] == '/' ? '_' : key[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '-' &&
		    c != '_' && c != '.')
			return -EINVAL;
		out[np + i] = c;
	}
	memcpy(out, prefix, np);
	out[np + nk] = '\0';
	return 0;
}

static const char *bool_str(bool b)
{
	return b ? "true" : "false";
}

/* Appends item to a growing comma list; false on allocation failure. */
static bool csv_add(char **csv, size_t *len, const char *item, const char *sep)
{
	size_t n = strlen(item), s = *len ? strlen(sep) : 0;
	char *nb = realloc(*csv, *len + s + n + 1);

	if (!nb)
		return false;
	memcpy(nb + *len, sep, s);
	memcpy(nb + *len + s, item, n + 1);
	*csv = nb;
	*len += s + n;
	return true;
}

/* The ConfigMap's one rendering of the typed sets: "22,80", "read,write". NULL on no memory. */
static char *ports_csv(const struct port_set *ports)
{
	char *csv = strdup(""), num[8];
	size_t len = 0;

	for (uint16_t i = 0; csv && i < ports->n; i++) {
		snprintf(num, sizeof(num), "%u", ports->ports[i]);
		if (!csv_add(&csv, &len, num, ",")) {
			free(csv);
			return NULL;
		}
	}
	return csv;
}

static char *names_csv(const struct syscall_names *names)
{
	char *csv = strdup("");
	size_t len = 0;

	for (uint16_t i = 0; csv && i < names->n; i++) {
		if (!csv_add(&csv, &len, names->names[i], ",")) {
			free(csv);
			return NULL;
		}
	}
	return csv;
}

/* Keys for one ebpf_config: `prefix` + name, for the CR's own settings and for the effective ones. */
static int config_keys(struct kv_list *data, const char *prefix, const struct ebpf_config *c, const char *interval)
{
	char *names = names_csv(&c->syscall_monitoring.names), *allowed = ports_csv(&c->l4_firewall.allowed);
	char *blocked = ports_csv(&c->l4_firewall.blocked), key[64];
	const struct { const char *name, *value; } keys[] = {
		{ "syscall_monitoring_enabled", bool_str(c->syscall_monitoring.enabled) },
		{ "syscall_names", names },
		{ "l4_firewall_enabled", bool_str(c->l4_firewall.enabled) },
		{ "allowed_ports", allowed },
		{ "blocked_ports", blocked },
		{ "default_action", c->l4_firewall.default_block ? "block" : "allow" },
		{ "metrics_export_enabled", bool_str(c->metrics_export.enabled) },
		{ "update_interval", interval },
	};
	int err = names && allowed && blocked ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "%s%s", prefix, keys[i].name);
		err = kv_append(data, key, keys[i].value);
	}
	free(names);
	free(allowed);
	free(blocked);
	return err;
}

/* The CR's own eBPF settings, under pcmc's keys and the Go PodConfigMapController's keys. */
static int ebpf_keys(struct kv_list *data, const struct ebpf_settings *e)
{
	const struct ebpf_config *c = &e->config;
	const struct { const char *key, *value; } go_keys[] = {
		{ "ebpf_enabled", bool_str(e->present) },
		{ "ebpf_syscall_monitoring", bool_str(c->syscall_monitoring.enabled) },
		{ "ebpf_l4_firewall", bool_str(c->l4_firewall.enabled) },
		{ "ebpf_l4_firewall_default_action", c->l4_firewall.default_block ? "block" : "allow" },
		{ "ebpf_metrics_export", bool_str(c->metrics_export.enabled) },
	};
	int err = config_keys(data, "ebpf_", c, e->update_interval ? e->update_interval : "");

	for (size_t i = 0; !err && i < sizeof(go_keys) / sizeof(go_keys[0]); i++)
		err = kv_append(data, go_keys[i].key, go_keys[i].value);
	return err;
}

/* What the pod gets after merging: ebpf_effective_* keys, the merged CRs and those left out. */
static int effective_keys(struct kv_list *data, const struct pod_policy *pp)
{
	const struct ebpf_config *c = &pp->policy.config;
	char *from = strdup(""), *left = strdup(""), interval[32] = "";
	size_t nfrom = 0, nleft = 0;
	bool ok = from && left;
	int err;

	for (size_t i = 0; ok && i < pp->ncrs; i++)
		ok = csv_add(&from, &nfrom, pp->crs[i], ",");
	for (size_t i = 0; ok && i < pp->nleft_out; i++) {
		char item[POD_POLICY_WHY_MAX + 256];

		snprintf(item, sizeof(item), "%s: %s", pp->left_out[i].cr, pp->left_out[i].why);
		ok = csv_add(&left, &nleft, item, "; ");
	}
	if (ok && pp->why[0] && !pp->ncrs)
		ok = csv_add(&left, &nleft, pp->why, "; ");
	if (c->metrics_export.enabled)
		duration_format(c->metrics_export.update_interval_ns, interval, sizeof(interval));
	err = ok ? config_keys(data, "ebpf_effective_", c, interval) : -ENOMEM;
	err = err ?: kv_append(data, "ebpf_effective_from", from);
	err = err ?: kv_append(data, "ebpf_effective_left_out", left);
	free(from);
	free(left);
	return err;
}

int configmap_desired(const struct pod *pod, const struct pcmc *pcmc, const struct pod_policy *effective,
		      struct desired_configmap *out)
{
	const struct ebpf_settings *e = &pcmc->ebpf;
	char key[CONFIGMAP_KEY_MAX + 1];
	int err = 0;

	memset(out, 0, sizeof(*out));
	configmap_name(out->name, pod->meta.name, pcmc->meta.name);
	pcmc_label_value(out->pcmc_label, pcmc->meta.name);
	out->pod_name = strdup(pod->meta.name);
	out->pod_uid = strdup(pod->meta.uid ? pod->meta.uid : "");
	out->pcmc_name = strdup(pcmc->meta.name);
	if (!out->pod_name || !out->pod_uid || !out->pcmc_name)
		err = -ENOMEM;

	err = err ?: kv_append(&out->data, "podName", pod->meta.name);
	err = err ?: kv_append(&out->data, "namespace", pod->meta.namespace);
	err = err ?: kv_append(&out->data, "nodeName", pod->node_name ? pod->node_name : "");
	err = err ?: kv_append(&out->data, "phase", pod->phase ? pod->phase : "");
	for (size_t i = 0; !err && i < pcmc->nlabels; i++) {
		const char *v = kv_get(&pod->labels, pcmc->labels_to_include[i]);

		if (v && configmap_data_key(key, DATA_KEY_LABEL_PREFIX, pcmc->labels_to_include[i]) == 0)
			err = kv_set(&out->data, key, v);
	}
	for (size_t i = 0; !err && i < pcmc->nannotations; i++) {
		const char *v = kv_get(&pod->annotations, pcmc->annotations_to_include[i]);

		if (v && configmap_data_key(key, DATA_KEY_ANNOTATION_PREFIX, pcmc->annotations_to_include[i]) == 0)
			err = kv_set(&out->data, key, v);
	}
	err = err ?: ebpf_keys(&out->data, e);
	if (effective)
		err = err ?: effective_keys(&out->data, effective);
	err = err ?: kv_append(&out->data, "pcmcName", pcmc->meta.name);
	if (err) {
		desired_configmap_clear(out);
		return -ENOMEM;
	}
	out->fingerprint = configmap_fingerprint(&out->data, out->pcmc_label, out->pod_uid, out->pcmc_name,
						 out->pod_uid, out->pod_name, true);
	return 0;
}

void desired_configmap_clear(struct desired_configmap *d)
{
	free(d->pod_name);
	free(d->pod_uid);
	free(d->pcmc_name);
	kv_clear(&d->data);
	memset(d, 0, sizeof(*d));
}

cJSON *configmap_body(const struct desired_configmap *d, const char *namespace)
{
	cJSON *cm = cJSON_CreateObject(), *meta, *labels, *annotations, *owners, *owner, *data;

	if (!cm)
		return NULL;
	cJSON_AddStringToObject(cm, "apiVersion", "v1");
	cJSON_AddStringToObject(cm, "kind", "ConfigMap");
	meta = cJSON_AddObjectToObject(cm, "metadata");
	cJSON_AddStringToObject(meta, "name", d->name);
	cJSON_AddStringToObject(meta, "namespace", namespace);
	labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON_AddStringToObject(labels, LABEL_GENERATED_BY, d->pcmc_label);
	cJSON_AddStringToObject(labels, LABEL_POD_UID, d->pod_uid);
	annotations = cJSON_AddObjectToObject(meta, "annotations");
	cJSON_AddStringToObject(annotations, ANNOTATION_PCMC_NAME, d->pcmc_name);
	owners = cJSON_AddArrayToObject(meta, "ownerReferences");
	owner = cJSON_CreateObject();
	cJSON_AddItemToArray(owners, owner);
	cJSON_AddStringToObject(owner, "apiVersion", "v1");
	cJSON_AddStringToObject(owner, "kind", "Pod");
	cJSON_AddStringToObject(owner, "name", d->pod_name);
	cJSON_AddStringToObject(owner, "uid", d->pod_uid);
	cJSON_AddBoolToObject(owner, "controller", 1);
	cJSON_AddBoolToObject(owner, "blockOwnerDeletion", 1);
	data = kv_to_json(&d->data);
	if (!data) {
		cJSON_Delete(cm);
		return NULL;
	}
	cJSON_AddItemToObject(cm, "data", data);
	return cm;
}
