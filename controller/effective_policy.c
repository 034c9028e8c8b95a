/* Merge rules: sections add up (enabled if any selecting CR enables them); syscall names and
 * allowed ports are unions, blocked ports a union that wins over allowed, defaultAction block
 * wins, the shortest updateInterval wins. CRs with a section disabled have no say in it. */
#include "controller/effective_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/syscall_table.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const unsigned short *)a - (int)*(const unsigned short *)b;
}

/* Parses "22,80" into a sorted unique set; at most `max` (else -E2BIG). */
static int ports_parse(const char *csv, unsigned short *out, size_t max, size_t *n)
{
	const char *s = csv ? csv : "";

	*n = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 65535)
			return -EINVAL;
		bool dup = false;
		for (size_t i = 0; i < *n; i++)
			dup |= out[i] == v;
		if (!dup) {
			if (*n == max)
				return -E2BIG;
			out[(*n)++] = (unsigned short)v;
		}
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	qsort(out, *n, sizeof(*out), cmp_port);
	return 0;
}

static bool ports_equal(const unsigned short *a, size_t na, const unsigned short *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Adds the ports of `add` to the sorted set `set`. */
static int ports_union(unsigned short *set, size_t *n, const unsigned short *add, size_t nadd)
{
	for (size_t i = 0; i < nadd; i++) {
		if (bsearch(&add[i], set, *n, sizeof(*set), cmp_port))
			continue;
		if (*n == EFFECTIVE_MAX_PORTS)
			return -E2BIG;
		set[(*n)++] = add[i];
		qsort(set, *n, sizeof(*set), cmp_port);
	}
	return 0;
}

/* The names of a comma list, sorted and unique, into a newly allocated string "a,b" form. */
static char *names_canonical(const char *csv)
{
	char *copy = strdup(csv ? csv : ""), *tok, *save = NULL, **v = NULL, *out;
	size_t n = 0, len = 1;

	if (!copy)
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			free(v);
			free(copy);
			return NULL;
		}
		v = nv;
		v[n++] = tok;
		len += strlen(tok) + 1;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	out = calloc(1, len);
	for (size_t i = 0; out && i < n; i++) {
		if (i && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (*out)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	free(v);
	free(copy);
	return out;
}

static int syscalls_add(struct effective_policy *p, const char *csv)
{
	char *copy = strdup(csv ? csv : ""), *tok, *save = NULL;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		if (p->nsyscalls && bsearch(&tok, p->syscalls, p->nsyscalls, sizeof(char *), cmp_str))
			continue;
		if (p->nsyscalls == EFFECTIVE_MAX_SYSCALLS) {
			err = -E2BIG;
			break;
		}
		p->syscalls[p->nsyscalls] = strdup(tok);
		if (!p->syscalls[p->nsyscalls]) {
			err = -ENOMEM;
			break;
		}
		p->nsyscalls++;
		qsort(p->syscalls, p->nsyscalls, sizeof(char *), cmp_str);
	}
	free(copy);
	return err;
}

/* An updateInterval in milliseconds, by the one duration grammar of pcmc (common/duration.h). */
static int interval_ms(const char *s, long long *ms)
{
	int64_t ns;
	int err = duration_parse(s, &ns);

	if (!err)
		*ms = (long long)(ns / 1000000);
	return err;
}

void effective_policy_clear(struct effective_policy *p)
{
	for (size_t i = 0; i < p->nsyscalls; i++)
		free(p->syscalls[i]);
	memset(p, 0, sizeof(*p));
}

bool effective_policy_wanted(const struct effective_policy *p)
{
	return p->syscall_enabled || p->firewall_enabled || p->metrics_enabled;
}

int effective_policy_merge(const struct ebpf_settings *const *inputs, size_t n, struct effective_policy *out,
			   char *why, size_t why_len)
{
	unsigned short allowed[EFFECTIVE_MAX_PORTS], blocked[EFFECTIVE_MAX_PORTS];
	unsigned short first_allowed[EFFECTIVE_MAX_PORTS], first_blocked[EFFECTIVE_MAX_PORTS];
	size_t nallowed, nblocked, nfirst_allowed = 0, nfirst_blocked = 0;
	char *first_names = NULL;
	const char *first_action = NULL;
	long long first_interval = -1;
	bool seen_fw = false, seen_sys = false;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (why && why_len)
		why[0] = '\0';
	for (size_t i = 0; i < n && !err; i++) {
		const struct ebpf_settings *e = inputs[i];

		if (e->syscall_monitoring_enabled) {
			char *names = names_canonical(e->syscall_names);

			if (!names) {
				err = -ENOMEM;
				break;
			}
			out->syscall_enabled = true;
			if (!seen_sys) {
				seen_sys = true;
				first_names = names;
			} else {
				if (strcmp(first_names, names) != 0)
					out->conflicts |= CONFLICT_SYSCALL_NAMES;
				free(names);
			}
			err = syscalls_add(out, e->syscall_names);
			if (err == -E2BIG && why)
				snprintf(why, why_len, "the selecting PodConfigMapConfigs name more than %d syscalls together",
					 EFFECTIVE_MAX_SYSCALLS);
		}
		if (!err && e->l4_firewall_enabled) {
			bool block = e->default_action && strcmp(e->default_action, "block") == 0;

			if (ports_parse(e->allowed_ports, allowed, EFFECTIVE_MAX_PORTS, &nallowed) ||
			    ports_parse(e->blocked_ports, blocked, EFFECTIVE_MAX_PORTS, &nblocked)) {
				err = -EINVAL;
				if (why)
					snprintf(why, why_len, "invalid port list");
				break;
			}
			out->firewall_enabled = true;
			out->default_block |= block;
			if (!seen_fw) {
				seen_fw = true;
				memcpy(first_allowed, allowed, nallowed * sizeof(*allowed));
				memcpy(first_blocked, blocked, nblocked * sizeof(*blocked));
				nfirst_allowed = nallowed;
				nfirst_blocked = nblocked;
				first_action = block ? "block" : "allow";
			} else {
				if (!ports_equal(first_allowed, nfirst_allowed, allowed, nallowed))
					out->conflicts |= CONFLICT_ALLOWED_PORTS;
				if (!ports_equal(first_blocked, nfirst_blocked, blocked, nblocked))
					out->conflicts |= CONFLICT_BLOCKED_PORTS;
				if (strcmp(first_action, block ? "block" : "allow") != 0)
					out->conflicts |= CONFLICT_DEFAULT_ACTION;
			}
			err = ports_union(out->allowed, &out->nallowed, allowed, nallowed);
			if (!err)
				err = ports_union(out->blocked, &out->nblocked, blocked, nblocked);
			if (err == -E2BIG && why)
				snprintf(why, why_len, "the selecting PodConfigMapConfigs list more than %d ports together",
					 EFFECTIVE_MAX_PORTS);
		}
		if (!err && e->metrics_export_enabled) {
			const char *iv = e->update_interval && *e->update_interval ? e->update_interval : "30s";
			long long ms;

			if (interval_ms(iv, &ms) || strlen(iv) >= sizeof(out->update_interval)) {
				err = -EINVAL;
				if (why)
					snprintf(why, why_len, "invalid updateInterval %s", iv);
				break;
			}
			if (first_interval >= 0 && ms != first_interval)
				out->conflicts |= CONFLICT_UPDATE_INTERVAL;
			if (first_interval < 0)
				first_interval = ms;
			if (!out->metrics_enabled || ms < out->update_interval_ms) {
				out->update_interval_ms = ms;
				snprintf(out->update_interval, sizeof(out->update_interval), "%s", iv);
			}
			out->metrics_enabled = true;
		}
	}
	free(first_names);
	if (!err) {
		/* Blocked wins: a port some CR blocks is never allowed. */
		size_t k = 0;

		for (size_t i = 0; i < out->nallowed; i++)
			if (!bsearch(&out->allowed[i], out->blocked, out->nblocked, sizeof(*out->blocked), cmp_port))
				out->allowed[k++] = out->allowed[i];
		out->nallowed = k;
	}
	if (err) {
		effective_policy_clear(out);
		if (err == -ENOMEM && why)
			snprintf(why, why_len, "out of memory");
	}
	return err;
}

cJSON *effective_policy_to_json(const struct effective_policy *p)
{
	cJSON *pol = cJSON_CreateObject(), *s, *a;

	if (!pol)
		return NULL;
	if (p->syscall_enabled) {
		s = cJSON_AddObjectToObject(pol, "syscallMonitoring");
		cJSON_AddBoolToObject(s, "enabled", 1);
		a = cJSON_AddArrayToObject(s, "syscallNames");
		for (size_t i = 0; i < p->nsyscalls; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(p->syscalls[i]));
	}
	if (p->firewall_enabled) {
		s = cJSON_AddObjectToObject(pol, "l4Firewall");
		cJSON_AddBoolToObject(s, "enabled", 1);
		a = cJSON_AddArrayToObject(s, "allowedPorts");
		for (size_t i = 0; i < p->nallowed; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(p->allowed[i]));
		a = cJSON_AddArrayToObject(s, "blockedPorts");
		for (size_t i = 0; i < p->nblocked; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(p->blocked[i]));
		cJSON_AddStringToObject(s, "defaultAction", p->default_block ? "block" : "allow");
	}
	if (p->metrics_enabled) {
		s = cJSON_AddObjectToObject(pol, "metricsExport");
		cJSON_AddBoolToObject(s, "enabled", 1);
		cJSON_AddStringToObject(s, "updateInterval", p->update_interval);
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
	if (node_arch && strcmp(node_arch, "amd64") == 0)
		return "x86_64";
	if (node_arch && strcmp(node_arch, "arm64") == 0)
		return "arm64";
	return NULL;
}

int effective_policy_check_node(const struct ebpf_settings *e, const char *node_arch, char *why, size_t why_len)
{
	const char *arch = table_arch(node_arch);
	char *copy, *tok, *save = NULL;
	int index = 0, err = 0;

	if (why_len)
		why[0] = '\0';
	if (!node_arch || !e->syscall_monitoring_enabled || !e->syscall_names)
		return 0;
	copy = strdup(e->syscall_names);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), index++) {
		bool known = arch ? syscall_table_number_for(arch, tok) >= 0 :
				    syscall_table_number_for("x86_64", tok) >= 0 && syscall_table_number_for("arm64", tok) >= 0;

		if (known)
			continue;
		if (arch)
			snprintf(why, why_len, "spec.ebpfConfig.syscallMonitoring.syscallNames[%d]: %s is not a syscall of %s",
				 index, tok, arch);
		else
			snprintf(why, why_len,
				 "spec.ebpfConfig.syscallMonitoring.syscallNames[%d]: %s is not a syscall of every "
				 "architecture, and the node's kubernetes.io/arch (%s) is not one pcmc knows",
				 index, tok, *node_arch ? node_arch : "absent");
		err = -EINVAL;
		break;
	}
	free(copy);
	return err;
}

