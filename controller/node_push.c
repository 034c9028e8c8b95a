/* Node push workers: take a node from the node workqueue, build its desired state, push it when
 * it differs from what this leader last got accepted there (or a read shows the agent holds
 * another sender's state), keep the per-pod answers for status and re-enqueue only the CRs of
 * pods whose answer changed. A 409 raises the Lease's leaseTransitions above the agent's epoch
 * (still holding the Lease) and pushes again; losing the Lease meanwhile means stepping down. */
#include "controller/node_push.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/log.h"
#include "controller/agent_client.h"
#include "controller/agent_directory.h"
#include "controller/node_desired.h"
#include "controller/node_schedule.h"
#include "controller/strmap.h"
#include "controller/workqueue.h"

#define MAX_REJECTED_PER_SYNC 16  /* pods a sync may drop after a 400 naming them */

/* Records (node_schedule.h) are touched by the one worker holding the node's key (the workqueue
 * never hands a key to two workers), and by agent_changed under np->lock. */

struct node_push {
	struct node_push_config cfg;
	struct agent_directory *agents;
	struct agent_client *client;
	struct node_results *results;
	struct workqueue *queue;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t lock;            /* leading, term, epoch, revision, records, stats */
	atomic_bool leading;
	unsigned long term;
	long long epoch;
	unsigned long long revision;
	struct strmap *records;          /* node -> struct node_record */
	struct node_push_stats stats;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Caller holds np->lock. NULL: no memory. */
static struct node_record *record_locked(struct node_push *np, const char *node)
{
	struct node_record *r = strmap_get(np->records, node);
	int err = 0;

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	strmap_put(np->records, node, r, &err);
	if (err) {
		free(r);
		return NULL;
	}
	return r;
}

void node_push_mark(struct node_push *np, const char *node)
{
	if (np && node && *node && atomic_load(&np->leading))
		workqueue_add(np->queue, node);
}

/* The agent appeared, moved or restarted: it may have lost its state, so push it whatever this
 * leader believes it holds, without waiting for an earlier failure's backoff. */
static void agent_changed(void *ud, const char *node)
{
	struct node_push *np = ud;
	struct node_record *r;

	pthread_mutex_lock(&np->lock);
	r = record_locked(np, node);
	if (r)
		r->agent_changes++;
	pthread_mutex_unlock(&np->lock);
	workqueue_forget(np->queue, node);
	node_push_mark(np, node);
}

static int mark_value(void *ud, const char *node)
{
	node_push_mark(ud, node);
	return 0;
}

static void mark_agent_node(void *ud, const char *node)
{
	node_push_mark(ud, node);
}

/* Every node with a pod or an agent. */
static void mark_all(struct node_push *np)
{
	object_cache_read_lock(np->cfg.pods);
	object_cache_each_index_value_locked(np->cfg.pods, mark_value, np);
	object_cache_unlock(np->cfg.pods);
	agent_directory_each_node(np->agents, mark_agent_node, np);
}

void node_push_started_leading(struct node_push *np, long long epoch)
{
	if (!np)
		return;
	pthread_mutex_lock(&np->lock);
	np->term++;
	np->epoch = epoch;
	/* Same epoch after a restart of this replica must still count upwards: start at wall-clock ms. */
	np->revision = wall_ms();
	np->stats.epoch = epoch;
	np->stats.nodes_pushed = 0;
	pthread_mutex_unlock(&np->lock);
	node_results_new_term(np->results);
	atomic_store(&np->leading, true);
	log_info("pushing full state to every agent", LOG_INT("epoch", epoch), LOG_STR("identity", np->cfg.identity));
	mark_all(np);
}

void node_push_stopped_leading(struct node_push *np)
{
	if (!np)
		return;
	atomic_store(&np->leading, false);
	pthread_mutex_lock(&np->lock);
	np->stats.epoch = -1;
	pthread_mutex_unlock(&np->lock);
}

enum pod_enforcement node_push_pod_result(struct node_push *np, const char *node, const char *uid, char *reason,
					  size_t len)
{
	return node_results_pod(np->results, node, uid, reason, len);
}

/* --- one node --- */

struct sync {
	struct node_push *np;
	const char *node;
	unsigned long term;
	unsigned long agent_changes;     /* as seen when the sync began */
	struct node_desired desired;
	struct strmap *rejected;         /* uid -> reason: pods the agent refused with 400 */
	char address[320];
	char error[800];
	int raises;
};

/* The CRs selecting a pod whose answer changed (as they are now: one made since the push
 * selects it too) get a status reconcile. */
static void pod_changed(void *ud, const char *uid)
{
	struct sync *s = ud;
	const struct desired_pod *p = strmap_get(s->desired.pods, uid);

	if (p && s->np->cfg.pod_result_changed)
		s->np->cfg.pod_result_changed(s->np->cfg.ud, p->namespace, p->name);
}

static int merge_failed(void *ud, const char *uid, void *value)
{
	struct strmap *results = ud;
	const struct pod_outcome *f = value;
	struct pod_outcome *r = pod_outcome_new(f->state, f->reason);
	int err = 0;

	if (!r)
		return -ENOMEM;
	free(strmap_put(results, uid, r, &err));
	if (err)
		free(r);
	return err;
}

/* The node is unreachable, refused us, or has no agent: pods keep what was known, the others are
 * pending with `error`. */
static void fail(struct sync *s, const char *error)
{
	if (error != s->error)
		snprintf(s->error, sizeof(s->error), "%s", error);
	node_results_fail(s->np->results, s->node, error, s->desired.pods, pod_changed, s);
}

/* Returns the delay of the retry (ms). */
static unsigned retry_later(struct sync *s)
{
	unsigned ms = 0;

	workqueue_add_rate_limited(s->np->queue, s->node, &ms);
	return ms;
}

/* What a node's agent holds, as the log schema names it. */
#define LOG_HELD(h) LOG_STR("agent_identity", (h).identity), LOG_INT("agent_epoch", (h).epoch), \
	LOG_INT("agent_revision", (h).revision)

static int rebuild(struct sync *s)
{
	node_desired_clear(s->np->cfg.policies, &s->desired);
	return node_desired_build(s->np->cfg.pcmcs, s->np->cfg.pods, s->np->cfg.policies, s->node, s->rejected,
				  &s->desired);
}

/* 200: record what the agent now holds from us, then its per-pod answers (whose changes
 * re-enqueue the CRs: logged after "policy pushed", so a reconcile they cause comes after it). */
static void accepted(struct sync *s, const struct agent_reply *reply, long long epoch, unsigned long long revision,
		     size_t body_len, uint64_t started_ms)
{
	struct node_push *np = s->np;
	struct push_counts counts = { 0 };
	struct strmap *results = strmap_new();
	struct node_record *r;
	int err = results ? agent_results_parse(reply->body, reply->len, results, &counts) : -ENOMEM;

	if (!err)
		err = strmap_each(s->desired.failed, merge_failed, results);
	pthread_mutex_lock(&np->lock);
	np->stats.pushes_ok++;
	r = record_locked(np, s->node);
	if (r) {
		if (r->pushed_term != s->term && s->term == np->term)
			np->stats.nodes_pushed++;
		r->pushed_term = s->term;
		r->pushed_fingerprint = s->desired.fingerprint;
		r->epoch = epoch;
		r->revision = revision;
		r->agent_changes_pushed = s->agent_changes;
		r->next_verify_ms = mono_ms() + np->cfg.verify_ms;
	}
	pthread_mutex_unlock(&np->lock);
	workqueue_forget(np->queue, s->node);
	workqueue_add_after(np->queue, s->node, np->cfg.verify_ms);
	log_info("policy pushed", LOG_STR("node", s->node), LOG_INT("epoch", epoch), LOG_INT("revision", revision),
		 LOG_INT("pods", s->desired.npushed), LOG_INT("applied", counts.applied),
		 LOG_INT("unchanged", counts.unchanged), LOG_INT("failed", counts.failed),
		 LOG_INT("removed", counts.removed), LOG_INT("body_bytes", (long long)body_len),
		 LOG_DURATION_MS((double)(mono_ms() - started_ms)));
	if (!err) {
		node_results_store(np->results, s->node, results, pod_changed, s);
		return;
	}
	strmap_free(results, free);
	/* Accepted, but what it did is not known: never claim the pods enforced. */
	log_warn("agent answer not understood", LOG_STR("node", s->node), LOG_ERROR_TEXT(log_strerror(err)));
	snprintf(s->error, sizeof(s->error), "the agent of node %s accepted the push but its answer was not understood",
		 s->node);
	fail(s, s->error);
}

/* Makes the Lease's leaseTransitions at least `want` (still holding it) and adopts it as the epoch.
 * Returns 0 (push again), RAISE_ENOTHOLDER (stepped down) or another -errno (try later). */
static int outbid(struct sync *s, const struct agent_refusal *f, long long want)
{
	struct node_push *np = s->np;
	long long got = 0;
	int rc;

	s->raises++;
	rc = leader_election_raise_transitions(np->cfg.election, want, &got);
	if (rc == RAISE_ENOTHOLDER) {
		log_warn("policy push refused and the Lease is not ours: stepping down", LOG_STR("node", s->node),
			 LOG_HELD(f->held), LOG_STR("reason", fence_reason_name(f->reason)));
		leader_election_step_down(np->cfg.election, "NotHolder",
					  "an agent refused our push and the Lease is no longer ours");
		return rc;
	}
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&np->lock);
	if (got > np->epoch)
		np->epoch = got;
	np->stats.epoch = np->epoch;
	if (rc == 1)
		np->stats.epoch_raises++;
	pthread_mutex_unlock(&np->lock);
	if (rc == 1)
		log_warn("fencing epoch raised above an agent's", LOG_STR("node", s->node), LOG_HELD(f->held),
			 LOG_STR("reason", fence_reason_name(f->reason)), LOG_INT("epoch", got));
	return 0;
}

