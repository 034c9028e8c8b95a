/* kubectl-pcmc: the kubectl plugin of pcmc (a binary named kubectl-pcmc on PATH makes `kubectl
 * pcmc ...`). Flags and subcommand, the Kubernetes client as kubectl finds its configuration. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/kube_client.h"
#include "common/kube_config.h"
#include "common/log.h"
#include "kubectl-pcmc/commands.h"

int main(int argc, char **argv)
{
	const char *namespace = NULL, *kubeconfig = NULL, *interval = NULL;
	bool all_namespaces = false;
	int timeout_s = 10;
	struct plugin p = { .out = stdout, .err = stderr,
			    .view = { .agent_namespace = "pcmc-system", .agent_selector = "app.kubernetes.io/name=pcmc-agent",
				      .agent_port = 4855, .agent_metrics_port = 4856 } };
	const struct cli_flag table[] = {
		{ .name = "namespace", .short_name = 'n', .value = &namespace, .metavar = "NS",
		  .help = "the namespace of the pods and PodConfigMapConfigs (default: the kubeconfig context's)" },
		{ .name = "all-namespaces", .short_name = 'A', .kind = CLI_BOOL, .value = &all_namespaces,
		  .help = "every namespace" },
		{ .name = "kubeconfig", .value = &kubeconfig, .metavar = "FILE",
		  .help = "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)" },
		{ .name = "agent-namespace", .value = &p.view.agent_namespace, .metavar = "NS",
		  .help = "where the pcmc-agent pods run (as the controller's flag)" },
		{ .name = "agent-selector", .value = &p.view.agent_selector, .metavar = "SELECTOR",
		  .help = "labels of the pcmc-agent pods (as the controller's flag)" },
		{ .name = "agent-port", .kind = CLI_INT, .value = &p.view.agent_port, .metavar = "PORT", .min = 1,
		  .max = 65535, .help = "the agents' port when the pod names no container port \"api\"" },
		{ .name = "agent-metrics-port", .kind = CLI_INT, .value = &p.view.agent_metrics_port, .metavar = "PORT",
		  .min = 1, .max = 65535,
		  .help = "top: the agents' /metrics port when their policy API port does not serve it (--metrics-listen)" },
		{ .name = "request-timeout", .kind = CLI_INT, .value = &timeout_s, .metavar = "SECONDS", .min = 1,
		  .max = 600, .help = "for the API server's lists and each agent" },
		{ .name = "interval", .value = &interval, .metavar = "SECONDS",
		  .help = "top: time between the two samples (default: the pods' longest updateInterval + 1s)" },
	};
	const struct cli_program prog = {
		.name = "kubectl-pcmc", .usage = "status [CR] | why POD | top  [FLAGS]",
		.summary = "The kubectl plugin of pcmc (`kubectl pcmc ...`):\n"
			   "  status [CR]  per PodConfigMapConfig, node and pod: enforced, failed (why) or pending (why)\n"
			   "  why POD      the CRs selecting the pod, its effective policy, each listed port's verdict,\n"
			   "               what its node's pcmc-agent holds for it\n"
			   "  top          per pod: syscalls, syscalls outside the allowlist, allowed and blocked packets\n"
			   "               per second, from the agents' /metrics",
		.flags = table, .n_flags = sizeof(table) / sizeof(table[0]), .max_positional = 2,
		.default_log_level = "error",
		.footer = "It reads pods, PodConfigMapConfigs and the agent pods with your credentials, and asks each\n"
			  "node's pcmc-agent (GET /v1/policy, /metrics) at the address the controller pushes to.\n",
	};
	struct kube_config *cfg = NULL;
	char *end;
	int n_pos = 0, err, rc;

	log_set_component("kubectl-pcmc");
	err = cli_parse(&prog, argc, argv, &n_pos);
	if (err)
		return err == CLI_EXIT ? 0 : 2;
	p.interval_s = interval ? strtod(interval, &end) : 0;
	if (interval && (end == interval || *end || !(p.interval_s > 0 && p.interval_s <= 3600))) {
		fprintf(stderr, "kubectl-pcmc: --interval must be seconds above 0, at most 3600, got \"%s\"\n", interval);
		return 2;
	}
	if (n_pos == 0 || (!strcmp(argv[1], "why") && n_pos != 2) || (!strcmp(argv[1], "top") && n_pos != 1) ||
	    (strcmp(argv[1], "status") && strcmp(argv[1], "why") && strcmp(argv[1], "top"))) {
		fprintf(stderr, "kubectl-pcmc: want status [CR], why POD or top, got \"%s%s%s\" (see kubectl-pcmc --help)\n",
			n_pos ? argv[1] : "", n_pos > 1 ? " " : "", n_pos > 1 ? argv[2] : "");
		return 2;
	}
	err = kube_config_load(kubeconfig, &cfg);
	if (err) {
		fprintf(stderr, "kubectl-pcmc: cannot load the Kubernetes configuration%s%s: %s\n", kubeconfig ? " " : "",
			kubeconfig ? kubeconfig : "", strerror(-err));
		return 1;
	}
	err = kube_client_new(cfg, &p.client);
	if (err) {
		fprintf(stderr, "kubectl-pcmc: %s\n", strerror(-err));
		kube_config_free(cfg);
		return 1;
	}
	p.view.namespace = all_namespaces ? NULL : namespace ? namespace : cfg->namespace ? cfg->namespace : "default";
	p.view.timeout_ms = timeout_s * 1000L;
	if (!strcmp(argv[1], "status"))
		rc = cmd_status(&p, n_pos == 2 ? argv[2] : NULL);
	else if (!strcmp(argv[1], "why"))
		rc = cmd_why(&p, argv[2]);
	else
		rc = cmd_top(&p);
	kube_client_free(p.client);
	kube_config_free(cfg);
	return rc;
}
