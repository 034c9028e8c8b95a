/* Agent HTTP: one curl_pool (shared keep-alive connections to every agent), a bearer header per
 * request (the token is re-read when rotated), replies collected up to 16 MiB. */
#include "controller/agent_client.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/curl_pool.h"
#include "common/text_buffer.h"

#define REPLY_MAX (16u << 20)

struct agent_client {
	struct agent_client_config cfg;
	struct curl_pool *pool;
	atomic_ullong bytes_sent;
};

int agent_client_new(const struct agent_client_config *cfg, struct agent_client **out)
{
	struct agent_client *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.put_timeout_ms)
		c->cfg.put_timeout_ms = 30000;
	if (!c->cfg.get_timeout_ms)
		c->cfg.get_timeout_ms = 5000;
	err = curl_pool_new(64, c->cfg.max_connections ? c->cfg.max_connections : 64, &c->pool);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void agent_client_free(struct agent_client *c)
{
	if (!c)
		return;
	curl_pool_free(c->pool);
	free(c);
}

void agent_reply_clear(struct agent_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

unsigned long long agent_client_bytes_sent(struct agent_client *c)
{
	return atomic_load(&c->bytes_sent);
}

/* `node` (GET only): asks for that node's state, as an address serving several nodes needs. */
static int request(struct agent_client *c, const char *method, const char *address, const char *node,
		   const char *body, size_t len, struct agent_reply *reply, char *error, size_t error_len)
{
	struct text_buffer got = { .limit = REPLY_MAX };
	struct curl_slist *headers = NULL;
	char url[700], *token = NULL, *auth = NULL;
	CURLcode rc;
	CURL *h;
	int err = 0;

	memset(reply, 0, sizeof(*reply));
	if (kube_config_token(c->cfg.kube_config, &token) || !token) {
		snprintf(error, error_len, "no service-account token to authenticate to the agent");
		free(token);
		return -EACCES;
	}
	if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		auth = NULL;
	free(token);
	h = curl_pool_take(c->pool);
	if (!auth || !h) {
		free(auth);
		curl_pool_give_back(c->pool, h);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "http://%s/v1/policy%s%s", address, node ? "?node=" : "", node ? node : "");
	headers = curl_slist_append(headers, auth);
	free(auth);
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, text_buffer_curl_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(body ? c->cfg.put_timeout_ms : c->cfg.get_timeout_ms));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
		reply->body = text_buffer_take(&got, &reply->len);
		if (body)
			atomic_fetch_add(&c->bytes_sent, len);
	} else {
		snprintf(error, error_len, "agent %s unreachable: %s", address, curl_easy_strerror(rc));
		err = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	text_buffer_clear(&got);
	curl_slist_free_all(headers);
	curl_pool_give_back(c->pool, h);
	return err;
}

int agent_client_put_policy(struct agent_client *c, const char *address, const char *body, size_t len,
			    struct agent_reply *reply, char *error, size_t error_len)
{
	return request(c, "PUT", address, NULL, body, len, reply, error, error_len);
}

int agent_client_get_policy(struct agent_client *c, const char *address, const char *node, struct agent_reply *reply,
			    char *error, size_t error_len)
{
	return request(c, "GET", address, node, NULL, 0, reply, error, error_len);
}

/* --- answers --- */

static int outcome_put(struct strmap *results, const char *uid, enum pod_enforcement state, const char *reason)
{
	struct pod_outcome *o = pod_outcome_new(state, reason);
	int err = 0;

	if (!o)
		return -ENOMEM;
	free(strmap_put(results, uid, o, &err));
	if (err)
		free(o);
	return err;
}

int agent_results_parse(const char *body, size_t len, struct strmap *results, struct push_counts *counts)
{
	struct json_error jerr;
	struct push_answer *a = NULL;
	int err;

	if (push_answer_decode(body ? body : "", body ? len : 0, &a, &jerr))
		return -EPROTO;
	err = 0;
	for (size_t i = 0; !err && i < a->n_results; i++) {
		const struct pod_result_entry *r = &a->results[i];

		switch (r->result) {
		case POD_APPLIED:
			counts->applied++;
			err = outcome_put(results, r->uid, ENFORCE_ATTACHED, "");
			break;
		case POD_UNCHANGED:
			counts->unchanged++;
			err = outcome_put(results, r->uid, ENFORCE_ATTACHED, "");
			break;
		case POD_REMOVED:
			counts->removed++;
			break;
		default:
			counts->failed++;
			err = outcome_put(results, r->uid, ENFORCE_FAILED, r->error && *r->error ? r->error : "failed");
			break;
		}
	}
	push_answer_free(a);
	return err;
}

static void held_from(struct agent_held *h, bool known, const char *identity, long long epoch, long long revision)
{
	memset(h, 0, sizeof(*h));
	h->known = known;
	if (known) {
		snprintf(h->identity, sizeof(h->identity), "%s", identity ? identity : "");
		h->epoch = epoch;
		h->revision = revision;
	}
}

int agent_node_state_parse(const char *body, size_t len, struct agent_held *held, struct strmap *results)
{
	struct json_error jerr;
	struct policy_push *st = NULL;
	int err = 0;

	if (node_state_decode(body ? body : "", body ? len : 0, &st, &jerr))
		return -EPROTO;
	held_from(held, st->has_sender, st->sender.identity, st->sender.epoch, st->revision);
	for (size_t i = 0; results && !err && i < st->n_pods; i++) {
		const struct policy_pod *p = &st->pods[i];

		err = p->state == POLICY_POD_FAILED ?
			outcome_put(results, p->uid, ENFORCE_FAILED, p->error && *p->error ? p->error : "failed") :
			outcome_put(results, p->uid, ENFORCE_ATTACHED, "");
	}
	policy_push_free(st);
	return err;
}

void agent_refusal_parse(const char *body, size_t len, struct agent_refusal *out)
{
	struct json_error jerr;
	struct push_refusal *f = NULL;
	int idx;

	memset(out, 0, sizeof(*out));
	out->pod_index = -1;
	if (push_refusal_decode(body ? body : "", body ? len : 0, &f, &jerr))
		return;
	snprintf(out->error, sizeof(out->error), "%s", f->error ? f->error : "");
	out->reason = f->reason;
	held_from(&out->held, f->has_held, f->held.identity, f->held.epoch, f->held_revision);
	if (f->path && sscanf(f->path, "$.pods[%d]", &idx) == 1 && idx >= 0)
		out->pod_index = idx;
	push_refusal_free(f);
}
