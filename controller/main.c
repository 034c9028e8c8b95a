/* pcmc-controller: flags and environment, the Kubernetes client, the controller, and the HTTP
 * endpoints (/metrics, /healthz, /readyz); SIGTERM/SIGINT release the Lease and exit cleanly. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/build_info.h"
#include "common/cli.h"
#include "common/http_server.h"
#include "common/kube_client.h"
#include "common/kube_config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_standard.h"
#include "controller/controller.h"

struct options {
	const char *kubeconfig;
	const char *metrics_addr;
	int workers;
	const char *identity_flag;
	char identity[256];
	bool agent_push;
	const char *agent_namespace, *agent_selector;
	int agent_port;
	const char *push_resync;
	unsigned push_resync_ms;
	int push_workers;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	const struct cli_flag table[] = {
		{ .name = "kubeconfig", .value = &o->kubeconfig, .metavar = "FILE",
		  .help = "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)" },
		{ .name = "metrics-addr", .value = &o->metrics_addr, .metavar = "[HOST]:PORT",
		  .help = "where /metrics, /healthz and /readyz listen (port 0: any free port)" },
		{ .name = "workers", .kind = CLI_INT, .value = &o->workers, .metavar = "N", .min = 1, .max = 64,
		  .help = "concurrent reconciles" },
		{ .name = "identity", .value = &o->identity_flag, .metavar = "NAME", .env = "POD_NAME",
		  .help = "leader election identity (default: HOSTNAME_PID)" },
		{ .name = "leader-elect", .kind = CLI_BOOL, .env = "LEADER_ELECTION_ENABLED",
		  .help = "elect one leader through a Lease; false: every replica writes (default true)" },
		{ .name = "leader-elect-lease-duration", .metavar = "DURATION", .env = "LEADER_ELECTION_LEASE_DURATION",
		  .help = "how long standbys wait after the last renewal (default 15s)" },
		{ .name = "leader-elect-renew-deadline", .metavar = "DURATION", .env = "LEADER_ELECTION_RENEW_DEADLINE",
		  .help = "the leader steps down when it cannot renew for this long (default 10s)" },
		{ .name = "leader-elect-retry-period", .metavar = "DURATION", .env = "LEADER_ELECTION_RETRY_PERIOD",
		  .help = "time between tries to acquire or renew (default 2s)" },
		{ .name = "leader-elect-resource-name", .metavar = "NAME", .env = "LEADER_ELECTION_LOCK_NAME",
		  .help = "the Lease's name (default pcmc-controller-leader)" },
		{ .name = "leader-elect-resource-namespace", .metavar = "NS", .env = "LEADER_ELECTION_LOCK_NAMESPACE",
		  .help = "the Lease's namespace (default: the controller's own)" },
		{ .name = "agent-push", .kind = CLI_BOOL, .value = &o->agent_push,
		  .help = "push each node's policy to its pcmc-agent; Ready then also means enforced" },
		{ .name = "agent-namespace", .value = &o->agent_namespace, .metavar = "NS",
		  .help = "where the pcmc-agent pods run" },
		{ .name = "agent-selector", .value = &o->agent_selector, .metavar = "SELECTOR",
		  .help = "labels of the pcmc-agent pods" },
		{ .name = "agent-port", .kind = CLI_INT, .value = &o->agent_port, .metavar = "PORT", .min = 1, .max = 65535,
		  .help = "the agents' policy API port when the pod names no container port \"api\"" },
		{ .name = "push-resync", .value = &o->push_resync, .metavar = "SECONDS",
		  .help = "read each agent at least this often (and every lease duration / 2); one holding "
			  "another sender's state is pushed again" },
		{ .name = "push-workers", .kind = CLI_INT, .value = &o->push_workers, .metavar = "N", .min = 1,
		  .max = 256, .help = "nodes pushed concurrently" },
	};
	const struct cli_program prog = {
		.name = "pcmc-controller", .flags = table, .n_flags = sizeof(table) / sizeof(table[0]),
		.summary = "The pcmc controller: keeps PodConfigMapConfig status and generated ConfigMaps true and\n"
			   "pushes each node's policy to its pcmc-agent; one leader among the replicas.",
		.footer = "Durations: 15s, 500ms, 1m. Logs: one JSON object a line on stderr.\n",
	};
	char host[200] = "pcmc-controller", *end;
	double resync;
	int err;

	o->metrics_addr = ":8080";
	o->workers = 2;
	o->agent_namespace = "pcmc-system";
	o->agent_selector = "app.kubernetes.io/name=pcmc-agent";
	o->agent_port = 4855; /* pcmc-agent's default --listen port */
	o->push_resync = "30";
	o->push_workers = 8;
	err = cli_parse(&prog, argc, argv, NULL);
	if (err)
		return err;
	resync = strtod(o->push_resync, &end);
	if (end == o->push_resync || *end || !(resync >= 0.1 && resync <= 86400)) {
		fprintf(stderr, "pcmc-controller: --push-resync must be seconds from 0.1 to 86400, got \"%s\"\n",
			o->push_resync);
		return -EINVAL;
	}
	o->push_resync_ms = (unsigned)(resync * 1000.0);
	gethostname(host, sizeof(host) - 1);
	if (o->identity_flag && *o->identity_flag)
		snprintf(o->identity, sizeof(o->identity), "%s", o->identity_flag);
	else
		snprintf(o->identity, sizeof(o->identity), "%s_%d", host, (int)getpid());
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

