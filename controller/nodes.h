/* The slim Node objects the controller caches: name and kubernetes.io/arch (which syscall table
 * a node's agent uses), so a policy can be checked per node architecture. */
#ifndef PCMC_CONTROLLER_NODES_H
#define PCMC_CONTROLLER_NODES_H

#include "controller/cache.h"
#include "controller/objects.h"

#define LABEL_NODE_ARCH "kubernetes.io/arch"

/* Cluster-scoped: meta.namespace is "". */
struct node {
	struct object_meta meta;
	char *arch;                 /* the label's value ("amd64", "arm64"), NULL when absent */
};

extern const struct object_kind node_kind;

/* The node's kubernetes.io/arch as pod_policy_compute_locked takes it: "" when the Node has no
 * such label, NULL when the Node is not known. Caller holds the nodes cache's read lock; the string
 * is valid until the unlock. */
const char *node_arch_locked(struct object_cache *nodes, const char *name);

#endif
