/* spec.ebpfConfig -> struct ebpf_settings. The API server validates all of it; what an older
 * object (stored before the CRD had a rule) still gets wrong is reported with its field path. */
#include "controller/ebpf_settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *str_at(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
}

static bool bool_at(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(obj, key));
}

/* Keeps the first problem of an enabled feature (a disabled one has no say). */
static void invalid(struct ebpf_settings *e, bool enabled, const char *path, const char *what)
{
	if (enabled && !e->invalid[0])
		snprintf(e->invalid, sizeof(e->invalid), "%s: %s", path, what);
}

static int decode_names(struct ebpf_settings *e, const cJSON *list, bool enabled)
{
	int count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0, i = 0;
	const cJSON *it;

	e->syscall_names = calloc((size_t)count + 1, sizeof(char *));
	if (!e->syscall_names)
		return -ENOMEM;
	cJSON_ArrayForEach(it, list) {
		const char *name = cJSON_GetStringValue(it);
		char path[80];
		int err;

		snprintf(path, sizeof(path), "spec.ebpfConfig.syscallMonitoring.syscallNames[%d]", i++);
		if (!name) {
			invalid(e, enabled, path, "not a string");
			continue;
		}
		if (!(e->syscall_names[e->nsyscall_names] = strdup(name)))
			return -ENOMEM;
		e->nsyscall_names++;
		err = syscall_names_add(&e->config.syscall_monitoring.names, name);
		if (err == -ENOMEM)
			return err;
		if (err == -EINVAL)
			invalid(e, enabled, path, "not a syscall name");
		else if (err == -E2BIG)
			invalid(e, enabled, path, "past the limit of " STR(POLICY_MAX_SYSCALL_NAMES) " syscall names");
	}
	return 0;
}

static int decode_ports(struct ebpf_settings *e, struct port_set *set, const cJSON *list, const char *field,
			bool enabled)
{
	const cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, list) {
		double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
		char path[80];
		int err;

		snprintf(path, sizeof(path), "spec.ebpfConfig.l4Firewall.%s[%d]", field, i++);
		err = v >= 0 && v == floor(v) && v <= 65535 ? port_set_add(set, (unsigned)v) : -EINVAL;
		if (err == -ENOMEM)
			return err;
		if (err == -EINVAL)
			invalid(e, enabled, path, "not a port (1-65535)");
		else if (err == -E2BIG)
			invalid(e, enabled, path, "past the limit of " STR(POLICY_MAX_PORTS) " ports");
	}
	return 0;
}

int ebpf_settings_decode(struct ebpf_settings *e, const cJSON *cfg)
{
	const cJSON *sys = cJSON_GetObjectItem(cfg, "syscallMonitoring");
	const cJSON *fw = cJSON_GetObjectItem(cfg, "l4Firewall");
	const cJSON *mx = cJSON_GetObjectItem(cfg, "metricsExport");
	const char *action = str_at(fw, "defaultAction"), *interval = str_at(mx, "updateInterval");
	struct ebpf_config *c = &e->config;
	int err;

	memset(e, 0, sizeof(*e));
	ebpf_config_init(c);
	e->present = cJSON_IsObject(cfg);
	c->syscall_monitoring.enabled = bool_at(sys, "enabled");
	c->l4_firewall.enabled = bool_at(fw, "enabled");
	c->metrics_export.enabled = bool_at(mx, "enabled");
	err = decode_names(e, cJSON_GetObjectItem(sys, "syscallNames"), c->syscall_monitoring.enabled);
	err = err ?: decode_ports(e, &c->l4_firewall.allowed, cJSON_GetObjectItem(fw, "allowedPorts"), "allowedPorts",
				  c->l4_firewall.enabled);
	err = err ?: decode_ports(e, &c->l4_firewall.blocked, cJSON_GetObjectItem(fw, "blockedPorts"), "blockedPorts",
				  c->l4_firewall.enabled);
	e->update_interval = strdup(interval ? interval : "");
	if (err || !e->update_interval) {
		ebpf_settings_clear(e);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < c->l4_firewall.allowed.n; i++) {
		char what[64];

		if (!port_set_contains(&c->l4_firewall.blocked, c->l4_firewall.allowed.ports[i]))
			continue;
		snprintf(what, sizeof(what), "port %u is in allowedPorts too", c->l4_firewall.allowed.ports[i]);
		invalid(e, c->l4_firewall.enabled, "spec.ebpfConfig.l4Firewall.blockedPorts", what);
	}
	c->l4_firewall.default_block = action && strcmp(action, "block") == 0;
	if (action && strcmp(action, "block") != 0 && strcmp(action, "allow") != 0)
		invalid(e, c->l4_firewall.enabled, "spec.ebpfConfig.l4Firewall.defaultAction", "neither allow nor block");
	if (interval) {
		int64_t ns;

		if (duration_parse(interval, &ns) || ns < POLICY_INTERVAL_MIN_NS || ns > POLICY_INTERVAL_MAX_NS)
			invalid(e, c->metrics_export.enabled, "spec.ebpfConfig.metricsExport.updateInterval",
				"not a duration between 1s and 1h");
		else
			c->metrics_export.update_interval_ns = ns;
	}
	if (!c->syscall_monitoring.enabled && e->nsyscall_names)
		e->ignored |= IGNORED_SYSCALL_NAMES;
	if (!c->l4_firewall.enabled && c->l4_firewall.allowed.n)
		e->ignored |= IGNORED_ALLOWED_PORTS;
	if (!c->l4_firewall.enabled && c->l4_firewall.blocked.n)
		e->ignored |= IGNORED_BLOCKED_PORTS;
	if (!c->l4_firewall.enabled && c->l4_firewall.default_block)
		e->ignored |= IGNORED_DEFAULT_BLOCK;
	/* 30s is the API server's default: only another value was written by someone. */
	if (!c->metrics_export.enabled && interval && strcmp(interval, "30s") != 0)
		e->ignored |= IGNORED_UPDATE_INTERVAL;
	return 0;
}

void ebpf_settings_clear(struct ebpf_settings *e)
{
	ebpf_config_clear(&e->config);
	for (size_t i = 0; e->syscall_names && i < e->nsyscall_names; i++)
		free(e->syscall_names[i]);
	free(e->syscall_names);
	free(e->update_interval);
	e->syscall_names = NULL;
	e->nsyscall_names = 0;
	e->update_interval = NULL;
}
