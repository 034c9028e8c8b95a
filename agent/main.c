/* pcmc-agent: the DaemonSet process. Opens (or adopts) the dataplane, re-applies the last accepted
 * push from the state file, serves the policy API, and follows containers, retries and counters.
 * Two rooms: the HTTP thread answers and hands pushes over; this main loop is the worker that
 * applies them and owns the dataplane. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/service/agent_setup.h"
#include "agent/service/agent_state.h"
#include "common/build_info.h"
#include "common/cli.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/syscall_table.h"

#define REFRESH_MS 2000
/* The policy API's port: IANA lists 4852-4866 as unassigned, Kubernetes and its usual add-ons use
 * none of it, and it is outside 9100-9999, which Prometheus' exporter allocations fill (9090 is
 * Prometheus itself). The manifests put /metrics and probes on 4856. */
#define AGENT_DEFAULT_PORT "4855"

struct flags {
	struct service_flags service;
	const char *pin_root, *cgroup_root, *state_dir, *node_name, *cni_cache_dir;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
	struct cli_flag table[5 + SERVICE_FLAG_ROWS] = {
		{ .name = "node-name", .value = &f->node_name, .metavar = "NAME", .env = "NODE_NAME",
		  .help = "this node's name (the Downward API's spec.nodeName)" },
		{ .name = "pin-root", .value = &f->pin_root, .metavar = "DIR",
		  .help = "bpffs directory for programs and maps (default " DATAPLANE_DEFAULT_PIN_ROOT ")" },
		{ .name = "cgroup-root", .value = &f->cgroup_root, .metavar = "DIR",
		  .help = "the cgroup v2 mount where pods' cgroups are found" },
		{ .name = "state-dir", .value = &f->state_dir, .metavar = "DIR",
		  .help = "where the last accepted push is kept across restarts" },
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

	service_flag_rows(&f->service, table + 5);
	return cli_parse(&prog, argc, argv, NULL);
}

struct agent {
	struct service_setup setup;
	struct agent_node node;
	struct agent_node *nodes[1];
	struct dataplane *dp;
	struct enforcer *enforcer;
};

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

/* The worker: pushes, container events, retries and counters, until SIGTERM/SIGINT. */
static void run_loop(struct agent *a, int sig_fd)
{
	struct node_policy *np = &a->node.np;
	int timer_fd = make_timer(1000);
	int64_t next_refresh = monotonic_ms() + REFRESH_MS;

	for (;;) {
		struct pollfd p[4] = { { .fd = sig_fd, .events = POLLIN },
				       { .fd = agent_service_queue_fd(&a->setup.svc), .events = POLLIN },
				       { .fd = dataplane_event_fd(a->dp), .events = POLLIN },
				       { .fd = timer_fd, .events = POLLIN } };
		uint64_t ticks;
		int64_t now;

		if (poll(p, 4, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				log_info("stopping", LOG_SIGNAL((int)si.ssi_signo));
			break;
		}
		if (p[1].revents & POLLIN)
			agent_service_work(&a->setup.svc);
		if (p[3].revents & POLLIN && read(timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			break;
		now = monotonic_ms();
		if (p[2].revents & POLLIN || now >= next_refresh) {
			int n = dataplane_refresh(a->dp);

			if (n > 0)
				np->generation++;
			if (p[2].revents & POLLIN || n > 0)
				node_policy_retry_soon(np); /* a container appeared: failed pods may work now */
			if (node_policy_retry(np, now) > 0)
				malloc_trim(0);
			if (now >= next_refresh)
				next_refresh = now + REFRESH_MS;
		}
		agent_metrics_refresh(a->setup.metrics, np, a->dp, now);
		agent_node_publish(&a->node);
	}
	if (timer_fd >= 0)
		close(timer_fd);
}

int main(int argc, char **argv)
{
	struct flags f = { .service = SERVICE_FLAGS_DEFAULTS("0.0.0.0:" AGENT_DEFAULT_PORT, 256), .state_dir = AGENT_DEFAULT_STATE_DIR };
	struct agent a = { 0 };
	struct dataplane_opts dopts = { 0 };
	const char *node_name;
	int err;

	log_set_component("agent");
	err = parse_flags(argc, argv, &f);
	if (err)
		return err == CLI_EXIT ? 0 : 2;
	node_name = f.node_name && *f.node_name ? f.node_name : NULL;
	err = agent_node_init(&a.node, node_name, f.state_dir, syscall_table_arch(), NULL);
	if (err) {
		log_error("setup failed", LOG_ERRNO(err));
		return 1;
	}
	a.nodes[0] = &a.node;
	/* Serve /healthz while the dataplane opens; /readyz says ready only after the state is back. */
	err = service_setup_start(&a.setup, &f.service, a.nodes, 1, syscall_table_arch());
	if (err) {
		agent_node_clear(&a.node);
		return err == -EINVAL ? 2 : 1;
	}
	a.setup.svc.trim_after_apply = true;
	log_info("starting", LOG_STR("version", build_info()->version), LOG_STR("commit", build_info()->revision),
		 LOG_STR("listen", f.service.listen), LOG_INT("port", http_server_port(a.setup.server)),
		 LOG_INT("metrics_port", http_server_port(a.setup.metrics_server ? a.setup.metrics_server : a.setup.server)),
		 LOG_STR("node", node_name ? node_name : ""), LOG_STR("auth", f.service.auth),
		 LOG_STR("controller_sa", f.service.controller_sa), LOG_STR("state_dir", f.state_dir),
		 LOG_STR("syscall_arch", syscall_table_arch()), LOG_INT("max_connections", f.service.max_connections),
		 LOG_STR("fencing", f.service.fencing), LOG_STR("namespace", a.setup.lease ? f.service.lease_namespace : ""),
		 LOG_STR("lease", a.setup.lease ? f.service.lease_name : ""));

	dopts.pin_root = f.pin_root;
	dopts.cgroup_root = f.cgroup_root;
	dopts.cni_cache_dir = f.cni_cache_dir;
	err = dataplane_open(&dopts, &a.dp);
	err = err ?: dataplane_enforcer_new(a.dp, &a.enforcer);
	if (err) {
		log_error("dataplane open failed", LOG_STR("pin_root", f.pin_root ? f.pin_root : DATAPLANE_DEFAULT_PIN_ROOT),
			  LOG_ERRNO(err));
		service_setup_stop(&a.setup);
		agent_node_clear(&a.node);
		enforcer_free(a.enforcer);
		dataplane_close(a.dp);
		return 1;
	}
	a.node.np.enforcer = a.enforcer;
	agent_node_restore(&a.node);
	malloc_trim(0); /* libbpf's per-program BTF buffers */
	agent_metrics_refresh(a.setup.metrics, &a.node.np, a.dp, monotonic_ms());
	atomic_store(&a.setup.svc.ready, true);
	log_info("ready", LOG_INT("pods", a.node.np.want ? (long long)a.node.np.want->n_pods : 0));

	run_loop(&a, a.setup.sig_fd);

	service_setup_stop(&a.setup);
	agent_node_clear(&a.node);
	enforcer_free(a.enforcer);
	dataplane_close(a.dp); /* programs stay pinned and attached: enforcement outlives the agent */
	log_info("stopped");
	return 0;
}
