/* The policy service's worker: each queued push is decoded (strict, syscall names checked for the
 * node's architecture), routed to its node, fenced, saved to the state file, applied as a diff, and
 * answered through the HTTP server. Runs on the caller's thread (the agent's main loop). */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/service/agent_service.h"
#include "agent/service/agent_state.h"
#include "common/http_server.h"
#include "common/log.h"

static void count(struct agent_service *svc, const char *result, double seconds)
{
	if (svc->metrics)
		agent_metrics_push(svc->metrics, result, seconds);
}

static void answer(struct agent_service *svc, const struct push_job *job, int status, struct json_writer *w)
{
	struct http_response resp = { .status = status, .content_type = "application/json" };

	if (jw_finish(w, &resp.body, &resp.body_len)) {
		resp.status = 500;
		resp.body = strdup("{\"error\":\"encoding the answer failed\"}\n");
		resp.body_len = resp.body ? strlen(resp.body) : 0;
	}
	http_server_respond(svc->server, job->exchange, &resp);
}

static void refuse(struct agent_service *svc, const struct push_job *job, int status, const struct push_refusal *f)
{
	struct json_writer w;

	jw_init(&w);
	push_refusal_write(&w, f);
	answer(svc, job, status, &w);
}

static void refuse_text(struct agent_service *svc, const struct push_job *job, int status, const char *why)
{
	refuse(svc, job, status, &(struct push_refusal){ .error = (char *)why });
}

static void refuse_invalid(struct agent_service *svc, const struct push_job *job, const struct json_error *e)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%s: %s", e->path, e->message);
	log_warn("policy push invalid", LOG_STR("json_path", e->path), LOG_ERROR_TEXT(e->message));
	count(svc, "invalid", -1);
	refuse(svc, job, 400, &(struct push_refusal){ .error = msg, .path = (char *)e->path });
}

/* 409: what the node holds (and sees of the Lease), and why the push cannot replace it. */
static void refuse_fenced(struct agent_service *svc, const struct push_job *job, const struct policy_push *held,
			  const struct policy_push *push, enum fence_reason reason, const struct lease_seen *lease)
{
	struct push_refusal f = { .reason = reason };
	char why[500];

	switch (reason) {
	case FENCE_DIFFERENT_BODY:
		snprintf(why, sizeof(why), "conflicting push: epoch %lld revision %lld was already accepted with "
			 "another body", (long long)push->sender.epoch, (long long)push->revision);
		break;
	case FENCE_NOT_LEASE_HOLDER:
		snprintf(why, sizeof(why), "sender \"%.100s\" does not hold the Lease %s (%s%.100s%s)",
			 push->sender.identity, agent_lease_name(svc->lease), lease->exists ? "held by \"" : "",
			 lease->exists ? lease->holder : "there is none", lease->exists ? "\"" : "");
		break;
	case FENCE_LEASE_EXPIRED:
		snprintf(why, sizeof(why), "the Lease %s held by \"%.100s\" was not renewed for %lld ms (duration %lld ms) "
			 "as this agent sees it", agent_lease_name(svc->lease), lease->holder,
			 (long long)lease->since_renew_ms, (long long)lease->duration_ms);
		break;
	case FENCE_EPOCH_ABOVE_LEASE:
		snprintf(why, sizeof(why), "epoch %lld is above the Lease's leaseTransitions %lld",
			 (long long)push->sender.epoch, (long long)lease->transitions);
		break;
	default:
		snprintf(why, sizeof(why), "stale push: epoch %lld revision %lld is older than the newest accepted "
			 "(epoch %lld revision %lld)", (long long)push->sender.epoch, (long long)push->revision,
			 (long long)held->sender.epoch, (long long)held->revision);
	}
	log_warn("policy push fenced", LOG_STR("node", push->node), LOG_STR("reason", fence_reason_name(reason)),
		 LOG_STR("identity", push->sender.identity), LOG_INT("epoch", push->sender.epoch),
		 LOG_INT("revision", push->revision), LOG_STR("held_identity", held ? held->sender.identity : ""),
		 LOG_INT("held_epoch", held ? held->sender.epoch : -1), LOG_INT("held_revision", held ? held->revision : -1),
		 LOG_STR("holder", lease ? lease->holder : ""),
		 LOG_INT("lease_transitions", lease ? lease->transitions : -1));
	count(svc, "stale", -1);
	f.error = why;
	if (held) {
		f.has_held = true;
		f.held = held->sender;
		f.held_revision = held->revision;
	}
	if (lease) {
		f.has_lease = true;
		f.lease_holder = (char *)lease->holder;
		f.lease_transitions = lease->transitions;
	}
	refuse(svc, job, 409, &f);
}

