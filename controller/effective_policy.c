/* Merge rules on the common model's typed sets: sections add up (enabled if any selecting CR
 * enables them); syscall names and allowed ports are unions, blocked ports a union that wins over
 * allowed, defaultAction block wins, the shortest updateInterval wins. CRs with a section disabled
 * have no say in it. And the per-node check of a CR's syscall names. */
#include "controller/effective_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/syscall_table.h"

void effective_policy_clear(struct effective_policy *p)
{
	ebpf_config_clear(&p->config);
	p->conflicts = 0;
}

bool effective_policy_wanted(const struct effective_policy *p)
{
	return ebpf_config_wanted(&p->config);
}

int effective_policy_merge(const struct ebpf_settings *const *inputs, size_t n, struct effective_policy *out,
			   char *why, size_t why_len)
{
	const struct ebpf_config *first_sys = NULL, *first_fw = NULL, *first_mx = NULL;
	struct ebpf_config *m = &out->config;
	int err = 0;

	ebpf_config_init(m);
	out->conflicts = 0;
	if (why && why_len)
		why[0] = '\0';
	for (size_t i = 0; i < n && !err; i++) {
		const struct ebpf_config *c = &inputs[i]->config;

		if (inputs[i]->invalid[0]) {
			err = -EINVAL;
			if (why)
				snprintf(why, why_len, "%s", inputs[i]->invalid);
			break;
		}
		if (c->syscall_monitoring.enabled) {
			if (first_sys && !syscall_names_equal(&first_sys->syscall_monitoring.names, &c->syscall_monitoring.names))
				out->conflicts |= CONFLICT_SYSCALL_NAMES;
			first_sys = first_sys ? first_sys : c;
			m->syscall_monitoring.enabled = true;
			err = syscall_names_union(&m->syscall_monitoring.names, &c->syscall_monitoring.names);
			if (err == -E2BIG && why)
				snprintf(why, why_len, "the selecting PodConfigMapConfigs name more than %d syscalls together",
					 POLICY_MAX_SYSCALL_NAMES);
		}
		if (!err && c->l4_firewall.enabled) {
			if (first_fw) {
				if (!port_set_equal(&first_fw->l4_firewall.allowed, &c->l4_firewall.allowed))
					out->conflicts |= CONFLICT_ALLOWED_PORTS;
				if (!port_set_equal(&first_fw->l4_firewall.blocked, &c->l4_firewall.blocked))
					out->conflicts |= CONFLICT_BLOCKED_PORTS;
				if (first_fw->l4_firewall.default_block != c->l4_firewall.default_block)
					out->conflicts |= CONFLICT_DEFAULT_ACTION;
			}
			first_fw = first_fw ? first_fw : c;
			m->l4_firewall.enabled = true;
			m->l4_firewall.default_block |= c->l4_firewall.default_block;
			err = port_set_union(&m->l4_firewall.allowed, &c->l4_firewall.allowed);
			err = err ?: port_set_union(&m->l4_firewall.blocked, &c->l4_firewall.blocked);
			if (err == -E2BIG && why)
				snprintf(why, why_len, "the selecting PodConfigMapConfigs list more than %d ports together",
					 POLICY_MAX_PORTS);
		}
		if (!err && c->metrics_export.enabled) {
			if (first_mx && first_mx->metrics_export.update_interval_ns != c->metrics_export.update_interval_ns)
				out->conflicts |= CONFLICT_UPDATE_INTERVAL;
			if (!first_mx || c->metrics_export.update_interval_ns < m->metrics_export.update_interval_ns)
				m->metrics_export.update_interval_ns = c->metrics_export.update_interval_ns;
			first_mx = first_mx ? first_mx : c;
			m->metrics_export.enabled = true;
		}
	}
	if (!err) {
		/* Blocked wins: a port some CR blocks is never allowed. */
		port_set_subtract(&m->l4_firewall.allowed, &m->l4_firewall.blocked);
		return 0;
	}
	effective_policy_clear(out);
	if (err == -ENOMEM && why)
		snprintf(why, why_len, "out of memory");
	return err;
}