static void count(struct node_push *np, unsigned long long *counter)
{
	pthread_mutex_lock(&np->lock);
	(*counter)++;
	pthread_mutex_unlock(&np->lock);
}

enum attempt { ATTEMPT_DONE, ATTEMPT_AGAIN };

/* 400 naming one pod: leave it out (reported failed), so it does not hold back the rest. */
static enum attempt on_rejected_pod(struct sync *s, const struct agent_refusal *f)
{
	const char *uid;
	char *why;
	int err = 0;

	if (f->pod_index < 0 || f->pod_index >= s->desired.npushed || strmap_count(s->rejected) >= MAX_REJECTED_PER_SYNC)
		return ATTEMPT_DONE;
	uid = s->desired.pushed[f->pod_index].uid;
	log_warn("agent refused a pod of the push", LOG_STR("node", s->node), LOG_STR("pod_uid", uid),
		 LOG_STR("error", f->error));
	why = strdup(f->error);
	free(strmap_put(s->rejected, uid, why, &err));
	if (!why || err || rebuild(s)) {
		retry_later(s);
		return ATTEMPT_DONE;
	}
	return ATTEMPT_AGAIN;
}

/* 409: raise the epoch (and push again), step down, or retry with backoff. */
static enum attempt on_fenced(struct sync *s, const struct agent_refusal *f, long long epoch,
			      unsigned long long revision)
{
	long long want;
	int err;

	count(s->np, &s->np->stats.pushes_refused);
	log_warn("policy push refused by the agent's fencing", LOG_STR("node", s->node), LOG_INT("epoch", epoch),
		 LOG_INT("revision", revision), LOG_STR("reason", fence_reason_name(f->reason)), LOG_HELD(f->held),
		 LOG_ERROR_TEXT(f->error));
	switch (node_schedule_refusal(epoch, f->reason, f->held.known, f->held.epoch, s->raises, &want)) {
	case REFUSAL_RAISE:
		err = outbid(s, f, want);
		if (!err)
			return ATTEMPT_AGAIN;
		if (err == RAISE_ENOTHOLDER)
			return ATTEMPT_DONE;
		break;
	case REFUSAL_GIVE_UP:
		log_error("cannot push above the agent's fencing", LOG_STR("node", s->node), LOG_HELD(f->held),
			  LOG_STR("reason", fence_reason_name(f->reason)));
		break;
	case REFUSAL_RETRY_LATER:
		break;
	}
	snprintf(s->error, sizeof(s->error), "the agent of node %s refused the push (%s): %s", s->node,
		 fence_reason_name(f->reason), f->error);
	fail(s, s->error);
	retry_later(s);
	return ATTEMPT_DONE;
}

