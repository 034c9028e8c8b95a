/* The policy API's handlers: auth -> parse/validate (400 with JSON path) -> fencing (409) ->
 * state file -> diff apply -> per-pod results; GET answers what is held; health and metrics. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/service/agent_api.h"
#include "agent/service/agent_state.h"
#include "common/http_server.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/syscall_table.h"

int64_t agent_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sends what w holds as the JSON body (a writer error becomes a 500). */
static void respond_json(struct http_response *resp, int status, struct json_writer *w)
{
	char *text;
	size_t len;

	if (jw_finish(w, &text, &len)) {
		json_respond_error(resp, 500, "encoding the answer failed");
		return;
	}
	*resp = (struct http_response){ .status = status, .content_type = "application/json", .body = text,
					.body_len = len };
}

static void respond_refusal(struct http_response *resp, int status, const struct push_refusal *f)
{
	struct json_writer w;

	jw_init(&w);
	push_refusal_write(&w, f);
	respond_json(resp, status, &w);
}

static void respond_invalid(struct http_response *resp, const struct json_error *e)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%s: %s", e->path, e->message);
	respond_refusal(resp, 400, &(struct push_refusal){ .error = msg, .path = (char *)e->path });
}

void agent_log_apply(const struct policy_push *want, const struct apply_report *r, double seconds,
		     const char *why)
{
	log_info("policy applied", LOG_STR("trigger", why), LOG_INT("revision", want->revision),
		 LOG_INT("epoch", want->sender.epoch), LOG_STR("identity", want->sender.identity),
		 LOG_INT("pods", want->n_pods), LOG_INT("applied", r->counts[POD_APPLIED]),
		 LOG_INT("unchanged", r->counts[POD_UNCHANGED]), LOG_INT("removed", r->counts[POD_REMOVED]),
		 LOG_INT("failed", r->counts[POD_FAILED]), LOG_DOUBLE("duration_ms", seconds * 1000));
	for (int i = 0; i < r->n; i++) {
		const struct pod_outcome *o = &r->pods[i];

		if (o->result == POD_UNCHANGED)
			continue;
		log_at(o->result == POD_FAILED ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "pod result",
		       LOG_INT("revision", want->revision), LOG_INT("epoch", want->sender.epoch),
		       LOG_STR("namespace", o->namespace), LOG_STR("pod", o->name), LOG_STR("pod_uid", o->uid),
		       LOG_STR("result", pod_result_name(o->result)), LOG_STR("error", o->error),
		       LOG_STR("path", o->path ? o->path : ""));
	}
}

static const char *status_result(int status)
{
	return status == 401 ? "unauthenticated" : status == 403 ? "forbidden" : "error";
}

/* 409: what the agent holds, and why the push is older or different. */
static void respond_fenced(struct http_response *resp, const struct policy_push *held, const struct policy_push *push,
			   enum fence_reason reason)
{
	char why[400];

	if (reason == FENCE_DIFFERENT_BODY)
		snprintf(why, sizeof(why), "conflicting push: epoch %lld revision %lld was already accepted with "
			 "another body", (long long)push->sender.epoch, (long long)push->revision);
	else
		snprintf(why, sizeof(why), "stale push: epoch %lld revision %lld is older than the newest accepted "
			 "(epoch %lld revision %lld)", (long long)push->sender.epoch, (long long)push->revision,
			 (long long)held->sender.epoch, (long long)held->revision);
	log_warn("policy push fenced", LOG_STR("reason", fence_reason_name(reason)),
		 LOG_STR("identity", push->sender.identity), LOG_INT("epoch", push->sender.epoch),
		 LOG_INT("revision", push->revision), LOG_STR("held_identity", held->sender.identity),
		 LOG_INT("held_epoch", held->sender.epoch), LOG_INT("held_revision", held->revision));
	respond_refusal(resp, 409, &(struct push_refusal){ .error = why, .reason = reason, .has_held = true,
							    .held = held->sender, .held_revision = held->revision });
}