/* Applies an accepted push to its node and answers with the per-pod results. */
static void apply(struct agent_service *svc, const struct push_job *job, struct agent_node *n, struct policy_push *push)
{
	const struct policy_push *before = n->np.want;
	bool new_sender = before && strcmp(before->sender.identity, push->sender.identity);
	struct apply_report report;
	struct json_writer w;
	int64_t t0 = monotonic_ms();
	double secs;
	int err;

	if (new_sender) {
		log_warn("policy sender changed", LOG_STR("node", push->node), LOG_STR("identity", push->sender.identity),
			 LOG_INT("epoch", push->sender.epoch), LOG_STR("previous_identity", before->sender.identity),
			 LOG_INT("previous_epoch", before->sender.epoch));
		if (svc->metrics)
			agent_metrics_sender_changed(svc->metrics);
	}
	err = node_policy_apply(&n->np, push, t0, &report);
	secs = (double)(monotonic_ms() - t0) / 1000;
	if (err) {
		count(svc, "error", -1);
		refuse_text(svc, job, 500, "out of memory while applying");
		return;
	}
	count(svc, "accepted", secs);
	agent_log_apply(n, &report, secs, "push");
	jw_init(&w);
	apply_report_write(&report, n->np.want, &w);
	apply_report_free(&report);
	agent_node_publish(n);
	answer(svc, job, 200, &w);
	/* After the answer: the sender does not wait for it. */
	if (svc->trim_after_apply)
		malloc_trim(0); /* libbpf parses the kernel's BTF for each program it loads; glibc keeps it */
}

static void handle(struct agent_service *svc, const struct push_job *job)
{
	struct policy_decode_opts opts = { .arch = svc->arch };
	struct policy_push *push;
	struct json_error e;
	struct agent_node *n;
	struct lease_seen seen;
	enum fence_reason fenced;
	char why[400];
	int err;

	err = policy_push_decode(job->body, job->len, &opts, &push, &e);
	if (err == -EINVAL) {
		refuse_invalid(svc, job, &e);
		return;
	}
	if (err) {
		count(svc, "error", -1);
		refuse_text(svc, job, 500, "out of memory");
		return;
	}
	n = agent_service_node(svc, push->node);
	if (!n || (n->name && strcmp(n->name, push->node))) {
		snprintf(e.path, sizeof(e.path), "$.node");
		if (n && n->name)
			snprintf(e.message, sizeof(e.message), "this agent is node \"%.100s\", not \"%.100s\"", n->name,
				 push->node);
		else
			snprintf(e.message, sizeof(e.message), "no node \"%.100s\" here", push->node);
		refuse_invalid(svc, job, &e);
		policy_push_free(push);
		return;
	}
	if (job->pod_name[0] && strcmp(job->pod_name, push->sender.identity)) {
		snprintf(why, sizeof(why), "the token belongs to pod %.100s, which cannot push as sender \"%.100s\"",
			 job->pod_name, push->sender.identity);
		log_warn("policy push refused", LOG_INT("http_status", 403), LOG_ERROR_TEXT(why));
		count(svc, "forbidden_sender", -1);
		refuse_text(svc, job, 403, why);
		policy_push_free(push);
		return;
	}
	if (svc->lease) {
		if (agent_lease_check(svc->lease, push->sender.identity, push->sender.epoch, &fenced, &seen)) {
			snprintf(why, sizeof(why), "cannot read the controller's Lease %s to confirm the sender: nothing "
				 "is accepted until it can be", agent_lease_name(svc->lease));
			count(svc, "unavailable_lease", -1);
			refuse_text(svc, job, 503, why);
			policy_push_free(push);
			return;
		}
		if (fenced != FENCE_NONE) {
			refuse_fenced(svc, job, n->np.want, push, fenced, &seen);
			policy_push_free(push);
			return;
		}
	}
	fenced = fence_check(n->np.want, push);
	if (fenced != FENCE_NONE) {
		refuse_fenced(svc, job, n->np.want, push, fenced, svc->lease ? &seen : NULL);
		policy_push_free(push);
		return;
	}
	if (n->state_dir && (err = state_save(n->state_dir, push))) {
		snprintf(why, sizeof(why), "writing the state file failed: %s (nothing changed)", log_strerror(err));
		count(svc, "error", -1);
		refuse_text(svc, job, 500, why);
		policy_push_free(push);
		return;
	}
	apply(svc, job, n, push);
}

int agent_service_work(struct agent_service *svc)
{
	struct push_job *jobs, *next;
	uint64_t ticks;
	ssize_t r = read(svc->queue_fd, &ticks, sizeof(ticks));
	int handled = 0;

	(void)r;
	pthread_mutex_lock(&svc->lock);
	jobs = svc->queue;
	svc->queue = NULL;
	svc->queue_tail = &svc->queue;
	svc->queued = svc->queued_bytes = 0;
	pthread_mutex_unlock(&svc->lock);
	for (; jobs; jobs = next, handled++) {
		next = jobs->next;
		handle(svc, jobs);
		free(jobs->body);
		free(jobs);
	}
	return handled;
}
