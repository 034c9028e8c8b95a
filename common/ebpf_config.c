/* The policy model's sets as sorted arrays (a binary search to find, a shift to insert: lists
 * are at most a few hundred items) and the whole config's copy and comparison. */
#include "common/ebpf_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ebpf_config_init(struct ebpf_config *c)
{
	memset(c, 0, sizeof(*c));
	c->metrics_export.update_interval_ns = POLICY_INTERVAL_DEFAULT_NS;
}

void ebpf_config_clear(struct ebpf_config *c)
{
	syscall_names_clear(&c->syscall_monitoring.names);
	port_set_clear(&c->l4_firewall.allowed);
	port_set_clear(&c->l4_firewall.blocked);
	ebpf_config_init(c);
}

int ebpf_config_copy(struct ebpf_config *dst, const struct ebpf_config *src)
{
	int err;

	if (dst == src)
		return 0;
	ebpf_config_clear(dst);
	dst->syscall_monitoring.enabled = src->syscall_monitoring.enabled;
	dst->l4_firewall.enabled = src->l4_firewall.enabled;
	dst->l4_firewall.default_block = src->l4_firewall.default_block;
	dst->metrics_export = src->metrics_export;
	err = syscall_names_copy(&dst->syscall_monitoring.names, &src->syscall_monitoring.names);
	err = err ?: port_set_copy(&dst->l4_firewall.allowed, &src->l4_firewall.allowed);
	err = err ?: port_set_copy(&dst->l4_firewall.blocked, &src->l4_firewall.blocked);
	if (err)
		ebpf_config_clear(dst);
	return err;
}

bool ebpf_config_same_enforcement(const struct ebpf_config *a, const struct ebpf_config *b)
{
	return a->syscall_monitoring.enabled == b->syscall_monitoring.enabled &&
	       syscall_names_equal(&a->syscall_monitoring.names, &b->syscall_monitoring.names) &&
	       a->l4_firewall.enabled == b->l4_firewall.enabled &&
	       a->l4_firewall.default_block == b->l4_firewall.default_block &&
	       port_set_equal(&a->l4_firewall.allowed, &b->l4_firewall.allowed) &&
	       port_set_equal(&a->l4_firewall.blocked, &b->l4_firewall.blocked);
}

bool ebpf_config_equal(const struct ebpf_config *a, const struct ebpf_config *b)
{
	return ebpf_config_same_enforcement(a, b) && a->metrics_export.enabled == b->metrics_export.enabled &&
	       a->metrics_export.update_interval_ns == b->metrics_export.update_interval_ns;
}

bool ebpf_config_wanted(const struct ebpf_config *c)
{
	return c->syscall_monitoring.enabled || c->l4_firewall.enabled || c->metrics_export.enabled;
}

bool syscall_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > POLICY_SYSCALL_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return true;
}

/* Index of the first port >= port. */
static size_t port_lower_bound(const struct port_set *s, unsigned port)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int port_set_add(struct port_set *s, unsigned port)
{
	size_t at;
	uint16_t *grown;

	if (port < POLICY_PORT_MIN || port > POLICY_PORT_MAX)
		return -EINVAL;
	at = port_lower_bound(s, port);
	if (at < s->n && s->ports[at] == port)
		return 0;
	if (s->n == POLICY_MAX_PORTS)
		return -E2BIG;
	grown = realloc(s->ports, (s->n + 1u) * sizeof(*s->ports));
	if (!grown)
		return -ENOMEM;
	s->ports = grown;
	memmove(&s->ports[at + 1], &s->ports[at], (s->n - at) * sizeof(*s->ports));
	s->ports[at] = (uint16_t)port;
	s->n++;
	return 0;
}

bool port_set_contains(const struct port_set *s, unsigned port)
{
	size_t at = port_lower_bound(s, port);

	return at < s->n && s->ports[at] == port;
}

int port_set_union(struct port_set *dst, const struct port_set *src)
{
	struct port_set out = { 0 };
	int err = port_set_copy(&out, dst);

	for (size_t i = 0; !err && i < src->n; i++)
		err = port_set_add(&out, src->ports[i]);
	if (err) {
		port_set_clear(&out);
		return err;
	}
	port_set_clear(dst);
	*dst = out;
	return 0;
}

void port_set_subtract(struct port_set *dst, const struct port_set *src)
{
	size_t k = 0;

	for (size_t i = 0; i < dst->n; i++)
		if (!port_set_contains(src, dst->ports[i]))
			dst->ports[k++] = dst->ports[i];
	dst->n = (uint16_t)k;
	if (!k)
		port_set_clear(dst);
}

bool port_set_equal(const struct port_set *a, const struct port_set *b)
{
	return a->n == b->n && (!a->n || !memcmp(a->ports, b->ports, a->n * sizeof(*a->ports)));
}

int port_set_copy(struct port_set *dst, const struct port_set *src)
{
	uint16_t *ports = NULL;

	if (dst == src)
		return 0;
	if (src->n) {
		ports = malloc(src->n * sizeof(*ports));
		if (!ports)
			return -ENOMEM;
		memcpy(ports, src->ports, src->n * sizeof(*ports));
	}
	port_set_clear(dst);
	dst->ports = ports;
	dst->n = src->n;
	return 0;
}

void port_set_clear(struct port_set *s)
{
	free(s->ports);
	s->ports = NULL;
	s->n = 0;
}

static size_t name_lower_bound(const struct syscall_names *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(s->names[mid], name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int syscall_names_add(struct syscall_names *s, const char *name)
{
	size_t at;
	char **grown, *copy;

	if (!syscall_name_valid(name))
		return -EINVAL;
	at = name_lower_bound(s, name);
	if (at < s->n && !strcmp(s->names[at], name))
		return 0;
	if (s->n == POLICY_MAX_SYSCALL_NAMES)
		return -E2BIG;
	copy = strdup(name);
	grown = copy ? realloc(s->names, (s->n + 1u) * sizeof(*s->names)) : NULL;
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	s->names = grown;
	memmove(&s->names[at + 1], &s->names[at], (s->n - at) * sizeof(*s->names));
	s->names[at] = copy;
	s->n++;
	return 0;
}

bool syscall_names_contains(const struct syscall_names *s, const char *name)
{
	size_t at = name_lower_bound(s, name);

	return at < s->n && !strcmp(s->names[at], name);
}

int syscall_names_union(struct syscall_names *dst, const struct syscall_names *src)
{
	struct syscall_names out = { 0 };
	int err = syscall_names_copy(&out, dst);

	for (size_t i = 0; !err && i < src->n; i++)
		err = syscall_names_add(&out, src->names[i]);
	if (err) {
		syscall_names_clear(&out);
		return err;
	}
	syscall_names_clear(dst);
	*dst = out;
	return 0;
}

bool syscall_names_equal(const struct syscall_names *a, const struct syscall_names *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]))
			return false;
	return true;
}

int syscall_names_copy(struct syscall_names *dst, const struct syscall_names *src)
{
	struct syscall_names out = { 0 };

	if (dst == src)
		return 0;
	if (src->n) {
		out.names = calloc(src->n, sizeof(*out.names));
		if (!out.names)
			return -ENOMEM;
		for (out.n = 0; out.n < src->n; out.n++)
			if (!(out.names[out.n] = strdup(src->names[out.n]))) {
				syscall_names_clear(&out);
				return -ENOMEM;
			}
	}
	syscall_names_clear(dst);
	*dst = out;
	return 0;
}

void syscall_names_clear(struct syscall_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}