static void put_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;
	struct policy_decode_opts opts = { .arch = syscall_table_arch() };
	struct policy_push *want;
	struct json_error perr;
	struct apply_report report;
	struct json_writer w;
	enum fence_reason fenced;
	char why[400];
	int status, err;

	unsigned long reviews, hits;

	if (!atomic_load(&a->ready)) {
		/* The dataplane is opening or the state file being re-applied: a push now would race
		 * with (and be overwritten by) the restored state. The controller retries. */
		json_respond_error(resp, 503, "not ready: the agent is starting (dataplane, state file)");
		return;
	}
	status = agent_auth_check(a->auth, req, why, sizeof(why));
	agent_auth_stats(a->auth, &reviews, &hits);
	agent_metrics_auth(a->metrics, reviews, hits);
	if (agent_auth_disabled(a->auth))
		log_warn("AUTHENTICATION DISABLED: policy push accepted from anyone (--auth=none)");
	if (status != 200) {
		log_warn("policy push refused", LOG_INT("http_status", status), LOG_ERROR_TEXT(why));
		agent_metrics_push(a->metrics, status_result(status), -1);
		json_respond_error(resp, status, why);
		return;
	}
	err = policy_push_decode(req->body ? req->body : "", req->body_len, &opts, &want, &perr);
	if (!err && a->node_name && strcmp(want->node, a->node_name)) {
		snprintf(perr.path, sizeof(perr.path), "$.node");
		snprintf(perr.message, sizeof(perr.message), "this agent is node \"%.100s\", not \"%.100s\"",
			 a->node_name, want->node);
		policy_push_free(want);
		err = -EINVAL;
	}
	if (err) {
		log_warn("policy push invalid", LOG_STR("path", perr.path), LOG_STR("reason", perr.message));
		agent_metrics_push(a->metrics, err == -EINVAL ? "invalid" : "error", -1);
		if (err == -EINVAL)
			respond_invalid(resp, &perr);
		else
			json_respond_error(resp, 500, "out of memory");
		return;
	}

	pthread_mutex_lock(&a->lock);
	fenced = fence_check(a->np.want, want);
	if (fenced != FENCE_NONE) {
		respond_fenced(resp, a->np.want, want, fenced);
		pthread_mutex_unlock(&a->lock);
		agent_metrics_push(a->metrics, "stale", -1);
		policy_push_free(want);
		return;
	}
	err = state_save(a->state_dir, want);
	if (err) {
		pthread_mutex_unlock(&a->lock);
		agent_metrics_push(a->metrics, "error", -1);
		snprintf(why, sizeof(why), "writing the state file failed: %s (nothing changed)", log_strerror(err));
		json_respond_error(resp, 500, why);
		policy_push_free(want);
		return;
	}
	int64_t t0 = agent_now_ms();
	struct timespec ts0, ts1;

	clock_gettime(CLOCK_MONOTONIC, &ts0);
	err = node_policy_apply(&a->np, want, t0, &report);
	clock_gettime(CLOCK_MONOTONIC, &ts1);
	double secs = (double)(ts1.tv_sec - ts0.tv_sec) + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e9;
	if (err) {
		pthread_mutex_unlock(&a->lock);
		agent_metrics_push(a->metrics, "error", -1);
		json_respond_error(resp, 500, "out of memory while applying");
		return;
	}
	agent_metrics_push(a->metrics, "accepted", secs);
	agent_log_apply(a->np.want, &report, secs, "push");
	jw_init(&w);
	apply_report_write(&report, a->np.want, &w);
	agent_metrics_refresh(a->metrics, &a->np, a->dp, agent_now_ms());
	pthread_mutex_unlock(&a->lock);
	/* libbpf parses the kernel's BTF (several MiB) for each firewall program it loads; glibc keeps
	 * those freed buffers in the heap. Hand them back (a fixed mmap threshold instead made every
	 * pod's load 2x slower: munmap + page faults per load). */
	malloc_trim(0);
	respond_json(resp, 200, &w);
	apply_report_free(&report);
}

static void get_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;
	struct json_writer w;

	(void)req;
	if (!atomic_load(&a->ready)) {
		json_respond_error(resp, 503, "not ready: the agent is starting (dataplane, state file)");
		return;
	}
	jw_init(&w);
	pthread_mutex_lock(&a->lock);
	node_policy_write(&a->np, a->node_name, &w);
	pthread_mutex_unlock(&a->lock);
	respond_json(resp, 200, &w);
}

static void text(struct http_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->body = strdup(body);
	resp->body_len = resp->body ? strlen(body) : 0;
}

static void healthz(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	text(resp, 200, "ok");
}

static void readyz(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;

	(void)req;
	if (atomic_load(&a->ready))
		text(resp, 200, "ok");
	else
		text(resp, 503, "not ready: dataplane opening or state file being re-applied");
}

int agent_api_routes(struct http_server *s, struct agent *a)
{
	int err = http_server_route(s, "PUT", "/v1/policy", put_policy, a);

	return err ?: http_server_route(s, "GET", "/v1/policy", get_policy, a);
}

int agent_metrics_routes(struct http_server *s, struct agent *a)
{
	int err = http_server_route(s, "GET", "/metrics", metrics_http_handler, a->registry);

	err = err ?: http_server_route(s, "GET", "/healthz", healthz, a);
	return err ?: http_server_route(s, "GET", "/readyz", readyz, a);
}
