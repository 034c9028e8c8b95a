/* The eBPF policy model, one type for what a PodConfigMapConfig's spec.ebpfConfig asks, what a pod
 * gets after merging, and what PUT /v1/policy carries: typed sets (ports, syscall names) kept
 * sorted and unique, limits from common/policy_limits.h. Syscall names stay names here; an agent
 * maps them to numbers of its architecture (common/syscall_table.h). JSON: common/policy_codec.h.
 *
 * Ownership: a struct ebpf_config owns its sets. ebpf_config_init before use, ebpf_config_clear to
 * free (then it is back to the defaults), ebpf_config_copy for a deep copy. Set functions return
 * 0 or -EINVAL (bad value), -E2BIG (past the limit, set unchanged), -ENOMEM (set unchanged). */
#ifndef PCMC_COMMON_EBPF_CONFIG_H
#define PCMC_COMMON_EBPF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/policy_limits.h"

/* Destination ports, sorted ascending, unique, each POLICY_PORT_MIN..POLICY_PORT_MAX. */
struct port_set {
	uint16_t *ports;           /* NULL when n == 0 */
	uint16_t n;
};

/* Syscall names, sorted (strcmp), unique, each valid per syscall_name_valid. */
struct syscall_names {
	char **names;              /* NULL when n == 0 */
	uint16_t n;
};

struct ebpf_config {
	struct {
		bool enabled;
		struct syscall_names names;
	} syscall_monitoring;
	struct {
		bool enabled;
		struct port_set allowed;
		struct port_set blocked;   /* disjoint from allowed in a valid config */
		bool default_block;        /* defaultAction: block (false: allow) */
	} l4_firewall;
	struct {
		bool enabled;
		int64_t update_interval_ns; /* POLICY_INTERVAL_MIN_NS..POLICY_INTERVAL_MAX_NS */
	} metrics_export;
};

/* Every section off, empty lists, defaultAction allow, updateInterval 30s (the CRD's defaults). */
void ebpf_config_init(struct ebpf_config *c);
/* Frees the sets and returns c to the defaults. */
void ebpf_config_clear(struct ebpf_config *c);
/* dst (initialised; its old content is freed) becomes a deep copy of src. 0 or -ENOMEM (dst then
 * holds the defaults). */
int ebpf_config_copy(struct ebpf_config *dst, const struct ebpf_config *src);
bool ebpf_config_equal(const struct ebpf_config *a, const struct ebpf_config *b);
/* Any section enabled: only then does a pod need its node's agent. */
bool ebpf_config_wanted(const struct ebpf_config *c);
/* What the dataplane enforces is the same: syscall monitoring and firewall (export not compared). */
bool ebpf_config_same_enforcement(const struct ebpf_config *a, const struct ebpf_config *b);

/* 1..POLICY_SYSCALL_NAME_MAX chars of [a-z0-9_], not starting with a digit (the CRD's pattern).
 * Whether an architecture knows the name is common/syscall_table's question. */
bool syscall_name_valid(const char *name);

int port_set_add(struct port_set *s, unsigned port);
bool port_set_contains(const struct port_set *s, unsigned port);
/* dst |= src. */
int port_set_union(struct port_set *dst, const struct port_set *src);
/* dst -= src (never fails). */
void port_set_subtract(struct port_set *dst, const struct port_set *src);
bool port_set_equal(const struct port_set *a, const struct port_set *b);
int port_set_copy(struct port_set *dst, const struct port_set *src);
void port_set_clear(struct port_set *s);

int syscall_names_add(struct syscall_names *s, const char *name);
bool syscall_names_contains(const struct syscall_names *s, const char *name);
int syscall_names_union(struct syscall_names *dst, const struct syscall_names *src);
bool syscall_names_equal(const struct syscall_names *a, const struct syscall_names *b);
int syscall_names_copy(struct syscall_names *dst, const struct syscall_names *src);
void syscall_names_clear(struct syscall_names *s);

#endif