/* Appends whole pieces only: a piece that does not fit ends the text with "; and more". */
struct text {
	char *buf;
	size_t len, used;
	bool full;
};

#define TEXT_MORE "; and more"

static void text_add(struct text *t, const char *fmt, ...)
{
	char piece[512];
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(piece) || t->used + (size_t)n + sizeof(TEXT_MORE) > t->len) {
		t->full = true;
		if (t->used + sizeof(TEXT_MORE) <= t->len) {
			memcpy(t->buf + t->used, TEXT_MORE, sizeof(TEXT_MORE));
			t->used += sizeof(TEXT_MORE) - 1;
		}
		return;
	}
	memcpy(t->buf + t->used, piece, (size_t)n + 1);
	t->used += (size_t)n;
}

static bool has_port(const char *csv, unsigned short port)
{
	unsigned short v[EFFECTIVE_MAX_PORTS];
	size_t n;

	if (ports_parse(csv, v, EFFECTIVE_MAX_PORTS, &n))
		return false;
	return bsearch(&port, v, n, sizeof(*v), cmp_port) != NULL;
}

/* The first other CR (in input order) with the firewall on whose `list` holds port. */
static const char *who_lists(const struct ebpf_settings *const *inputs, const char *const *names, size_t n, size_t self,
			     bool blocked, unsigned short port)
{
	for (size_t i = 0; i < n; i++)
		if (i != self && inputs[i]->l4_firewall_enabled &&
		    has_port(blocked ? inputs[i]->blocked_ports : inputs[i]->allowed_ports, port))
			return names[i];
	return NULL;
}

