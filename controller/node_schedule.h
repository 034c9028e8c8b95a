/* When a node's push worker pushes, reads or waits, and what a fencing refusal calls for: the
 * decisions of node_push.c as pure functions of what this leader last got accepted on the node,
 * so they are tested without agents or a cluster. */
#ifndef PCMC_CONTROLLER_NODE_SCHEDULE_H
#define PCMC_CONTROLLER_NODE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/policy_codec.h"

/* What this leader last got accepted on a node. */
struct node_record {
	unsigned long pushed_term;       /* leadership term of the last accepted push (0: none yet) */
	uint64_t pushed_fingerprint;     /* its pods array */
	long long epoch;                 /* its sender epoch and revision */
	unsigned long long revision;
	uint64_t last_push_ms;           /* start of the last push attempt (monotonic) */
	uint64_t next_verify_ms;         /* when the agent is read again */
	/* Bumped when the agent appeared, moved or restarted (it may have lost its state); a push
	 * made after the bump catches up. Counters, so a restart during a push is not lost. */
	unsigned long agent_changes, agent_changes_pushed;
};

/* Whatever the desired state: a new term or a changed agent needs a push. */
bool node_schedule_must_push(const struct node_record *r, unsigned long term);
/* Milliseconds the node must wait before its next push (batching window after the last one;
 * 0: go on). A node that must push anyway (new term, agent changed) never waits. */
unsigned node_schedule_hold_ms(const struct node_record *r, unsigned long term, uint64_t now_ms, unsigned batch_ms);

enum node_action {
	NODE_PUSH,      /* the desired state differs from what the agent got from us */
	NODE_VERIFY,    /* unchanged, and the agent is due for a read */
	NODE_WAIT,      /* unchanged; read it in *wait_ms */
};
enum node_action node_schedule_action(const struct node_record *r, unsigned long term, uint64_t fingerprint,
				      uint64_t now_ms, uint64_t *wait_ms);

/* A read of the agent: does it hold exactly our last accepted push? */
bool node_schedule_holds_ours(const struct node_record *r, const char *identity, bool held_known,
			      const char *held_identity, long long held_epoch, long long held_revision);

/* A 409. When the agent holds our epoch or a higher one, our push can only pass with a higher
 * epoch: raise the Lease to the agent's epoch + 1. When it refused on its view of the Lease (not
 * the holder, expired, epoch above leaseTransitions), make sure the Lease is ours and at least
 * our epoch (a raise to our own epoch writes only if the Lease went below it). Otherwise the
 * agent lags and a retry with backoff is all it takes. *raise_to: the epoch to raise to. */
enum node_refusal { REFUSAL_RAISE, REFUSAL_RETRY_LATER, REFUSAL_GIVE_UP };
enum node_refusal node_schedule_refusal(long long our_epoch, enum fence_reason reason, bool held_known,
					long long held_epoch, int raises_so_far, long long *raise_to);

#define NODE_SCHEDULE_EPOCH_MAX POLICY_INT_MAX     /* the agent's limit for JSON integers */
#define NODE_SCHEDULE_MAX_RAISES 3                 /* per sync, before the node waits for its backoff */

#endif
