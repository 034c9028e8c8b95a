/* One node's policy as the service holds it: the newest accepted push applied through the node's
 * enforcer, its state file, and the GET /v1/policy body published for the HTTP thread. The
 * service's worker owns everything but the published snapshot, which has its own lock. */
#ifndef PCMC_AGENT_NODE_H
#define PCMC_AGENT_NODE_H

#include <pthread.h>
#include <stdint.h>

#include "agent/service/agent_apply.h"
#include "common/clock.h"

struct agent_node {
	char *name;                        /* NULL: the agent has no --node-name, any push's node goes */
	char *state_dir;                   /* NULL: held in memory only (hollow nodes) */
	const char *arch;                  /* syscall names are checked against this architecture */
	struct node_policy np;
	uint64_t published_generation;
	pthread_mutex_t snapshot_lock;
	char *snapshot;                    /* GET /v1/policy body (owned) */
	size_t snapshot_len;
};

/* name and state_dir are copied (either may be NULL); enforcer is not owned. 0 or -ENOMEM. */
int agent_node_init(struct agent_node *n, const char *name, const char *state_dir, const char *arch,
		    struct enforcer *enforcer);
void agent_node_clear(struct agent_node *n);
/* Re-applies the state file after a restart (nothing wanted is removed). 0, -ENOENT (none), or
 * -errno (unusable: logged, the node waits for the first push). */
int agent_node_restore(struct agent_node *n);
/* Renders GET /v1/policy again if anything changed since the last time. Worker only. */
void agent_node_publish(struct agent_node *n);
/* A copy of the published GET body, for the HTTP thread. 0 or -ENOMEM. */
int agent_node_snapshot(struct agent_node *n, char **text, size_t *len);
/* Logs one apply: a summary line (revision, epoch, counts) and a line per pod that is not unchanged. */
void agent_log_apply(const struct agent_node *n, const struct apply_report *r, double seconds, const char *why);

#endif
