/* Start-up and teardown of the policy service's surroundings, shared by pcmc-agent and
 * pcmc-hollow-agents so both serve the very same API, auth and fencing. */
#include "agent/service/agent_setup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/http_server.h"
#include "common/kube_client.h"
#include "common/log.h"
#include "common/metrics_standard.h"

void service_flag_rows(struct service_flags *f, struct cli_flag *rows)
{
	const struct cli_flag table[SERVICE_FLAG_ROWS] = {
		{ .name = "listen", .value = &f->listen, .metavar = "ADDR:PORT",
		  .help = "the policy API (4855: a port IANA has not assigned, outside Prometheus' exporter range)" },
		{ .name = "metrics-listen", .value = &f->metrics_listen, .metavar = "ADDR:PORT",
		  .help = "/metrics, /healthz and /readyz on their own port (default: on --listen's)" },
		{ .name = "auth", .value = &f->auth, .choices = "tokenreview|none",
		  .help = "who may push: TokenReview of the controller's token, or anyone (local use only)" },
		{ .name = "controller-sa", .value = &f->controller_sa, .metavar = "NS:NAME",
		  .help = "the only ServiceAccount allowed to push" },
		{ .name = "kubeconfig", .value = &f->kubeconfig, .metavar = "FILE",
		  .help = "credentials for TokenReview and the Lease (default: in-cluster)" },
		{ .name = "fencing", .value = &f->fencing, .choices = "lease|local",
		  .help = "accept pushes only from the holder of the controller's Lease, or by epoch and "
			  "revision alone (local use only)" },
		{ .name = "controller-lease-namespace", .value = &f->lease_namespace, .metavar = "NS",
		  .env = "LEADER_ELECTION_LOCK_NAMESPACE", .help = "namespace of the controller's Lease" },
		{ .name = "controller-lease-name", .value = &f->lease_name, .metavar = "NAME",
		  .env = "LEADER_ELECTION_LOCK_NAME", .help = "name of the controller's Lease" },
		{ .name = "tokenreview-cache-ttl", .kind = CLI_INT, .value = &f->tokenreview_cache_ttl,
		  .metavar = "SECONDS", .min = 1, .max = 3600,
		  .help = "how long a TokenReview's answer (accepted or refused) is reused" },
		{ .name = "max-connections", .kind = CLI_INT, .value = &f->max_connections, .metavar = "N",
		  .min = 8, .max = 65535, .help = "open HTTP connections; more are answered 503 and closed" },
	};

	memcpy(rows, table, sizeof(table));
}

static int block_signals(void)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts: they inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &sigs, SFD_CLOEXEC);
}

static int connect_api(struct service_setup *s, const struct service_flags *f)
{
	int err = kube_config_load(f->kubeconfig, &s->kube_config);

	err = err ?: kube_client_new(s->kube_config, &s->kube);
	if (err)
		log_error("no API server credentials", LOG_STR("kubeconfig", f->kubeconfig ? f->kubeconfig : ""),
			  LOG_ERRNO(err));
	return err;
}

int service_setup_start(struct service_setup *s, const struct service_flags *f, struct agent_node **nodes,
			size_t n_nodes, const char *arch)
{
	struct http_server_opts so = { .max_body = POLICY_PUSH_MAX_BYTES, .max_connections = f->max_connections };
	struct http_server_opts mso = { .max_body = 4096 };
	bool auth_none = !strcmp(f->auth, "none"), lease = !strcmp(f->fencing, "lease");
	bool own_metrics = f->metrics_listen && *f->metrics_listen;
	char addr[128], metrics_addr[128];
	int err;

	memset(s, 0, sizeof(*s));
	s->svc.queue_fd = -1;
	s->sig_fd = block_signals();
	if (s->sig_fd < 0)
		return -errno;
	if (http_split_listen(f->listen, addr, sizeof(addr), &so.port)) {
		log_error("HTTP server failed", LOG_STR("listen", f->listen), LOG_ERROR_TEXT("--listen must be ADDR:PORT"));
		return -EINVAL;
	}
	so.bind_address = addr;
	if (own_metrics && http_split_listen(f->metrics_listen, metrics_addr, sizeof(metrics_addr), &mso.port)) {
		log_error("HTTP server failed", LOG_STR("listen", f->metrics_listen),
			  LOG_ERROR_TEXT("--metrics-listen must be ADDR:PORT"));
		return -EINVAL;
	}
	mso.bind_address = metrics_addr;
	if (auth_none)
		log_warn("authentication disabled: anyone who can reach the port can change this node's eBPF policy",
			 LOG_STR("listen", f->listen));
	if (!lease)
		log_warn("lease fencing disabled: a deposed leader's push may be accepted");
	if ((!auth_none || lease) && (err = connect_api(s, f)))
		return err;
	err = agent_auth_new(&(struct agent_auth_opts){ .none = auth_none, .controller_sa = f->controller_sa,
							.client = s->kube, .cache_seconds = f->tokenreview_cache_ttl },
			     &s->auth);
	if (err) {
		log_error("auth setup failed", LOG_STR("controller_sa", f->controller_sa), LOG_ERRNO(err));
		return err;
	}
	if (lease && (err = agent_lease_new(s->kube, f->lease_namespace, f->lease_name, &s->lease))) {
		log_error("Lease setup failed", LOG_STR("namespace", f->lease_namespace), LOG_STR("lease", f->lease_name),
			  LOG_ERRNO(err));
		return err;
	}
	err = metrics_registry_new(&s->registry);
	err = err ?: metrics_standard_register(s->registry, "pcmc_agent");
	err = err ?: agent_metrics_new(s->registry, &s->metrics);
	if (err) {
		log_error("metrics setup failed", LOG_ERRNO(err));
		return err;
	}
	err = http_server_new(&so, &s->server);
	err = err ?: agent_service_init(&s->svc, s->server, s->auth, s->registry, s->metrics, nodes, n_nodes, arch);
	err = err ?: agent_api_routes(&s->svc);
	err = err ?: own_metrics ? 0 : agent_metrics_routes(&s->svc, s->server);
	err = err ?: http_server_start_thread(s->server);
	if (err) {
		log_error("HTTP server failed", LOG_STR("listen", f->listen), LOG_ERRNO(err));
		return err;
	}
	if (own_metrics) {
		err = http_server_new(&mso, &s->metrics_server);
		err = err ?: agent_metrics_routes(&s->svc, s->metrics_server);
		err = err ?: http_server_start_thread(s->metrics_server);
		if (err) {
			log_error("HTTP server failed", LOG_STR("listen", f->metrics_listen), LOG_ERRNO(err));
			return err;
		}
	}
	s->svc.lease = s->lease;
	return 0;
}

void service_setup_stop(struct service_setup *s)
{
	http_server_shutdown(s->server);
	http_server_shutdown(s->metrics_server);
	agent_auth_free(s->auth); /* its review thread answers through the server: stopped before it is freed */
	agent_lease_free(s->lease);
	http_server_free(s->server);
	http_server_free(s->metrics_server);
	if (s->svc.queue_fd >= 0)
		agent_service_clear(&s->svc);
	agent_metrics_free(s->metrics);
	metrics_registry_free(s->registry);
	kube_client_free(s->kube);
	kube_config_free(s->kube_config);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	memset(s, 0, sizeof(*s));
}
