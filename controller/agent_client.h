/* The controller's side of the agent policy API (docs/policy-api.md): PUT /v1/policy with a
 * node's whole desired state, GET /v1/policy for what the agent holds, over pooled keep-alive
 * connections (common/curl_pool), with the controller's service-account token; and what the
 * agent's answers mean to the controller (decoded by common/policy_codec). */
#ifndef PCMC_CONTROLLER_AGENT_CLIENT_H
#define PCMC_CONTROLLER_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/kube_config.h"
#include "common/policy_codec.h"
#include "controller/node_results.h"
#include "controller/strmap.h"

struct agent_client_config {
	struct kube_config *kube_config; /* its bearer token authenticates us to the agents */
	unsigned max_connections;        /* idle keep-alive connections kept (about one per node) */
	unsigned put_timeout_ms;         /* a 4,096-pod push takes the agent seconds (30000) */
	unsigned get_timeout_ms;         /* (5000) */
};

struct agent_client;

int agent_client_new(const struct agent_client_config *cfg, struct agent_client **out);
void agent_client_free(struct agent_client *c);

struct agent_reply {
	long status;    /* HTTP status */
	char *body;     /* NUL-terminated, owned */
	size_t len;
};
void agent_reply_clear(struct agent_reply *r);

/* 0 when the agent answered (any status; *reply filled), else -errno with `error` saying why
 * (unreachable, timed out, no token). Thread-safe. */
int agent_client_put_policy(struct agent_client *c, const char *address, const char *body, size_t len,
			    struct agent_reply *reply, char *error, size_t error_len);
/* GET /v1/policy?node=NODE: one agent answers for its own node; an address serving several nodes
 * (hollow agents) answers for the one named. */
int agent_client_get_policy(struct agent_client *c, const char *address, const char *node, struct agent_reply *reply,
			    char *error, size_t error_len);
/* Bytes of request bodies sent so far (PUT), for the push metrics. */
unsigned long long agent_client_bytes_sent(struct agent_client *c);

/* Whose push an agent holds. known is false before any accepted push. */
struct agent_held {
	bool known;
	char identity[254];
	long long epoch, revision;
};

struct push_counts {
	int applied, unchanged, failed, removed;
};
/* A PUT's 200 body -> results (uid -> struct pod_outcome *: applied/unchanged = attached, failed
 * with the agent's error; removed pods are left out). 0, -EPROTO (not an answer) or -ENOMEM. */
int agent_results_parse(const char *body, size_t len, struct strmap *results, struct push_counts *counts);
/* A GET /v1/policy body -> whose push it holds, and (results not NULL) each pod's state. */
int agent_node_state_parse(const char *body, size_t len, struct agent_held *held, struct strmap *results);

/* A refusal (4xx/409 body): why, what the agent holds, which pod a 400 names. */
struct agent_refusal {
	char error[400];
	enum fence_reason reason;  /* 409; FENCE_NONE otherwise or when the agent gave none */
	struct agent_held held;
	int pod_index;             /* 400 naming "$.pods[N]...": N, else -1 */
};
/* Fills *out from the body; an unreadable body leaves error empty and nothing known. */
void agent_refusal_parse(const char *body, size_t len, struct agent_refusal *out);

#endif
