/* pcmc-agent: the DaemonSet process. Opens (or adopts) the dataplane, re-applies the last accepted
 * push from the state file, serves the policy API, and follows containers, retries and counters. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/service/agent_api.h"
#include "agent/service/agent_state.h"
#include "common/syscall_table.h"
#include "common/build_info.h"
#include "common/cli.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics_standard.h"

#define REFRESH_MS 2000
/* The policy API's port: IANA lists 4852-4866 as unassigned, Kubernetes and its usual add-ons use
 * none of it, and it is outside 9100-9999, which Prometheus' exporter allocations fill (9090 is
 * Prometheus itself). The manifests put /metrics and probes on 4856. */
#define AGENT_DEFAULT_PORT "4855"

struct flags {
	const char *listen, *metrics_listen, *pin_root, *cgroup_root, *state_dir, *node_name, *auth, *controller_sa, *kubeconfig;
	const char *cni_cache_dir;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
	const struct cli_flag table[] = {
		{ .name = "listen", .value = &f->listen, .metavar = "ADDR:PORT",
		  .help = "the policy API (4855: a port IANA has not assigned, outside Prometheus' exporter range)" },
		{ .name = "metrics-listen", .value = &f->metrics_listen, .metavar = "ADDR:PORT",
		  .help = "/metrics, /healthz and /readyz on their own port (default: on --listen's)" },
		{ .name = "node-name", .value = &f->node_name, .metavar = "NAME", .env = "NODE_NAME",
		  .help = "this node's name (the Downward API's spec.nodeName)" },
		{ .name = "pin-root", .value = &f->pin_root, .metavar = "DIR",
		  .help = "bpffs directory for programs and maps (default " DATAPLANE_DEFAULT_PIN_ROOT ")" },
		{ .name = "cgroup-root", .value = &f->cgroup_root, .metavar = "DIR",
		  .help = "the cgroup v2 mount where pods' cgroups are found" },
		{ .name = "state-dir", .value = &f->state_dir, .metavar = "DIR",
		  .help = "where the last accepted push is kept across restarts" },
		{ .name = "auth", .value = &f->auth, .choices = "tokenreview|none",
		  .help = "who may push: TokenReview of the controller's token, or anyone (local use only)" },
		{ .name = "controller-sa", .value = &f->controller_sa, .metavar = "NS:NAME",
		  .help = "the only ServiceAccount allowed to push" },
		{ .name = "kubeconfig", .value = &f->kubeconfig, .metavar = "FILE",
		  .help = "credentials for TokenReview (default: in-cluster)" },
		{ .name = "cni-cache-dir", .value = &f->cni_cache_dir, .metavar = "DIR",
		  .help = "the runtime's CNI result cache, read to find each pod's host-side interface "
			  "(default " DATAPLANE_DEFAULT_CNI_CACHE_DIR ")" },
	};
	const struct cli_program prog = {
		.name = "pcmc-agent", .flags = table, .n_flags = sizeof(table) / sizeof(table[0]),
		.summary = "The pcmc node agent: receives its node's policy from pcmc-controller, attaches the\n"
			   "syscall counter and the L4 firewall to the pods, exports their counters.",
		.footer = "Policy API: docs/policy-api.md. Logs: one JSON object a line on stderr (docs/logging.md).\n",
	};

	return cli_parse(&prog, argc, argv, NULL);
}

/* "0.0.0.0:9090", "[::]:9090", "127.0.0.1:0" -> address + port. */
static int split_listen(const char *listen, char *addr, size_t len, int *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;

	if (!colon)
		return -EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	if (listen[0] == '[' && colon > listen && colon[-1] == ']')
		snprintf(addr, len, "%.*s", (int)(colon - listen - 2), listen + 1);
	else
		snprintf(addr, len, "%.*s", (int)(colon - listen), listen);
	*port = (int)p;
	return 0;
}

