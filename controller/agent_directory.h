/* Which pcmc-agent serves which node: agent pods (label selector, one namespace) listed and
 * watched from the API server; address from the pod's annotation, else podIP + port "api". */
#ifndef PCMC_CONTROLLER_AGENT_DIRECTORY_H
#define PCMC_CONTROLLER_AGENT_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/kube_client.h"

/* Test/override hook: "HOST:PORT" of the agent, for several agents sharing one host address. */
#define ANNOTATION_AGENT_ADDRESS "pcmc.example.com/agent-address"

struct agent_directory_config {
	const char *namespace;       /* pcmc-system */
	const char *selector;        /* app.kubernetes.io/name=pcmc-agent */
	int default_port;            /* when no container port is named "api" (4855) */
	/* Called (reflector thread) when a node's agent appeared, changed address or restarted. */
	void (*on_agent_changed)(void *ud, const char *node);
	void *ud;
};

struct agent_directory;

int agent_directory_new(struct kube_client *client, const struct agent_directory_config *cfg,
			struct agent_directory **out);
int agent_directory_start(struct agent_directory *d);
bool agent_directory_synced(struct agent_directory *d);
/* reflector_wait_synced on the agent pods' reflector; agent_directory_signal_stop cancels it. */
int agent_directory_wait_synced(struct agent_directory *d);
void agent_directory_signal_stop(struct agent_directory *d);
/* "HOST:PORT" of the running agent of `node` into out; -ENOENT when the node has none. */
int agent_directory_address(struct agent_directory *d, const char *node, char *out, size_t len);
/* Calls fn for every node that has an agent. */
void agent_directory_each_node(struct agent_directory *d, void (*fn)(void *ud, const char *node), void *ud);
void agent_directory_stop(struct agent_directory *d);
void agent_directory_free(struct agent_directory *d);

#endif
