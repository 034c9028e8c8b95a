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

void effective_policy_init(struct effective_policy *p)
{
	memset(p, 0, sizeof(*p));
	ebpf_config_init(&p->config);
}

void effective_policy_clear(struct effective_policy *p)
{
	ebpf_config_clear(&p->config);
	p->conflicts = 0;
	p->first_sys = p->first_fw = p->first_mx = NULL;
}

bool effective_policy_wanted(const struct effective_policy *p)
{
	return ebpf_config_wanted(&p->config);
}

int effective_policy_add(struct effective_policy *p, const struct ebpf_settings *e, char *why, size_t why_len)
{
	const struct ebpf_config *c = &e->config;
	struct ebpf_config *m = &p->config;
	struct port_set allowed = { 0 }, blocked = { 0 };
	int err = 0;

	if (why && why_len)
		why[0] = '\0';
	if (e->invalid[0]) {
		if (why)
			snprintf(why, why_len, "%s", e->invalid);
		return -EINVAL;
	}
	/* The new port sets aside, then the names (a union that leaves its set unchanged on failure),
	 * then everything is committed: a CR that does not fit changes nothing. */
	if (c->l4_firewall.enabled) {
		err = port_set_copy(&allowed, &m->l4_firewall.allowed) ?: port_set_union(&allowed, &c->l4_firewall.allowed);
		err = err ?: port_set_copy(&blocked, &m->l4_firewall.blocked) ?: port_set_union(&blocked, &c->l4_firewall.blocked);
		if (err == -E2BIG && why)
			snprintf(why, why_len, "the selecting PodConfigMapConfigs list more than %d ports together",
				 POLICY_MAX_PORTS);
	}
	if (!err && c->syscall_monitoring.enabled) {
		err = syscall_names_union(&m->syscall_monitoring.names, &c->syscall_monitoring.names);
		if (err == -E2BIG && why)
			snprintf(why, why_len, "the selecting PodConfigMapConfigs name more than %d syscalls together",
				 POLICY_MAX_SYSCALL_NAMES);
	}
	if (err) {
		port_set_clear(&allowed);
		port_set_clear(&blocked);
		return err;
	}
	if (c->l4_firewall.enabled) {
		port_set_clear(&m->l4_firewall.allowed);
		port_set_clear(&m->l4_firewall.blocked);
		m->l4_firewall.allowed = allowed;
		m->l4_firewall.blocked = blocked;
	}
	if (c->syscall_monitoring.enabled) {
		if (p->first_sys && !syscall_names_equal(&p->first_sys->syscall_monitoring.names, &c->syscall_monitoring.names))
			p->conflicts |= CONFLICT_SYSCALL_NAMES;
		p->first_sys = p->first_sys ? p->first_sys : c;
		m->syscall_monitoring.enabled = true;
	}
	if (c->l4_firewall.enabled) {
		if (p->first_fw) {
			if (!port_set_equal(&p->first_fw->l4_firewall.allowed, &c->l4_firewall.allowed))
				p->conflicts |= CONFLICT_ALLOWED_PORTS;
			if (!port_set_equal(&p->first_fw->l4_firewall.blocked, &c->l4_firewall.blocked))
				p->conflicts |= CONFLICT_BLOCKED_PORTS;
			if (p->first_fw->l4_firewall.default_block != c->l4_firewall.default_block)
				p->conflicts |= CONFLICT_DEFAULT_ACTION;
		}
		p->first_fw = p->first_fw ? p->first_fw : c;
		m->l4_firewall.enabled = true;
		m->l4_firewall.default_block |= c->l4_firewall.default_block;
	}
	if (c->metrics_export.enabled) {
		if (p->first_mx && p->first_mx->metrics_export.update_interval_ns != c->metrics_export.update_interval_ns)
			p->conflicts |= CONFLICT_UPDATE_INTERVAL;
		if (!p->first_mx || c->metrics_export.update_interval_ns < m->metrics_export.update_interval_ns)
			m->metrics_export.update_interval_ns = c->metrics_export.update_interval_ns;
		p->first_mx = p->first_mx ? p->first_mx : c;
		m->metrics_export.enabled = true;
	}
	return 0;
}

void effective_policy_finish(struct effective_policy *p)
{
	/* Blocked wins: a port some CR blocks is never allowed. */
	port_set_subtract(&p->config.l4_firewall.allowed, &p->config.l4_firewall.blocked);
}

int effective_policy_merge(const struct ebpf_settings *const *inputs, size_t n, struct effective_policy *out,
			   char *why, size_t why_len)
{
	int err = 0;

	effective_policy_init(out);
	for (size_t i = 0; i < n && !err; i++)
		err = effective_policy_add(out, inputs[i], why, why_len);
	if (!err) {
		effective_policy_finish(out);
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
