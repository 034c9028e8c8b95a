/* What pcmc-agent and pcmc-hollow-agents set up alike around the policy service: their shared
 * flags, signals, the API server connection, TokenReview auth, the Lease view, metrics and the HTTP
 * server with the service's routes; and the teardown in the one safe order. */
#ifndef PCMC_AGENT_SETUP_H
#define PCMC_AGENT_SETUP_H

#include <stddef.h>

#include "agent/service/agent_service.h"
#include "common/cli.h"

struct kube_config;
struct kube_client;

struct service_flags {
	const char *listen, *metrics_listen, *auth, *controller_sa, *kubeconfig, *fencing, *lease_namespace, *lease_name;
	int tokenreview_cache_ttl, max_connections;
};

#define SERVICE_FLAGS_DEFAULTS(listen_, max_connections_) { \
	.listen = (listen_), .auth = "tokenreview", .controller_sa = "pcmc-system:pcmc-controller", \
	.fencing = "lease", .lease_namespace = "pcmc-system", .lease_name = "pcmc-controller-leader", \
	.tokenreview_cache_ttl = 10, .max_connections = (max_connections_) }
#define SERVICE_FLAG_ROWS 10

/* Fills rows[0..SERVICE_FLAG_ROWS) with the cli rows of f's flags. */
void service_flag_rows(struct service_flags *f, struct cli_flag *rows);

struct service_setup {
	int sig_fd;                        /* SIGTERM, SIGINT */
	struct kube_config *kube_config;
	struct kube_client *kube;
	struct agent_auth *auth;
	struct agent_lease *lease;
	struct metrics_registry *registry;
	struct agent_metrics *metrics;
	struct http_server *server;         /* the policy API (and /metrics, probes without metrics_server) */
	struct http_server *metrics_server; /* --metrics-listen: /metrics, /healthz, /readyz; else NULL */
	struct agent_service svc;
};

/* In this order: signals blocked (before any thread) into sig_fd, the API server (when auth or
 * fencing needs it), auth, the Lease view, metrics (program's prefix: "pcmc_agent"), the HTTP
 * server(s) listening with the service's routes for nodes on their own threads. Each failure is logged.
 * 0 or -errno (-EINVAL: a bad --listen). The service is not ready until the caller says so. */
int service_setup_start(struct service_setup *s, const struct service_flags *f, struct agent_node **nodes,
			size_t n_nodes, const char *arch);
/* Stops answering, then the review and Lease threads, and frees everything (the nodes stay). */
void service_setup_stop(struct service_setup *s);

#endif
