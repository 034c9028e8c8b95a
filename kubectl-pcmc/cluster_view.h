/* One look at the cluster for kubectl-pcmc, with the controller's own code: PodConfigMapConfigs
 * and pods through its reflectors and caches, each pod's policy by its merge (pod_policy), each
 * node's agent by its discovery (agent_directory), and what every agent holds (GET /v1/policy). */
#ifndef PCMC_KUBECTL_CLUSTER_VIEW_H
#define PCMC_KUBECTL_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ebpf_config.h"
#include "common/kube_client.h"
#include "common/policy_codec.h"
#include "controller/cache.h"
#include "controller/pod_policy.h"
#include "kubectl-pcmc/verdict.h"

struct cluster_view_opts {
	const char *namespace;       /* pods and CRs of this namespace; NULL: every namespace */
	const char *agent_namespace; /* as the controller's --agent-namespace */
	const char *agent_selector;  /* --agent-selector */
	int agent_port;              /* --agent-port */
	int agent_metrics_port;      /* where /metrics is when the API port does not serve it */
	long timeout_ms;             /* for the lists and each agent */
};

/* A node's agent as read once per view. */
struct node_agent {
	char node[254];
	char address[300];           /* "" when the node has no running agent */
	int err;                     /* 0, -ENOENT (no agent), or the read failed: error says why */
	char error[1024];
	struct policy_push *held;    /* what it holds (err == 0) */
};

/* Everything kubectl-pcmc says about one pod. */
struct pod_report {
	const struct pod *pod;       /* in the view's pod cache */
	const char *selected_by[POD_POLICY_MAX_CRS]; /* every CR whose selector matches, eBPF or not */
	size_t n_selected;
	struct pod_policy pp;        /* the controller's merge */
	int merge_err;
	struct ebpf_config want;     /* the merge as the agent reads it */
	const struct node_agent *agent;  /* NULL when the pod has no node */
	const struct policy_pod *held;   /* this pod in what the agent holds, or NULL */
	struct pod_verdict verdict;
};

struct cluster_view;

/* Lists (and waits for) the CRs, pods and agent pods. 0, or -errno with `error` saying what could
 * not be read. */
int cluster_view_load(struct kube_client *client, const struct cluster_view_opts *o, struct cluster_view **out,
		      char *error, size_t error_len);
void cluster_view_free(struct cluster_view *v);

struct object_cache *cluster_view_pods(struct cluster_view *v);
struct object_cache *cluster_view_pcmcs(struct cluster_view *v);
/* The agent of `node`, read on first use. Never NULL. */
const struct node_agent *cluster_view_agent(struct cluster_view *v, const char *node);

/* The report of a pod of the view's pod cache (held under its read lock, and the pcmcs' read lock).
 * 0 or -ENOMEM; clear with pod_report_clear. */
int pod_report_make_locked(struct cluster_view *v, const struct pod *pod, struct pod_report *out);
void pod_report_clear(struct pod_report *r);

#endif
