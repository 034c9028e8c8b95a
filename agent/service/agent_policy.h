/* The node's desired state as PUT /v1/policy carries it (docs/policy-api.md): a pure parser from
 * bytes to a validated struct, or the JSON path and reason of the first offending value. */
#ifndef PCMC_AGENT_POLICY_H
#define PCMC_AGENT_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_SYSCALLS 64    /* = DATAPLANE_MAX_SYSCALLS */
#define POLICY_MAX_PORTS    256   /* per list, as in the CRD */
#define POLICY_MAX_PODS     4096
#define POLICY_UID_MAX      39    /* chars; the dataplane keys pods by up to 39 */
#define POLICY_NAME_MAX     253

struct pod_policy_spec {
	bool syscalls_enabled;
	int n_syscalls;
	int syscall_nrs[POLICY_MAX_SYSCALLS];  /* in the pushed order; names via syscall_table_name */
	bool firewall_enabled;
	int n_allowed, n_blocked;
	uint16_t allowed[POLICY_MAX_PORTS];    /* sorted */
	uint16_t blocked[POLICY_MAX_PORTS];    /* sorted */
	bool default_block;
	bool export_enabled;
	int64_t update_interval_ms;            /* 1000..3600000 */
};

struct desired_pod {
	char uid[POLICY_UID_MAX + 1];
	char *namespace;
	char *name;
	struct pod_policy_spec policy;
};

struct desired_state {
	char *node;
	char *identity;                        /* sender.identity */
	int64_t epoch;                         /* sender.epoch */
	int64_t revision;
	int n_pods;
	struct desired_pod *pods;
};

struct policy_error {
	char path[256];                        /* "$.pods[3].policy.l4Firewall.allowedPort" */
	char message[256];                     /* "unknown field" */
};

/* Parses and validates a whole PUT /v1/policy body (len bytes; need not be NUL-terminated) with
 * this architecture's syscall table. 0 and *out (free with desired_state_free), or -EINVAL with
 * *err filled, or -ENOMEM. Depends on nothing but its arguments. */
int policy_parse(const char *body, size_t len, struct desired_state **out, struct policy_error *err);
void desired_state_free(struct desired_state *s);

/* The policy as JSON, every default filled in (GET /v1/policy). NULL on ENOMEM. */
cJSON *policy_to_json(const struct pod_policy_spec *p);
/* The whole state back as a PUT body (the state file): policy_parse(state_to_json(s)) == s. */
cJSON *desired_state_to_json(const struct desired_state *s);

/* Adds an exact integer member (cJSON's number printing rounds integers near 2^53). */
void json_add_int64(cJSON *obj, const char *key, int64_t v);

/* What the dataplane enforces is the same (syscalls and firewall; export settings not compared). */
bool policy_same_dataplane(const struct pod_policy_spec *a, const struct pod_policy_spec *b);
bool policy_same(const struct pod_policy_spec *a, const struct pod_policy_spec *b);

#endif
