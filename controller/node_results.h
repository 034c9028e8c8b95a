/* What each node's agent said about its pods, as this leader last heard it (the source of a CR's
 * attachedPods, nodes[] and Ready). A node heard of in an earlier leadership term is "unknown"
 * until this term's first answer, so a new leader never writes status from a guess. */
#ifndef PCMC_CONTROLLER_NODE_RESULTS_H
#define PCMC_CONTROLLER_NODE_RESULTS_H

#include <stddef.h>

#include "controller/strmap.h"

enum pod_enforcement {
	ENFORCE_UNKNOWN,   /* this leader has not heard from the node's agent yet: do not report */
	ENFORCE_PENDING,   /* not (yet) enforced: not pushed, agent unreachable, no agent */
	ENFORCE_ATTACHED,  /* the agent reports it applied (or unchanged) */
	ENFORCE_FAILED,    /* the agent (or the merge) failed it; the reason says why */
};

/* One pod's result in a results map (uid -> struct pod_outcome *). */
struct pod_outcome {
	enum pod_enforcement state;
	char reason[];
};
struct pod_outcome *pod_outcome_new(enum pod_enforcement state, const char *reason);

struct node_results;

struct node_results *node_results_new(void);
void node_results_free(struct node_results *r);
/* A new leadership term: every node is unknown until stored again. */
void node_results_new_term(struct node_results *r);

/* Called per pod whose result differs from what was known before (or, for a node first heard
 * of in this term, per pod in `pods`). */
typedef void (*pod_result_changed_fn)(void *ud, const char *uid);

/* The agent answered: `results` (uid -> struct pod_outcome *, ownership passes) replaces what
 * was known of the node; the node error is cleared. */
int node_results_store(struct node_results *r, const char *node, struct strmap *results,
		       pod_result_changed_fn changed, void *ud);
/* The push failed (`error` says why): pods keep their last known result (enforcement outlives
 * an unreachable agent), the others are pending with this error. `pods` (uid -> anything) are
 * the pods the push was for: each is reported changed when the error is new. */
int node_results_fail(struct node_results *r, const char *node, const char *error, const struct strmap *pods,
		      pod_result_changed_fn changed, void *ud);
/* What is known of pod `uid` on `node`; `reason` filled for ENFORCE_PENDING and ENFORCE_FAILED. */
enum pod_enforcement node_results_pod(struct node_results *r, const char *node, const char *uid, char *reason,
				      size_t len);
/* Forgets a node (no pods and no agent left). */
void node_results_forget(struct node_results *r, const char *node);

#endif
