/* The policy service (issue 10's first room): PUT/GET /v1/policy, /healthz, /readyz, /metrics for
 * one node (pcmc-agent) or many (pcmc-hollow-agents). The HTTP thread only admits, parses and
 * hands over (agent_api.c); a worker (the caller of agent_service_work) decodes, fences, saves,
 * applies and answers (agent_push.c). */
#ifndef PCMC_AGENT_SERVICE_H
#define PCMC_AGENT_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/service/agent_auth.h"
#include "agent/service/agent_lease.h"
#include "agent/service/agent_metrics.h"
#include "agent/service/agent_node.h"

struct http_server;
struct metrics_registry;

/* A push on its way from the HTTP thread to the worker. */
struct push_job {
	struct push_job *next;
	uint64_t exchange;
	char *body;                        /* owned */
	size_t len;
	char pod_name[POLICY_NAME_MAX + 1]; /* the pod the token names ("" if none) */
	int64_t received_ms;
};

struct agent_service {
	struct http_server *server;
	struct agent_auth *auth;
	struct agent_lease *lease;         /* NULL: fencing by epoch and revision only (--fencing local) */
	struct metrics_registry *registry;
	struct agent_metrics *metrics;
	struct agent_node **nodes;         /* sorted by name; one node may have a NULL name */
	size_t n_nodes;
	const char *arch;                  /* the nodes' architecture: syscall names are checked for it */
	bool trim_after_apply;             /* hand freed heap back after each apply (libbpf's BTF buffers) */
	atomic_bool ready;                 /* the nodes' state is back: pushes and GET are served */
	pthread_mutex_t lock;              /* the queue */
	struct push_job *queue, **queue_tail;
	size_t queued, queued_bytes;
	int queue_fd;                      /* eventfd: readable when jobs wait */
};

/* nodes (not owned, sorted by name with agent_service_sort_nodes) must outlive the service. */
int agent_service_init(struct agent_service *svc, struct http_server *server, struct agent_auth *auth,
		       struct metrics_registry *registry, struct agent_metrics *metrics, struct agent_node **nodes,
		       size_t n_nodes, const char *arch);
void agent_service_clear(struct agent_service *svc);
void agent_service_sort_nodes(struct agent_node **nodes, size_t n);
/* The node a push or GET names (NULL name: the only node, if there is one). */
struct agent_node *agent_service_node(const struct agent_service *svc, const char *name);

/* HTTP thread (agent_api.c): registers PUT and GET /v1/policy on svc->server. 0 or -errno. */
int agent_api_routes(struct agent_service *svc);
/* Registers /metrics, /healthz and /readyz on s: the policy API's server, or their own
 * (--metrics-listen). 0 or -errno. */
int agent_metrics_routes(struct agent_service *svc, struct http_server *s);
/* HTTP thread: queues a push for the worker; -EBUSY when the queue is full. */
int agent_service_queue(struct agent_service *svc, struct push_job *job);

/* Worker (agent_push.c): poll agent_service_queue_fd for POLLIN, then call agent_service_work,
 * which handles every queued push and answers each. Returns how many were handled. */
int agent_service_queue_fd(const struct agent_service *svc);
int agent_service_work(struct agent_service *svc);

#endif