/* SIGTERM/SIGINT are blocked everywhere and taken by signal_thread; the controller, once it
 * exists, is told at once (a stop during the first sync ends the wait). */
struct stopper {
	sigset_t set;
	pthread_mutex_t lock;
	bool stop;
	struct controller *controller;
};

static void *signal_thread(void *arg)
{
	struct stopper *s = arg;
	int sig = 0;

	sigwait(&s->set, &sig);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	log_info("stopping", LOG_SIGNAL(sig));
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	if (s->controller)
		controller_request_stop(s->controller);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Runs the controller until a signal: 0 stopped (the signal thread joined), 1 failed. */
static int run(struct controller *controller, struct stopper *stopper, pthread_t sig_thread)
{
	int err;

	pthread_mutex_lock(&stopper->lock);
	stopper->controller = controller;
	if (stopper->stop)
		controller_request_stop(controller);
	pthread_mutex_unlock(&stopper->lock);
	err = controller_start(controller);
	if (err && err != -ECANCELED) { /* -ECANCELED: the signal thread asked for it */
		log_error("cannot start the controller", LOG_ERRNO(err));
		return 1;
	}
	/* The signal thread ends after the first SIGTERM/SIGINT: joining it is waiting for the stop. */
	pthread_join(sig_thread, NULL);
	return 0;
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
	struct stopper stopper = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t sig_thread;
	bool sig_joined = false;
	char host[256];
	int port, err, rc = 1;

	log_set_component("controller");
	err = parse_args(argc, argv, &o);
	if (err)
		return err == CLI_EXIT ? 0 : 2;
	if (parse_addr(o.metrics_addr, host, sizeof(host), &port)) {
		fprintf(stderr, "pcmc-controller: bad --metrics-addr %s (want [HOST]:PORT)\n", o.metrics_addr);
		return 2;
	}
	/* A keep-alive connection per node's agent: thousands of descriptors at 5,000 nodes. */
	{
		struct rlimit nofile;

		if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
			nofile.rlim_cur = nofile.rlim_max;
			setrlimit(RLIMIT_NOFILE, &nofile);
		}
	}
	sigemptyset(&stopper.set);
	sigaddset(&stopper.set, SIGTERM);
	sigaddset(&stopper.set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopper.set, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = pthread_create(&sig_thread, NULL, signal_thread, &stopper);
	if (err) {
		log_error("cannot start the signal thread", LOG_ERRNO(-err));
		return 1;
	}

	err = kube_config_load(o.kubeconfig, &cfg);
	if (err) {
		log_error("cannot load Kubernetes configuration", LOG_STR("kubeconfig", o.kubeconfig), LOG_ERRNO(err));
		goto out;
	}
	err = kube_client_new(cfg, &client);
	if (!err)
		err = controller_metrics_new(&metrics);
	if (!err)
		err = metrics_standard_register(metrics->registry, "pcmc_controller");
	if (!err)
		err = controller_new(client,
				     &(struct controller_options){ .workers = o.workers, .identity = o.identity,
								   .default_namespace = cfg->namespace,
								   .agent_push = o.agent_push,
								   .agent_namespace = o.agent_namespace,
								   .agent_selector = o.agent_selector,
								   .agent_port = o.agent_port,
								   .push_resync_ms = o.push_resync_ms,
								   .push_workers = o.push_workers,
								   .kube_config = cfg },
				     metrics, &controller);
	if (err) {
		log_error("cannot set up the controller", LOG_ERRNO(err));
		goto out;
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
		goto out;
	}
	log_info("starting", LOG_STR("version", build_info()->version), LOG_STR("commit", build_info()->revision),
		 LOG_STR("identity", o.identity), LOG_STR("server", cfg->server),
		 LOG_INT("metrics_port", http_server_port(http)), LOG_INT("workers", o.workers));
	rc = run(controller, &stopper, sig_thread);
	sig_joined = rc == 0;
out:
	if (!sig_joined) {
		pthread_cancel(sig_thread); /* sigwait is a cancellation point; after it, cancel is off */
		pthread_join(sig_thread, NULL);
	}
	if (controller)
		controller_stop(controller);
	http_server_free(http);
	controller_free(controller);
	controller_metrics_free(metrics);
	kube_client_free(client);
	kube_config_free(cfg);
	if (rc == 0)
		log_info("stopped");
	return rc;
}
