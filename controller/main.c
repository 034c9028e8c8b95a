/* pcmc-controller: flags and environment, the Kubernetes client, the controller, and the HTTP
 * endpoints (/metrics, /healthz, /readyz); SIGTERM/SIGINT release the Lease and exit cleanly. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/http_server.h"
#include "common/kube_client.h"
#include "common/kube_config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "controller/controller.h"

struct options {
	const char *kubeconfig;
	const char *metrics_addr;
	int workers;
	char identity[256];
	bool agent_push;
	const char *agent_namespace, *agent_selector;
	int agent_port;
	unsigned push_resync_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pcmc-controller [--kubeconfig PATH] [--metrics-addr [HOST]:PORT] [--workers N]\n"
		   "                       [--identity NAME]\n"
		   "  --kubeconfig    kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
		   "  --metrics-addr  where /metrics, /healthz and /readyz listen (default :8080; port 0 = any)\n"
		   "  --workers       concurrent reconciles (default 2)\n"
		   "  --identity      leader election identity (default $POD_NAME, else hostname_pid)\n"
		   "  --agent-push    push each node's policy to its pcmc-agent; Ready then also means enforced\n"
		   "  --agent-namespace NS (pcmc-system), --agent-selector SEL (app.kubernetes.io/name=pcmc-agent),\n"
		   "  --agent-port N (9090; when the agent pod names no container port \"api\"),\n"
		   "  --push-resync SECONDS (30: full push to every agent this often)\n"
		   "environment: LEADER_ELECTION_ENABLED, LEADER_ELECTION_LEASE_DURATION (15s),\n"
		   "  LEADER_ELECTION_RENEW_DEADLINE (10s), LEADER_ELECTION_RETRY_PERIOD (2s),\n"
		   "  LEADER_ELECTION_LOCK_NAME, LEADER_ELECTION_LOCK_NAMESPACE, PCMC_LOG_LEVEL\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "metrics-addr", required_argument, NULL, 'm' },
		{ "workers", required_argument, NULL, 'w' },
		{ "identity", required_argument, NULL, 'i' },
		{ "agent-push", no_argument, NULL, 'P' },
		{ "agent-namespace", required_argument, NULL, 'N' },
		{ "agent-selector", required_argument, NULL, 'S' },
		{ "agent-port", required_argument, NULL, 'p' },
		{ "push-resync", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pod = getenv("POD_NAME");
	char host[200] = "pcmc-controller";
	int c;

	o->metrics_addr = ":8080";
	o->workers = 2;
	o->agent_namespace = "pcmc-system";
	o->agent_selector = "app.kubernetes.io/name=pcmc-agent";
	o->agent_port = 9090;
	o->push_resync_ms = 30000;
	gethostname(host, sizeof(host) - 1);
	if (pod && *pod)
		snprintf(o->identity, sizeof(o->identity), "%s", pod);
	else
		snprintf(o->identity, sizeof(o->identity), "%s_%d", host, (int)getpid());
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kubeconfig = optarg;
			break;
		case 'm':
			o->metrics_addr = optarg;
			break;
		case 'w':
			o->workers = atoi(optarg);
			if (o->workers < 1 || o->workers > 64) {
				fprintf(stderr, "pcmc-controller: --workers must be 1..64\n");
				return -EINVAL;
			}
			break;
		case 'i':
			if (!*optarg)
				return -EINVAL;
			snprintf(o->identity, sizeof(o->identity), "%s", optarg);
			break;
		case 'P':
			o->agent_push = true;
			break;
		case 'N':
			o->agent_namespace = optarg;
			break;
		case 'S':
			o->agent_selector = optarg;
			break;
		case 'p':
			o->agent_port = atoi(optarg);
			if (o->agent_port < 1 || o->agent_port > 65535)
				return -EINVAL;
			break;
		case 'r':
			o->push_resync_ms = (unsigned)(atof(optarg) * 1000.0);
			if (o->push_resync_ms < 100)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* "[host]:port" or ":port" -> bind address (NULL = all) and port. */
static int parse_addr(const char *addr, char *host, size_t host_len, int *port)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long p;

	if (!colon)
		return -EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || end == colon + 1)
		return -EINVAL;
	*port = (int)p;
	if (colon == addr) {
		host[0] = '\0';
	} else {
		const char *h = addr, *e = colon;

		if (*h == '[' && e[-1] == ']')
			h++, e--;
		snprintf(host, host_len, "%.*s", (int)(e - h), h);
	}
	return 0;
}

