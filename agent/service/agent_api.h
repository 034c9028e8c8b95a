/* pcmc-agent's HTTP API: PUT/GET /v1/policy (auth, validation, fencing, state file, apply),
 * /metrics, /healthz, /readyz; and the agent state those handlers share with the main loop. */
#ifndef PCMC_AGENT_API_H
#define PCMC_AGENT_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agent/service/agent_apply.h"
#include "agent/service/agent_auth.h"
#include "agent/service/agent_metrics.h"

struct http_server;

struct agent {
	pthread_mutex_t lock;              /* the dataplane and np: HTTP thread vs main loop */
	struct node_policy np;
	struct dataplane *dp;
	struct agent_auth *auth;
	struct metrics_registry *registry;
	struct agent_metrics *metrics;
	const char *state_dir;
	const char *node_name;             /* NULL: pushes for any node are taken */
	atomic_bool ready;
};

int64_t agent_now_ms(void);
/* Registers PUT and GET /v1/policy; handlers run on the server thread and take a->lock. 0 or -errno. */
int agent_api_routes(struct http_server *s, struct agent *a);
/* Registers /metrics, /healthz and /readyz: on the policy API's server, or on their own (--metrics-listen). */
int agent_metrics_routes(struct http_server *s, struct agent *a);
/* Logs one apply: a summary line (revision, epoch, counts) and a line per pod that is not unchanged. */
void agent_log_apply(const struct policy_push *want, const struct apply_report *r, double seconds,
		     const char *why);

#endif