static enum attempt push_once(struct sync *s)
{
	struct node_push *np = s->np;
	struct agent_reply reply = { 0 };
	struct agent_refusal refusal;
	unsigned long long revision;
	uint64_t started = mono_ms();
	struct timespec t0, t1;
	enum attempt next = ATTEMPT_DONE;
	long reply_status = 0;
	unsigned retry_ms;
	long long epoch;
	char *body;
	size_t len;
	int err;

	pthread_mutex_lock(&np->lock);
	epoch = np->epoch;
	revision = ++np->revision;
	if (record_locked(np, s->node))
		record_locked(np, s->node)->last_push_ms = started;
	pthread_mutex_unlock(&np->lock);
	if (!atomic_load(&np->leading))
		return ATTEMPT_DONE; /* the next term marks every node */
	if (!leader_election_is_leader(np->cfg.election)) {
		retry_later(s); /* renew overdue: the election decides within a retry period */
		return ATTEMPT_DONE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	body = node_desired_body(&s->desired, s->node, np->cfg.identity, epoch, revision, &len);
	if (!body) {
		retry_later(s);
		return ATTEMPT_DONE;
	}
	err = agent_client_put_policy(np->client, s->address, body, len, &reply, s->error, sizeof(s->error));
	free(body);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	controller_metrics_observe_push(np->cfg.metrics,
					(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (!err && reply.status == 200) {
		accepted(s, &reply, epoch, revision, len, started);
		agent_reply_clear(&reply);
		return ATTEMPT_DONE;
	}
	if (!err) {
		agent_refusal_parse(reply.body, reply.len, &refusal);
		if (reply.status == 400)
			next = on_rejected_pod(s, &refusal);
		else if (reply.status == 409)
			next = on_fenced(s, &refusal, epoch, revision);
		if (next == ATTEMPT_AGAIN || reply.status == 409) {
			agent_reply_clear(&reply);
			return next;
		}
		snprintf(s->error, sizeof(s->error), "agent %s answered %ld: %s", s->address, reply.status, refusal.error);
		reply_status = reply.status;
		agent_reply_clear(&reply);
	}
	count(np, &np->stats.pushes_failed);
	fail(s, s->error);
	retry_ms = retry_later(s);
	log_warn("policy push failed", LOG_STR("node", s->node), LOG_INT("epoch", epoch), LOG_INT("revision", revision),
		 LOG_INT("http_status", err ? 0 : reply_status), LOG_INT("retry_ms", retry_ms), LOG_ERROR_TEXT(s->error));
	return ATTEMPT_DONE;
}

static void push(struct sync *s)
{
	if (agent_directory_address(s->np->agents, s->node, s->address, sizeof(s->address))) {
		char why[320];

		/* No retry: the agent's pod appearing marks the node. */
		snprintf(why, sizeof(why), "no running pcmc-agent on node %s", s->node);
		fail(s, why);
		return;
	}
	while (push_once(s) == ATTEMPT_AGAIN)
		;
}

/* The cheap read: does the agent still hold what this leader pushed? Returns true when it does
 * (its pods' states taken into the results), false when a push is needed. */
static bool verify(struct sync *s, const struct node_record *mine)
{
	struct node_push *np = s->np;
	struct agent_reply reply = { 0 };
	struct agent_held held;
	struct strmap *results = strmap_new();
	int err;

	if (!results || agent_directory_address(np->agents, s->node, s->address, sizeof(s->address))) {
		strmap_free(results, free);
		return false;
	}
	err = agent_client_get_policy(np->client, s->address, s->node, &reply, s->error, sizeof(s->error));
	count(np, &np->stats.reads);
	/* Unreadable now: the push that follows says why, and retries with backoff. */
	if (!err)
		err = reply.status == 200 ? agent_node_state_parse(reply.body, reply.len, &held, results) : -EIO;
	agent_reply_clear(&reply);
	if (!err && !node_schedule_holds_ours(mine, np->cfg.identity, held.known, held.identity, held.epoch,
					      held.revision)) {
		count(np, &np->stats.foreign_restored);
		log_warn("agent holds state not from this leader: restoring", LOG_STR("node", s->node), LOG_HELD(held),
			 LOG_INT("epoch", mine->epoch), LOG_INT("revision", mine->revision));
		err = -ESTALE;
	}
	if (!err)
		err = strmap_each(s->desired.failed, merge_failed, results);
	if (!err) {
		node_results_store(np->results, s->node, results, pod_changed, s);
		return true;
	}
	strmap_free(results, free);
	return false;
}

static void sync_node(struct node_push *np, const char *node)
{
	struct sync s = { .np = np, .node = node };
	struct node_record mine = { 0 };
	uint64_t now = mono_ms(), wait_ms;
	unsigned hold;

	pthread_mutex_lock(&np->lock);
	s.term = np->term;
	if (record_locked(np, node))
		mine = *record_locked(np, node);
	s.agent_changes = mine.agent_changes;
	pthread_mutex_unlock(&np->lock);
	if (!atomic_load(&np->leading))
		return;
	/* At most one push per node per batching window: changes right after a push go out together. */
	hold = node_schedule_hold_ms(&mine, s.term, now, np->cfg.batch_ms);
	if (hold) {
		workqueue_add_after(np->queue, node, hold);
		return;
	}
	s.rejected = strmap_new();
	if (!s.rejected || node_desired_build(np->cfg.pcmcs, np->cfg.pods, np->cfg.policies, node, NULL, &s.desired)) {
		strmap_free(s.rejected, free);
		retry_later(&s);
		return;
	}
	switch (node_schedule_action(&mine, s.term, s.desired.fingerprint, now, &wait_ms)) {
	case NODE_WAIT:
		workqueue_add_after(np->queue, node, (unsigned)wait_ms);
		break;
	case NODE_VERIFY:
		if (verify(&s, &mine)) {
			pthread_mutex_lock(&np->lock);
			if (record_locked(np, node))
				record_locked(np, node)->next_verify_ms = mono_ms() + np->cfg.verify_ms;
			pthread_mutex_unlock(&np->lock);
			workqueue_forget(np->queue, node);
			workqueue_add_after(np->queue, node, np->cfg.verify_ms);
			break;
		}
		/* The agent holds something else, or cannot be read: push. */
		__attribute__((fallthrough));
	case NODE_PUSH:
		push(&s);
		break;
	}
	node_desired_clear(np->cfg.policies, &s.desired);
	strmap_free(s.rejected, free);
}

static void *worker_run(void *arg)
{
	struct node_push *np = arg;

	while (leader_election_wait(np->cfg.election)) {
		char *node = workqueue_get(np->queue);

		if (!node)
			break;
		sync_node(np, node);
		workqueue_done(np->queue, node);
		free(node);
	}
	return NULL;
}

int node_push_new(const struct node_push_config *cfg, struct node_push **out)
{
	struct node_push *np = calloc(1, sizeof(*np));
	int err;

	if (!np)
		return -ENOMEM;
	np->cfg = *cfg;
	if (!np->cfg.batch_ms)
		np->cfg.batch_ms = 100;
	if (!np->cfg.verify_ms)
		np->cfg.verify_ms = 7500;
	if (!np->cfg.backoff_base_ms)
		np->cfg.backoff_base_ms = 200;
	if (!np->cfg.backoff_max_ms)
		np->cfg.backoff_max_ms = 10000;
	if (np->cfg.workers <= 0)
		np->cfg.workers = 8;
	if (!np->cfg.max_connections)
		np->cfg.max_connections = 8192;
	pthread_mutex_init(&np->lock, NULL);
	np->stats.epoch = -1;
	np->records = strmap_new();
	np->results = node_results_new();
	np->queue = workqueue_new(np->cfg.backoff_base_ms, np->cfg.backoff_max_ms);
	if (!np->records || !np->results || !np->queue) {
		node_push_free(np);
		return -ENOMEM;
	}
	err = agent_client_new(&(struct agent_client_config){ .kube_config = cfg->kube_config,
							      .max_connections = np->cfg.max_connections },
			       &np->client);
	if (!err)
		err = agent_directory_new(cfg->client,
					  &(struct agent_directory_config){ .namespace = cfg->agent_namespace,
									    .selector = cfg->agent_selector,
									    .default_port = cfg->agent_port,
									    .on_agent_changed = agent_changed, .ud = np },
					  &np->agents);
	if (err) {
		node_push_free(np);
		return err;
	}
	*out = np;
	return 0;
}

int node_push_start(struct node_push *np)
{
	int err = agent_directory_start(np->agents);

	if (err)
		return err;
	np->threads = calloc((size_t)np->cfg.workers, sizeof(pthread_t));
	if (!np->threads)
		return -ENOMEM;
	for (int i = 0; i < np->cfg.workers; i++) {
		err = pthread_create(&np->threads[i], NULL, worker_run, np);
		if (err)
			return -err;
		np->nthreads++;
	}
	return 0;
}

bool node_push_synced(struct node_push *np)
{
	return agent_directory_synced(np->agents);
}

int node_push_wait_synced(struct node_push *np)
{
	return agent_directory_wait_synced(np->agents);
}

void node_push_cancel_sync(struct node_push *np)
{
	if (np)
		agent_directory_signal_stop(np->agents);
}

void node_push_stop(struct node_push *np)
{
	if (!np)
		return;
	atomic_store(&np->leading, false);
	workqueue_shutdown(np->queue);
	for (int i = 0; i < np->nthreads; i++)
		pthread_join(np->threads[i], NULL);
	np->nthreads = 0;
	agent_directory_stop(np->agents);
}

void node_push_free(struct node_push *np)
{
	if (!np)
		return;
	agent_directory_free(np->agents);
	agent_client_free(np->client);
	workqueue_free(np->queue);
	node_results_free(np->results);
	strmap_free(np->records, free);
	free(np->threads);
	pthread_mutex_destroy(&np->lock);
	free(np);
}

void node_push_stats(struct node_push *np, struct node_push_stats *s)
{
	pthread_mutex_lock(&np->lock);
	*s = np->stats;
	pthread_mutex_unlock(&np->lock);
	s->push_bytes = agent_client_bytes_sent(np->client);
	s->queue_depth = workqueue_len(np->queue);
}