static bool blocks_by_default(const struct ebpf_settings *e)
{
	return e->default_action && strcmp(e->default_action, "block") == 0;
}

/* "l4Firewall.blockedPorts: shop/strict adds 7000, 7001": the ports of another CR's list that
 * neither list of this CR has (at most 8 shown). */
static void explain_added_ports(struct text *t, const char **sep, const char *field, const char *csv,
				const struct ebpf_settings *me, const char *namespace, const char *other)
{
	unsigned short v[EFFECTIVE_MAX_PORTS];
	char shown[64] = "";
	size_t n, used = 0, added = 0;

	if (ports_parse(csv, v, EFFECTIVE_MAX_PORTS, &n))
		return;
	for (size_t k = 0; k < n; k++) {
		if (has_port(me->blocked_ports, v[k]) || has_port(me->allowed_ports, v[k]))
			continue;
		if (added++ < 8)
			used += (size_t)snprintf(shown + used, sizeof(shown) - used, "%s%u", used ? ", " : "", v[k]);
	}
	if (!added)
		return;
	if (added > 8)
		text_add(t, "%sl4Firewall.%s: %s/%s adds %s and %zu more", *sep, field, namespace, other, shown, added - 8);
	else
		text_add(t, "%sl4Firewall.%s: %s/%s adds %s", *sep, field, namespace, other, shown);
	*sep = "; ";
}

