/* Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics: acquire when the
 * holder is empty or its lease expired (judged by our own clock since we last saw the record
 * change), renew every retry period, stop writing when no renew succeeded within the renew
 * deadline, release on shutdown so a standby takes over at once. */
#ifndef PCMC_CONTROLLER_LEADER_ELECTION_H
#define PCMC_CONTROLLER_LEADER_ELECTION_H

#include <errno.h>
#include <stdbool.h>

#include "common/kube_client.h"

struct leader_election_config {
	bool enabled;                 /* false: always leader, no Lease */
	const char *identity;
	const char *lock_name;
	const char *lock_namespace;
	unsigned lease_duration_ms, renew_deadline_ms, retry_period_ms;
	void (*on_started_leading)(void *ud);
	void (*on_stopped_leading)(void *ud);
	void *ud;
};

struct leader_election;

/* Reads LEADER_ELECTION_* environment variables into cfg (defaults: enabled, 15s/10s/2s,
 * lock pcmc-controller-leader in `default_namespace`). Returns 0, or -EINVAL with `why` naming the
 * variable and its value (durations in common/duration.h's grammar; lease > renew > 1.2 x retry). */
int leader_election_config_from_env(struct leader_election_config *cfg, const char *default_namespace,
				    char *why, size_t why_len);
int leader_election_new(struct kube_client *client, const struct leader_election_config *cfg,
			struct leader_election **out);
int leader_election_start(struct leader_election *le);
/* True while we hold the lease and the last successful renew is younger than the renew deadline:
 * checked before every write. */
bool leader_election_is_leader(struct leader_election *le);
/* Blocks until leader_election_is_leader() (true) or the election stops (false). Woken by every
 * acquire, renew and loss: workers wait here instead of polling. */
bool leader_election_wait(struct leader_election *le);
/* Stops leading at once (on_stopped_leading runs) and goes back to being a candidate: for a
 * replica that learned from elsewhere that another holds the Lease. `reason`: a word for the
 * log's "reason" ("NotHolder"), `why` the text. */
void leader_election_step_down(struct leader_election *le, const char *reason, const char *why);
/* While we hold the Lease: makes its leaseTransitions at least `min` (an update conditioned on
 * the resourceVersion just read, only when it is below) and stores the value now in the Lease in
 * *out (the fencing epoch to adopt). Returns 1 (raised), 0 (it already was), RAISE_ENOTHOLDER
 * (the Lease is not ours: step down) or another -errno (the API server failed; try later). */
#define RAISE_ENOTHOLDER (-ENOLCK)
int leader_election_raise_transitions(struct leader_election *le, long long min, long long *out);
/* leaseTransitions of the Lease as last observed. */
long long leader_election_transitions(struct leader_election *le);
/* Stops the election thread; if leading and `release`, hands the Lease back (empty holder). */
void leader_election_stop(struct leader_election *le, bool release);
void leader_election_free(struct leader_election *le);

#endif