struct http_ctx {
	struct controller *controller;
	struct controller_metrics *metrics;
};

static void serve_metrics(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct http_ctx *h = ud;
	struct controller_gauges g;

	controller_gauges(h->controller, &g);
	controller_metrics_set_gauges(h->metrics, &g);
	metrics_http_handler(h->metrics->registry, req, resp);
}

static void reply_text(struct http_response *resp, int status, const char *text)
{
	resp->status = status;
	resp->body = strdup(text);
	resp->body_len = resp->body ? strlen(text) : 0;
}

static void serve_healthz(void *ud, const struct http_request *req, struct http_response *resp)
{
	(void)ud, (void)req;
	reply_text(resp, 200, "ok\n");
}

static void serve_readyz(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct http_ctx *h = ud;

	(void)req;
	if (controller_synced(h->controller))
		reply_text(resp, 200, "ok\n");
	else
		reply_text(resp, 503, "caches not synced\n");
}

static volatile int stop_requested;

/* Waits for SIGTERM/SIGINT on its own thread (blocked everywhere else) and flags the stop. */
static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;

	sigwait(set, &sig);
	log_info("signal received, shutting down", LOG_INT("signal", sig));
	stop_requested = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct controller_metrics *metrics = NULL;
	struct controller *controller = NULL;
	struct http_server *http = NULL;
	struct http_ctx hctx;
	pthread_t sig_thread;
	sigset_t set;
	char host[256];
	int port, err;

	log_set_component("controller");
	if (parse_args(argc, argv, &o))
		return 2;
	if (parse_addr(o.metrics_addr, host, sizeof(host), &port)) {
		fprintf(stderr, "pcmc-controller: bad --metrics-addr %s (want [HOST]:PORT)\n", o.metrics_addr);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&sig_thread, NULL, signal_thread, &set);

	err = kube_config_load(o.kubeconfig, &cfg);
	if (err) {
		log_error("cannot load Kubernetes configuration", LOG_STR("kubeconfig", o.kubeconfig), LOG_ERRNO(err));
		return 1;
	}
	err = kube_client_new(cfg, &client);
	if (!err)
		err = controller_metrics_new(&metrics);
	if (!err)
		err = controller_new(client,
				     &(struct controller_options){ .workers = o.workers, .identity = o.identity,
								   .default_namespace = cfg->namespace,
								   .agent_push = o.agent_push,
								   .agent_namespace = o.agent_namespace,
								   .agent_selector = o.agent_selector,
								   .agent_port = o.agent_port,
								   .push_resync_ms = o.push_resync_ms,
								   .kube_config = cfg },
				     metrics, &controller);
	if (err) {
		log_error("cannot set up the controller", LOG_ERRNO(err));
		return 1;
	}
	hctx = (struct http_ctx){ controller, metrics };
	err = http_server_new(&(struct http_server_opts){ .bind_address = host[0] ? host : NULL, .port = port }, &http);
	if (!err)
		err = http_server_route(http, "GET", "/metrics", serve_metrics, &hctx);
	if (!err)
		err = http_server_route(http, "GET", "/healthz", serve_healthz, &hctx);
	if (!err)
		err = http_server_route(http, "GET", "/readyz", serve_readyz, &hctx);
	if (!err)
		err = http_server_start_thread(http);
	if (err) {
		log_error("cannot serve metrics", LOG_STR("addr", o.metrics_addr), LOG_ERRNO(err));
		return 1;
	}
	log_info("starting", LOG_STR("identity", o.identity), LOG_STR("server", cfg->server),
		 LOG_INT("metrics_port", http_server_port(http)), LOG_INT("workers", o.workers));

	err = controller_start(controller, &stop_requested);
	if (err && err != -ECANCELED)
		log_error("cannot start the controller", LOG_ERRNO(err));
	while (!stop_requested && !err)
		usleep(50000);
	controller_stop(controller);
	http_server_free(http);
	controller_free(controller);
	controller_metrics_free(metrics);
	kube_client_free(client);
	kube_config_free(cfg);
	pthread_cancel(sig_thread);
	pthread_join(sig_thread, NULL);
	log_info("stopped");
	return err && err != -ECANCELED ? 1 : 0;
}
