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

int64_t agent_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void respond_invalid(struct http_response *resp, const struct policy_error *e)
{
	cJSON *o = cJSON_CreateObject();
	char msg[600];

	snprintf(msg, sizeof(msg), "%s: %s", e->path, e->message);
	cJSON_AddStringToObject(o, "error", msg);
	cJSON_AddStringToObject(o, "path", e->path);
	json_respond(resp, 400, o);
	cJSON_Delete(o);
}

void agent_log_apply(const struct desired_state *want, const struct apply_report *r, double seconds,
		     const char *why)
{
	log_info("policy applied", LOG_STR("why", why), LOG_INT("revision", want->revision),
		 LOG_INT("epoch", want->epoch), LOG_STR("identity", want->identity), LOG_INT("pods", want->n_pods),
		 LOG_INT("applied", r->counts[POD_APPLIED]), LOG_INT("unchanged", r->counts[POD_UNCHANGED]),
		 LOG_INT("removed", r->counts[POD_REMOVED]), LOG_INT("failed", r->counts[POD_FAILED]),
		 LOG_DOUBLE("duration_ms", seconds * 1000));
	for (int i = 0; i < r->n; i++) {
		const struct pod_outcome *o = &r->pods[i];

		if (o->result == POD_UNCHANGED)
			continue;
		log_at(o->result == POD_FAILED ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "pod result",
		       LOG_INT("revision", want->revision), LOG_INT("epoch", want->epoch),
		       LOG_STR("namespace", o->namespace), LOG_STR("pod", o->name), LOG_STR("pod_uid", o->uid),
		       LOG_STR("result", pod_result_name(o->result)), LOG_STR("error", o->error));
	}
}

static cJSON *report_json(const struct desired_state *want, const struct apply_report *r)
{
	cJSON *o = cJSON_CreateObject(), *results;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "node", want->node);
	json_add_int64(o, "epoch", want->epoch);
	json_add_int64(o, "revision", want->revision);
	results = cJSON_AddArrayToObject(o, "results");
	for (int i = 0; results && i < r->n; i++) {
		cJSON *p = cJSON_CreateObject();

		if (!p)
			break;
		cJSON_AddStringToObject(p, "uid", r->pods[i].uid);
		cJSON_AddStringToObject(p, "namespace", r->pods[i].namespace);
		cJSON_AddStringToObject(p, "name", r->pods[i].name);
		cJSON_AddStringToObject(p, "result", pod_result_name(r->pods[i].result));
		cJSON_AddStringToObject(p, "error", r->pods[i].error);
		cJSON_AddItemToArray(results, p);
	}
	return o;
}

static const char *status_result(int status)
{
	return status == 401 ? "unauthenticated" : status == 403 ? "forbidden" : "error";
}

static void put_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;
	struct desired_state *want;
	struct policy_error perr;
	struct apply_report report;
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
		log_warn("policy push refused", LOG_INT("status", status), LOG_STR("reason", why));
		agent_metrics_push(a->metrics, status_result(status), -1);
		json_respond_error(resp, status, why);
		return;
	}
	err = policy_parse(req->body ? req->body : "", req->body_len, &want, &perr);
	if (!err && a->node_name && strcmp(want->node, a->node_name)) {
		snprintf(perr.path, sizeof(perr.path), "$.node");
		snprintf(perr.message, sizeof(perr.message), "this agent is node \"%.100s\", not \"%.100s\"",
			 a->node_name, want->node);
		desired_state_free(want);
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
	const struct desired_state *cur = a->np.want;
	if (cur && fence_check(cur->epoch, cur->revision, want->epoch, want->revision)) {
		cJSON *o = cJSON_CreateObject();

		snprintf(why, sizeof(why), "stale push: epoch %lld revision %lld is older than the newest accepted "
			 "(epoch %lld revision %lld)", (long long)want->epoch, (long long)want->revision,
			 (long long)cur->epoch, (long long)cur->revision);
		cJSON_AddStringToObject(o, "error", why);
		json_add_int64(o, "epoch", cur->epoch);
		json_add_int64(o, "revision", cur->revision);
		log_warn("policy push fenced", LOG_STR("identity", want->identity), LOG_INT("epoch", want->epoch),
			 LOG_INT("revision", want->revision), LOG_INT("newest_epoch", cur->epoch),
			 LOG_INT("newest_revision", cur->revision));
		pthread_mutex_unlock(&a->lock);
		agent_metrics_push(a->metrics, "stale", -1);
		json_respond(resp, 409, o);
		cJSON_Delete(o);
		desired_state_free(want);
		return;
	}
	err = state_save(a->state_dir, want);
	if (err) {
		pthread_mutex_unlock(&a->lock);
		agent_metrics_push(a->metrics, "error", -1);
		snprintf(why, sizeof(why), "writing the state file failed: %s (nothing changed)", log_strerror(err));
		json_respond_error(resp, 500, why);
		desired_state_free(want);
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
	cJSON *o = report_json(a->np.want, &report);
	agent_metrics_refresh(a->metrics, &a->np, agent_now_ms());
	pthread_mutex_unlock(&a->lock);
	/* libbpf parses the kernel's BTF (several MiB) for each firewall program it loads; glibc keeps
	 * those freed buffers in the heap. Hand them back (a fixed mmap threshold instead made every
	 * pod's load 2x slower: munmap + page faults per load). */
	malloc_trim(0);
	json_respond(resp, 200, o);
	cJSON_Delete(o);
	apply_report_free(&report);
}

static void get_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;
	cJSON *o;

	(void)req;
	if (!atomic_load(&a->ready)) {
		json_respond_error(resp, 503, "not ready: the agent is starting (dataplane, state file)");
		return;
	}
	pthread_mutex_lock(&a->lock);
	o = node_policy_to_json(&a->np, a->node_name);
	pthread_mutex_unlock(&a->lock);
	if (!o) {
		json_respond_error(resp, 500, "out of memory");
		return;
	}
	json_respond(resp, 200, o);
	cJSON_Delete(o);
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

	err = err ?: http_server_route(s, "GET", "/v1/policy", get_policy, a);
	err = err ?: http_server_route(s, "GET", "/metrics", metrics_http_handler, a->registry);
	err = err ?: http_server_route(s, "GET", "/healthz", healthz, a);
	err = err ?: http_server_route(s, "GET", "/readyz", readyz, a);
	return err;
}
