/* The subcommands of kubectl-pcmc and what they share: the Kubernetes client, the flags, where
 * to print. Each returns the process exit status (0 ok, 1 the question could not be answered). */
#ifndef PCMC_KUBECTL_COMMANDS_H
#define PCMC_KUBECTL_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "common/ebpf_config.h"
#include "common/kube_client.h"
#include "kubectl-pcmc/cluster_view.h"

struct plugin {
	struct kube_client *client;
	struct cluster_view_opts view;  /* view.namespace NULL with --all-namespaces */
	double interval_s;              /* top: sampling interval; 0 = from the pods' updateInterval */
	FILE *out, *err;
};

/* status [CR]: per CR, per node and pod: enforced, failed (why) or pending (why). */
int cmd_status(struct plugin *p, const char *cr_name);
/* why POD: the CRs selecting it, its effective policy, each listed port's verdict, what its node's
 * agent holds for it. */
int cmd_why(struct plugin *p, const char *pod_name);
/* top: per pod, syscall and packet rates from the agents' /metrics. */
int cmd_top(struct plugin *p);

/* "syscallMonitoring: enabled, syscallNames: [read, write]" etc., one section a line. */
void print_ebpf_config(FILE *out, const char *indent, const struct ebpf_config *c);

#endif
