/* pcmc-hollow-agents: many simulated nodes' agents in one process, as kubemark's hollow nodes do for
 * the kubelet, for the controller's scale benchmark (issue 10: 5,000 nodes, 150,000 pods). Each node
 * runs the agent's real policy service: the same PUT/GET /v1/policy (strict codec, TokenReview
 * auth, Lease fencing, epoch/revision rules, per-pod results, failed pods listed), without a
 * dataplane: every valid pod is "applied" at once. Pushes are routed by their "node" field.
 *
 * Usage:
 *   build/pcmc-hollow-agents --listen ADDR:PORT --nodes-from FILE [--state-dir DIR] [--arch x86_64|arm64]
 *       [--auth tokenreview|none] [--controller-sa NS:NAME] [--kubeconfig FILE]
 *       [--fencing lease|local] [--controller-lease-namespace NS] [--controller-lease-name NAME]
 *       [--tokenreview-cache-ttl SECONDS] [--max-connections N]
 *   FILE: one node name a line ("-": stdin); every push must name one of them (else 400 $.node).
 *   --state-dir: each node keeps DIR/<node>/state.json as an agent does (fsync per push); without it
 *   the nodes hold their state in memory. --arch: the syscall table pushes are checked against
 *   (default this machine's). Defaults otherwise as pcmc-agent's (docs/policy-api.md), except
 *   --max-connections 8192. GET /v1/policy?node=NAME answers what a node holds; /metrics has the
 *   service's pcmc_agent_* push, auth and connection counters for all nodes together.
 *   To point the controller at it: give every agent pod the annotation
 *   pcmc.example.com/agent-address: ADDR:PORT (docs/policy-distribution.md, Agent discovery).
 *   Logs: one JSON line per push and per changed pod, as the agent's; SIGTERM/SIGINT stop it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/service/agent_setup.h"
#include "common/build_info.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/syscall_table.h"

/* The dataplane of a hollow node: accepts every pod, holds nothing. */
static int hollow_apply(struct enforcer *e, const struct policy_pod *pod, char *why, size_t len)
{
	(void)e;
	(void)pod;
	(void)why;
	(void)len;
	return 0;
}

static int hollow_remove(struct enforcer *e, const char *uid)
{
	(void)e;
	(void)uid;
	return 0;
}

static int hollow_orphans(struct enforcer *e, const char *const *uids, size_t n)
{
	(void)e;
	(void)uids;
	(void)n;
	return 0;
}

static struct enforcer hollow_enforcer = {
	.apply_pod = hollow_apply, .remove_pod = hollow_remove, .remove_orphans = hollow_orphans,
};

struct flags {
	struct service_flags service;
	const char *nodes_from, *state_dir, *arch;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
	struct cli_flag table[3 + SERVICE_FLAG_ROWS] = {
		{ .name = "nodes-from", .value = &f->nodes_from, .metavar = "FILE",
		  .help = "the simulated nodes' names, one a line (- for stdin)" },
		{ .name = "state-dir", .value = &f->state_dir, .metavar = "DIR",
		  .help = "keep each node's state in DIR/<node>/state.json (default: in memory)" },
		{ .name = "arch", .value = &f->arch, .choices = "x86_64|arm64",
		  .help = "the nodes' architecture, for syscall names" },
	};
	const struct cli_program prog = {
		.name = "pcmc-hollow-agents", .flags = table, .n_flags = sizeof(table) / sizeof(table[0]),
		.summary = "Many simulated nodes' pcmc agents in one process: the real policy API, auth, fencing and\n"
			   "state, no dataplane. For the controller's scale benchmark.",
		.footer = "Usage in test/agent/hollow_agents.c; policy API: docs/policy-api.md.\n",
	};

	service_flag_rows(&f->service, table + 3);
	return cli_parse(&prog, argc, argv, NULL);
}