void effective_policy_explain(const struct ebpf_settings *const *inputs, const char *const *names, size_t n,
			      size_t self, const char *namespace, char *out, size_t len)
{
	const struct ebpf_settings *me = inputs[self];
	struct text t = { out, len, 0, false };
	const char *sep = "";

	if (len)
		out[0] = '\0';
	if (len < sizeof(TEXT_MORE) + 1 || self >= n)
		return;
	if (me->syscall_monitoring_enabled) {
		for (size_t i = 0; i < n; i++) {
			char *a, *b;
			bool differ;

			if (i == self || !inputs[i]->syscall_monitoring_enabled)
				continue;
			a = names_canonical(me->syscall_names);
			b = names_canonical(inputs[i]->syscall_names);
			differ = a && b && strcmp(a, b) != 0;
			free(a);
			free(b);
			if (differ) {
				text_add(&t, "%ssyscallMonitoring.syscallNames: the names of all of them are counted", sep);
				sep = "; ";
				break;
			}
		}
	}
	if (me->l4_firewall_enabled) {
		unsigned short mine[EFFECTIVE_MAX_PORTS];
		size_t nmine = 0;

		/* A port this CR allows that another blocks: blocked wins. */
		if (!ports_parse(me->allowed_ports, mine, EFFECTIVE_MAX_PORTS, &nmine)) {
			for (size_t k = 0; k < nmine; k++) {
				const char *other = who_lists(inputs, names, n, self, true, mine[k]);

				if (other) {
					text_add(&t, "%sl4Firewall.allowedPorts: port %u allowed here is blocked by %s/%s (blocked wins)",
						 sep, mine[k], namespace, other);
					sep = "; ";
				}
			}
		}
		/* A port this CR blocks that another allows: this one wins. */
		if (!ports_parse(me->blocked_ports, mine, EFFECTIVE_MAX_PORTS, &nmine)) {
			for (size_t k = 0; k < nmine; k++) {
				const char *other = who_lists(inputs, names, n, self, false, mine[k]);

				if (other) {
					text_add(&t, "%sl4Firewall.blockedPorts: port %u blocked here stays blocked although %s/%s allows it (blocked wins)",
						 sep, mine[k], namespace, other);
					sep = "; ";
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (i == self || !inputs[i]->l4_firewall_enabled)
				continue;
			if (blocks_by_default(inputs[i]) && !blocks_by_default(me)) {
				text_add(&t, "%sl4Firewall.defaultAction: block from %s/%s wins over allow here", sep, namespace,
					 names[i]);
				sep = "; ";
				break;
			}
			if (!blocks_by_default(inputs[i]) && blocks_by_default(me)) {
				text_add(&t, "%sl4Firewall.defaultAction: block here wins over allow from %s/%s", sep, namespace,
					 names[i]);
				sep = "; ";
				break;
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (i == self || !inputs[i]->l4_firewall_enabled)
				continue;
			explain_added_ports(&t, &sep, "blockedPorts", inputs[i]->blocked_ports, me, namespace, names[i]);
			explain_added_ports(&t, &sep, "allowedPorts", inputs[i]->allowed_ports, me, namespace, names[i]);
		}
	}
	if (me->metrics_export_enabled) {
		const char *mine_iv = me->update_interval && *me->update_interval ? me->update_interval : "30s";
		long long my_ms, best_ms = -1, ms;
		size_t best = n;

		if (interval_ms(mine_iv, &my_ms) == 0) {
			for (size_t i = 0; i < n; i++) {
				const char *iv = inputs[i]->update_interval && *inputs[i]->update_interval ?
							 inputs[i]->update_interval : "30s";

				if (i == self || !inputs[i]->metrics_export_enabled || interval_ms(iv, &ms))
					continue;
				if (ms < my_ms && (best_ms < 0 || ms < best_ms)) {
					best_ms = ms;
					best = i;
				}
			}
			if (best < n)
				text_add(&t, "%smetricsExport.updateInterval: %s from %s/%s wins over %s here (the shortest wins)",
					 sep, inputs[best]->update_interval && *inputs[best]->update_interval ?
						      inputs[best]->update_interval : "30s",
					 namespace, names[best], mine_iv);
		}
	}
}