cJSON *effective_policy_to_json(const struct effective_policy *p)
{
	const struct ebpf_config *c = &p->config;
	cJSON *pol = cJSON_CreateObject(), *s, *a;

	if (!pol)
		return NULL;
	if (c->syscall_monitoring.enabled) {
		s = cJSON_AddObjectToObject(pol, "syscallMonitoring");
		cJSON_AddBoolToObject(s, "enabled", 1);
		a = cJSON_AddArrayToObject(s, "syscallNames");
		for (uint16_t i = 0; i < c->syscall_monitoring.names.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(c->syscall_monitoring.names.names[i]));
	}
	if (c->l4_firewall.enabled) {
		s = cJSON_AddObjectToObject(pol, "l4Firewall");
		cJSON_AddBoolToObject(s, "enabled", 1);
		a = cJSON_AddArrayToObject(s, "allowedPorts");
		for (uint16_t i = 0; i < c->l4_firewall.allowed.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(c->l4_firewall.allowed.ports[i]));
		a = cJSON_AddArrayToObject(s, "blockedPorts");
		for (uint16_t i = 0; i < c->l4_firewall.blocked.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(c->l4_firewall.blocked.ports[i]));
		cJSON_AddStringToObject(s, "defaultAction", c->l4_firewall.default_block ? "block" : "allow");
	}
	if (c->metrics_export.enabled) {
		char iv[32];

		duration_format(c->metrics_export.update_interval_ns, iv, sizeof(iv));
		s = cJSON_AddObjectToObject(pol, "metricsExport");
		cJSON_AddBoolToObject(s, "enabled", 1);
		cJSON_AddStringToObject(s, "updateInterval", iv);
	}
	return pol;
}

void effective_policy_conflict_names(unsigned conflicts, char *out, size_t len)
{
	static const struct { unsigned bit; const char *name; } fields[] = {
		{ CONFLICT_SYSCALL_NAMES, "syscallMonitoring.syscallNames" },
		{ CONFLICT_ALLOWED_PORTS, "l4Firewall.allowedPorts" },
		{ CONFLICT_BLOCKED_PORTS, "l4Firewall.blockedPorts" },
		{ CONFLICT_DEFAULT_ACTION, "l4Firewall.defaultAction" },
		{ CONFLICT_UPDATE_INTERVAL, "metricsExport.updateInterval" },
	};
	size_t used = 0;

	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!(conflicts & fields[i].bit) || used >= len)
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "", fields[i].name);
	}
}

/* The syscall table of a node's kubernetes.io/arch; NULL when pcmc has none for it. */
static const char *table_arch(const char *node_arch)
{
	if (strcmp(node_arch, "amd64") == 0)
		return "x86_64";
	if (strcmp(node_arch, "arm64") == 0)
		return "arm64";
	return NULL;
}

int effective_policy_check_node(const struct ebpf_settings *e, const char *node_arch, char *why, size_t why_len)
{
	const char *arch;

	if (why_len)
		why[0] = '\0';
	if (!node_arch || !e->config.syscall_monitoring.enabled)
		return 0;
	arch = table_arch(node_arch);
	/* The CR's own order, so the path names its own item. */
	for (size_t i = 0; i < e->nsyscall_names; i++) {
		const char *name = e->syscall_names[i];
		bool known = arch ? syscall_table_number_for(arch, name) >= 0 :
				    syscall_table_number_for("x86_64", name) >= 0 && syscall_table_number_for("arm64", name) >= 0;

		if (known)
			continue;
		if (arch)
			snprintf(why, why_len, "spec.ebpfConfig.syscallMonitoring.syscallNames[%zu]: %s is not a syscall of %s",
				 i, name, arch);
		else
			snprintf(why, why_len,
				 "spec.ebpfConfig.syscallMonitoring.syscallNames[%zu]: %s is not a syscall of every "
				 "architecture, and the node's kubernetes.io/arch (%s) is not one pcmc knows",
				 i, name, *node_arch ? node_arch : "absent");
		return -EINVAL;
	}
	return 0;
}