/* The node names of path, one a line (blank lines and '#' comments skipped), each a new node. */
static int load_nodes(const char *path, const char *state_dir, const char *arch, struct agent_node ***out, size_t *n)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "re") : stdin;
	struct agent_node **nodes = NULL;
	size_t cap = 0;
	char line[512], dir[1024];
	int err = 0;

	*n = 0;
	if (!in)
		return -errno;
	while (!err && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (*n == cap) {
			struct agent_node **grown = realloc(nodes, (cap = cap ? cap * 2 : 256) * sizeof(*nodes));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			nodes = grown;
		}
		snprintf(dir, sizeof(dir), "%s/%s", state_dir ? state_dir : "", line);
		nodes[*n] = calloc(1, sizeof(**nodes));
		err = nodes[*n] ? agent_node_init(nodes[*n], line, state_dir ? dir : NULL, arch, &hollow_enforcer) : -ENOMEM;
		if (!err)
			(*n)++;
		else
			free(nodes[*n]);
	}
	if (in != stdin)
		fclose(in);
	*out = nodes;
	return err ? err : *n ? 0 : -ENOENT;
}

/* Many connections: as many file descriptors as the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(int argc, char **argv)
{
	struct flags f = { .service = SERVICE_FLAGS_DEFAULTS(NULL, 8192), .arch = syscall_table_arch() };
	struct service_setup setup;
	struct agent_node **nodes = NULL;
	size_t n_nodes = 0, restored = 0;
	int err;

	log_set_component("agent");
	err = parse_flags(argc, argv, &f);
	if (err)
		return err == CLI_EXIT ? 0 : 2;
	if (!f.service.listen || !f.nodes_from) {
		fprintf(stderr, "pcmc-hollow-agents: --listen ADDR:PORT and --nodes-from FILE are required\n");
		return 2;
	}
	err = load_nodes(f.nodes_from, f.state_dir, f.arch, &nodes, &n_nodes);
	if (err) {
		log_error("setup failed", LOG_STR("path", f.nodes_from), LOG_ERRNO(err));
		return 1;
	}
	agent_service_sort_nodes(nodes, n_nodes);
	for (size_t i = 1; i < n_nodes; i++)
		if (!strcmp(nodes[i - 1]->name, nodes[i]->name)) {
			log_error("setup failed", LOG_STR("node", nodes[i]->name), LOG_ERROR_TEXT("node named twice"));
			return 2;
		}
	raise_fd_limit();
	err = service_setup_start(&setup, &f.service, nodes, n_nodes, f.arch);
	if (err)
		return err == -EINVAL ? 2 : 1;
	for (size_t i = 0; i < n_nodes; i++)
		restored += nodes[i]->state_dir && !agent_node_restore(nodes[i]);
	atomic_store(&setup.svc.ready, true);
	log_info("starting", LOG_STR("version", build_info()->version), LOG_STR("commit", build_info()->revision),
		 LOG_STR("listen", f.service.listen), LOG_INT("port", http_server_port(setup.server)),
		 LOG_INT("nodes", n_nodes), LOG_INT("restored", restored), LOG_STR("auth", f.service.auth),
		 LOG_STR("fencing", f.service.fencing), LOG_STR("syscall_arch", f.arch),
		 LOG_STR("state_dir", f.state_dir ? f.state_dir : ""));

	for (;;) {
		struct pollfd p[2] = { { .fd = setup.sig_fd, .events = POLLIN },
				       { .fd = agent_service_queue_fd(&setup.svc), .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(setup.sig_fd, &si, sizeof(si)) == sizeof(si))
				log_info("stopping", LOG_SIGNAL((int)si.ssi_signo));
			break;
		}
		if (p[1].revents & POLLIN)
			agent_service_work(&setup.svc);
	}
	service_setup_stop(&setup);
	for (size_t i = 0; i < n_nodes; i++) {
		agent_node_clear(nodes[i]);
		free(nodes[i]);
	}
	free(nodes);
	log_info("stopped");
	return 0;
}
