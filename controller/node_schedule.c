/* The scheduling rules of node pushes (docs/policy-distribution.md, "Pushes" and "Fencing"). */
#include "controller/node_schedule.h"

#include <string.h>

bool node_schedule_must_push(const struct node_record *r, unsigned long term)
{
	return r->pushed_term != term || r->agent_changes != r->agent_changes_pushed;
}

unsigned node_schedule_hold_ms(const struct node_record *r, unsigned long term, uint64_t now_ms, unsigned batch_ms)
{
	if (node_schedule_must_push(r, term) || now_ms >= r->last_push_ms + batch_ms)
		return 0;
	return (unsigned)(r->last_push_ms + batch_ms - now_ms);
}

enum node_action node_schedule_action(const struct node_record *r, unsigned long term, uint64_t fingerprint,
				      uint64_t now_ms, uint64_t *wait_ms)
{
	*wait_ms = 0;
	if (node_schedule_must_push(r, term) || r->pushed_fingerprint != fingerprint)
		return NODE_PUSH;
	if (now_ms >= r->next_verify_ms)
		return NODE_VERIFY;
	*wait_ms = r->next_verify_ms - now_ms;
	return NODE_WAIT;
}

bool node_schedule_holds_ours(const struct node_record *r, const char *identity, bool held_known,
			      const char *held_identity, long long held_epoch, long long held_revision)
{
	return held_known && strcmp(held_identity, identity) == 0 && held_epoch == r->epoch &&
	       held_revision == (long long)r->revision;
}

enum node_refusal node_schedule_refusal(long long our_epoch, enum fence_reason reason, bool held_known,
					long long held_epoch, int raises_so_far, long long *raise_to)
{
	*raise_to = 0;
	if (held_known && held_epoch >= our_epoch) {
		if (held_epoch >= NODE_SCHEDULE_EPOCH_MAX || raises_so_far >= NODE_SCHEDULE_MAX_RAISES)
			return REFUSAL_GIVE_UP;
		*raise_to = held_epoch + 1;
		return REFUSAL_RAISE;
	}
	if (reason == FENCE_NOT_LEASE_HOLDER || reason == FENCE_LEASE_EXPIRED || reason == FENCE_EPOCH_ABOVE_LEASE) {
		if (raises_so_far >= NODE_SCHEDULE_MAX_RAISES)
			return REFUSAL_GIVE_UP;
		*raise_to = our_epoch;
		return REFUSAL_RAISE;
	}
	return REFUSAL_RETRY_LATER;
}