/* Re-applies the last accepted push after a restart: adopted pins stay, nothing wanted is removed. */
static void restore_state(struct agent *a)
{
	struct policy_push *want;
	struct apply_report report;
	int err = state_load(a->state_dir, syscall_table_arch(), &want);

	if (err == -ENOENT) {
		log_info("no state file: waiting for the first push (existing pins left alone)",
			 LOG_STR("state_dir", a->state_dir));
		return;
	}
	if (err) {
		log_error("state file not usable: waiting for the first push (existing pins left alone)",
			  LOG_STR("state_dir", a->state_dir), LOG_ERRNO(err));
		return;
	}
	pthread_mutex_lock(&a->lock);
	int64_t t0 = agent_now_ms();
	if (!node_policy_apply(&a->np, want, t0, &report)) {
		agent_log_apply(a->np.want, &report, (double)(agent_now_ms() - t0) / 1000, "state file");
		apply_report_free(&report);
	}
	agent_metrics_refresh(a->metrics, &a->np, a->dp, agent_now_ms());
	pthread_mutex_unlock(&a->lock);
	malloc_trim(0); /* libbpf's per-program BTF buffers, see put_policy */
}

static int make_timer(int ms)
{
	struct itimerspec its = { .it_interval = { ms / 1000, (long)(ms % 1000) * 1000000 },
				  .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void run_loop(struct agent *a, int sig_fd)
{
	int timer_fd = make_timer(1000);
	int64_t next_refresh = agent_now_ms() + REFRESH_MS;

	for (;;) {
		struct pollfd p[3] = { { .fd = sig_fd, .events = POLLIN },
				       { .fd = dataplane_event_fd(a->dp), .events = POLLIN },
				       { .fd = timer_fd, .events = POLLIN } };
		uint64_t ticks;
		int64_t now;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				log_info("stopping", LOG_SIGNAL((int)si.ssi_signo));
			break;
		}
		if (p[2].revents & POLLIN && read(timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			break;
		now = agent_now_ms();
		pthread_mutex_lock(&a->lock);
		bool events = p[1].revents & POLLIN;

		if (events || now >= next_refresh) {
			int n = dataplane_refresh(a->dp);

			if (n > 0)
				a->np.generation++;
			if (events || n > 0)
				node_policy_retry_soon(&a->np); /* a container appeared: failed pods may work now */
			if (node_policy_retry(&a->np, now) > 0)
				malloc_trim(0);
			if (now >= next_refresh)
				next_refresh = now + REFRESH_MS;
		}
		agent_metrics_refresh(a->metrics, &a->np, a->dp, now);
		pthread_mutex_unlock(&a->lock);
	}
	if (timer_fd >= 0)
		close(timer_fd);
}

int main(int argc, char **argv)
{
	struct flags f = { .listen = "0.0.0.0:" AGENT_DEFAULT_PORT, .state_dir = AGENT_DEFAULT_STATE_DIR, .auth = "tokenreview",
			   .controller_sa = "pcmc-system:pcmc-controller" };
	struct agent a = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct http_server_opts so = { .max_body = 8 << 20 }, mso = { .max_body = 4096 };
	struct dataplane_opts dopts = { 0 };
	struct http_server *server = NULL, *metrics_server = NULL;
	char addr[128], metrics_addr[128];
	sigset_t sigs;
	int sig_fd, err;

	log_set_component("agent");
	err = parse_flags(argc, argv, &f);
	if (err)
		return err == CLI_EXIT ? 0 : 2;
	if (split_listen(f.listen, addr, sizeof(addr), &so.port)) {
		fprintf(stderr, "pcmc-agent: --listen must be ADDR:PORT, got \"%s\"\n", f.listen);
		return 2;
	}
	so.bind_address = addr;
	if (f.metrics_listen && *f.metrics_listen &&
	    split_listen(f.metrics_listen, metrics_addr, sizeof(metrics_addr), &mso.port)) {
		fprintf(stderr, "pcmc-agent: --metrics-listen must be ADDR:PORT, got \"%s\"\n", f.metrics_listen);
		return 2;
	}
	mso.bind_address = metrics_addr;
	a.state_dir = f.state_dir;
	a.node_name = f.node_name && *f.node_name ? f.node_name : NULL;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts: they inherit the mask */
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(f.auth, "none"))
		log_warn("AUTHENTICATION DISABLED (--auth=none): ANYONE who can reach this port can change "
			 "this node's eBPF policy. For local use only.", LOG_STR("listen", f.listen));
	struct agent_auth_opts ao = { .none = !strcmp(f.auth, "none"), .controller_sa = f.controller_sa,
				      .kubeconfig = f.kubeconfig };
	err = agent_auth_new(&ao, &a.auth);
	if (err) {
		log_error("auth setup failed (--controller-sa NS:NAME; credentials from --kubeconfig or in-cluster)",
			  LOG_STR("controller_sa", f.controller_sa), LOG_ERRNO(err));
		return 1;
	}
	err = metrics_registry_new(&a.registry);
	err = err ?: metrics_standard_register(a.registry, "pcmc_agent");
	err = err ?: agent_metrics_new(a.registry, &a.metrics);
	if (err) {
		log_error("metrics setup failed", LOG_ERRNO(err));
		return 1;
	}
	/* Serve /healthz while the dataplane opens; /readyz says ready only after the state is back. */
	err = http_server_new(&so, &server);
	err = err ?: agent_api_routes(server, &a);
	if (f.metrics_listen && *f.metrics_listen) {
		err = err ?: http_server_new(&mso, &metrics_server);
		err = err ?: agent_metrics_routes(metrics_server, &a);
		err = err ?: http_server_start_thread(metrics_server);
	} else {
		err = err ?: agent_metrics_routes(server, &a);
	}
	err = err ?: http_server_start_thread(server);
	if (err) {
		log_error("HTTP server failed", LOG_STR("listen", f.listen), LOG_ERRNO(err));
		http_server_free(metrics_server);
		http_server_free(server);
		return 1;
	}
	log_info("starting", LOG_STR("version", build_info()->version), LOG_STR("commit", build_info()->revision),
		 LOG_STR("listen", f.listen), LOG_INT("port", http_server_port(server)),
		 LOG_INT("metrics_port", http_server_port(metrics_server ? metrics_server : server)),
		 LOG_STR("node", a.node_name ? a.node_name : ""), LOG_STR("auth", f.auth),
		 LOG_STR("controller_sa", f.controller_sa), LOG_STR("state_dir", f.state_dir),
		 LOG_STR("syscall_arch", syscall_table_arch()));

	dopts.pin_root = f.pin_root;
	dopts.cgroup_root = f.cgroup_root;
	dopts.cni_cache_dir = f.cni_cache_dir;
	pthread_mutex_lock(&a.lock);
	err = dataplane_open(&dopts, &a.dp);
	err = err ?: dataplane_enforcer_new(a.dp, &a.np.enforcer);
	pthread_mutex_unlock(&a.lock);
	if (err) {
		log_error("dataplane open failed", LOG_STR("pin_root", f.pin_root ? f.pin_root : DATAPLANE_DEFAULT_PIN_ROOT),
			  LOG_ERRNO(err));
		http_server_free(metrics_server);
		http_server_free(server);
		return 1;
	}
	restore_state(&a);
	atomic_store(&a.ready, true);
	log_info("ready", LOG_INT("pods", a.np.want ? a.np.want->n_pods : 0));

	run_loop(&a, sig_fd);

	if (metrics_server)
		http_server_stop(metrics_server);
	http_server_stop(server);
	http_server_free(metrics_server);
	http_server_free(server);
	pthread_mutex_lock(&a.lock);
	node_policy_clear(&a.np);
	enforcer_free(a.np.enforcer);
	dataplane_close(a.dp); /* programs stay pinned and attached: enforcement outlives the agent */
	pthread_mutex_unlock(&a.lock);
	agent_metrics_free(a.metrics);
	metrics_registry_free(a.registry);
	agent_auth_free(a.auth);
	close(sig_fd);
	log_info("stopped");
	return 0;
}
