/* The words of a Conflict: each field of one CR that the merge with the others changed, the value
 * that won and the CR it came from. Items are added whole; a text that would pass its buffer ends
 * with "; and more" instead of being cut. */
#include "controller/policy_explain.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"

struct text {
	char *buf;
	size_t len, used;
	const char *sep;
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
	if (n < 0 || (size_t)n >= sizeof(piece) ||
	    t->used + strlen(t->sep) + (size_t)n + sizeof(TEXT_MORE) > t->len) {
		t->full = true;
		if (t->used + sizeof(TEXT_MORE) <= t->len) {
			memcpy(t->buf + t->used, TEXT_MORE, sizeof(TEXT_MORE));
			t->used += sizeof(TEXT_MORE) - 1;
		}
		return;
	}
	t->used += (size_t)snprintf(t->buf + t->used, t->len - t->used, "%s%s", t->sep, piece);
	t->sep = "; ";
}

/* The first other CR with the firewall on whose allowed (or blocked) list holds port. */
static const char *who_lists(const struct ebpf_settings *const *inputs, const char *const *names, size_t n, size_t self,
			     bool blocked, unsigned port)
{
	for (size_t i = 0; i < n; i++) {
		const struct ebpf_config *c = &inputs[i]->config;

		if (i != self && c->l4_firewall.enabled &&
		    port_set_contains(blocked ? &c->l4_firewall.blocked : &c->l4_firewall.allowed, port))
			return names[i];
	}
	return NULL;
}

/* "l4Firewall.blockedPorts: shop/strict adds 7000, 7001": ports of another CR's list that neither
 * list of this CR has (at most 8 shown). */
static void added_ports(struct text *t, const char *field, const struct port_set *theirs, const struct ebpf_config *me,
			const char *namespace, const char *other)
{
	char shown[64] = "";
	size_t used = 0, added = 0;

	for (uint16_t k = 0; k < theirs->n; k++) {
		unsigned port = theirs->ports[k];

		if (port_set_contains(&me->l4_firewall.blocked, port) || port_set_contains(&me->l4_firewall.allowed, port))
			continue;
		if (added++ < 8)
			used += (size_t)snprintf(shown + used, sizeof(shown) - used, "%s%u", used ? ", " : "", port);
	}
	if (added > 8)
		text_add(t, "l4Firewall.%s: %s/%s adds %s and %zu more", field, namespace, other, shown, added - 8);
	else if (added)
		text_add(t, "l4Firewall.%s: %s/%s adds %s", field, namespace, other, shown);
}

static void explain_firewall(struct text *t, const struct ebpf_settings *const *inputs, const char *const *names,
			     size_t n, size_t self, const char *namespace)
{
	const struct ebpf_config *me = &inputs[self]->config;

	/* A port this CR allows that another blocks, and the other way round: blocked wins. */
	for (uint16_t k = 0; k < me->l4_firewall.allowed.n; k++) {
		const char *other = who_lists(inputs, names, n, self, true, me->l4_firewall.allowed.ports[k]);

		if (other)
			text_add(t, "l4Firewall.allowedPorts: port %u allowed here is blocked by %s/%s (blocked wins)",
				 me->l4_firewall.allowed.ports[k], namespace, other);
	}
	for (uint16_t k = 0; k < me->l4_firewall.blocked.n; k++) {
		const char *other = who_lists(inputs, names, n, self, false, me->l4_firewall.blocked.ports[k]);

		if (other)
			text_add(t, "l4Firewall.blockedPorts: port %u blocked here stays blocked although %s/%s allows it "
				    "(blocked wins)", me->l4_firewall.blocked.ports[k], namespace, other);
	}
	for (size_t i = 0; i < n; i++) {
		const struct ebpf_config *o = &inputs[i]->config;

		if (i == self || !o->l4_firewall.enabled || o->l4_firewall.default_block == me->l4_firewall.default_block)
			continue;
		if (o->l4_firewall.default_block)
			text_add(t, "l4Firewall.defaultAction: block from %s/%s wins over allow here", namespace, names[i]);
		else
			text_add(t, "l4Firewall.defaultAction: block here wins over allow from %s/%s", namespace, names[i]);
		break;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ebpf_config *o = &inputs[i]->config;

		if (i == self || !o->l4_firewall.enabled)
			continue;
		added_ports(t, "blockedPorts", &o->l4_firewall.blocked, me, namespace, names[i]);
		added_ports(t, "allowedPorts", &o->l4_firewall.allowed, me, namespace, names[i]);
	}
}

/* The interval as the CR wrote it, else in Go's notation. */
static const char *interval_text(const struct ebpf_settings *e, char buf[32])
{
	if (e->update_interval && *e->update_interval)
		return e->update_interval;
	duration_format(e->config.metrics_export.update_interval_ns, buf, 32);
	return buf;
}

void effective_policy_explain(const struct ebpf_settings *const *inputs, const char *const *names, size_t n,
			      size_t self, const char *namespace, char *out, size_t len)
{
	struct text t = { out, len, 0, "", false };
	const struct ebpf_config *me;

	if (len)
		out[0] = '\0';
	if (len < sizeof(TEXT_MORE) + 1 || self >= n)
		return;
	me = &inputs[self]->config;
	for (size_t i = 0; me->syscall_monitoring.enabled && i < n; i++) {
		const struct ebpf_config *o = &inputs[i]->config;

		if (i != self && o->syscall_monitoring.enabled &&
		    !syscall_names_equal(&o->syscall_monitoring.names, &me->syscall_monitoring.names)) {
			text_add(&t, "syscallMonitoring.syscallNames: the names of all of them are counted");
			break;
		}
	}
	if (me->l4_firewall.enabled)
		explain_firewall(&t, inputs, names, n, self, namespace);
	if (me->metrics_export.enabled) {
		size_t best = n;
		char a[32], b[32];

		for (size_t i = 0; i < n; i++) {
			const struct ebpf_config *o = &inputs[i]->config;

			if (i != self && o->metrics_export.enabled &&
			    o->metrics_export.update_interval_ns < me->metrics_export.update_interval_ns &&
			    (best == n || o->metrics_export.update_interval_ns < inputs[best]->config.metrics_export.update_interval_ns))
				best = i;
		}
		if (best < n)
			text_add(&t, "metricsExport.updateInterval: %s from %s/%s wins over %s here (the shortest wins)",
				 interval_text(inputs[best], a), namespace, names[best], interval_text(inputs[self], b));
	}
}
