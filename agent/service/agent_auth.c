/* Bearer token -> TokenReview (authentication.k8s.io/v1) -> status.user.username compared with
 * system:serviceaccount:<ns>:<name>. The HTTP thread answers from the cache or queues the token;
 * one review thread asks the API server (5 s timeout), so a frozen API server or a flood of forged
 * tokens costs a bounded queue, never the probes. */
#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/service/agent_auth.h"
#include "common/http_server.h"
#include "common/json_writer.h"
#include "common/kube_client.h"
#include "common/clock.h"
#include "common/log.h"

#define CACHE_SLOTS     256
#define MAX_PENDING     64      /* reviews queued; more get 503 at once */
#define REVIEW_TIMEOUT  5000    /* ms */
#define POD_NAME_EXTRA  "authentication.kubernetes.io/pod-name"

struct cached_review {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	int status;                 /* 200, 401 or 403 */
	char why[320];
	char pod_name[POLICY_NAME_MAX + 1];
	int64_t expires_ms;
	bool used;
};

struct pending_review {
	struct pending_review *next;
	struct http_server *server;
	uint64_t exchange;
	unsigned char hash[SHA256_DIGEST_LENGTH];
	char *token;
};

struct agent_auth {
	bool none;
	char expected_user[320];    /* system:serviceaccount:ns:name */
	int cache_ms;
	double rate, burst, tokens;
	int64_t refilled_ms;
	struct kube_client *client;
	pthread_mutex_t lock;       /* everything below */
	pthread_cond_t wake;
	struct cached_review cache[CACHE_SLOTS];
	struct pending_review *queue, **queue_tail;
	int pending;
	bool stopping;
	pthread_t thread;
	bool thread_started;
	struct agent_auth_stats stats;
};

/* --- cache (callers hold the lock) ------------------------------------------------------- */

static struct cached_review *cache_find(struct agent_auth *a, const unsigned char *hash, int64_t now)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cached_review *c = &a->cache[i];

		if (c->used && c->expires_ms > now && !memcmp(c->hash, hash, SHA256_DIGEST_LENGTH))
			return c;
	}
	return NULL;
}

/* The same token's slot, else a free or expired one, else the negative answer expiring first, else
 * the positive one expiring first: forged tokens never push the controller's answer out first. */
static void cache_put(struct agent_auth *a, const unsigned char *hash, int status, const char *why,
		      const char *pod_name, int64_t now)
{
	struct cached_review *slot = NULL;

	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cached_review *c = &a->cache[i];

		if (c->used && !memcmp(c->hash, hash, SHA256_DIGEST_LENGTH)) {
			slot = c;
			break;
		}
		if (!c->used || c->expires_ms <= now) {
			if (!slot || (slot->used && slot->expires_ms > now))
				slot = c;
		} else if (!slot || (slot->used && slot->expires_ms > now &&
				     ((slot->status == 200) > (c->status == 200) ||
				      ((slot->status == 200) == (c->status == 200) && c->expires_ms < slot->expires_ms)))) {
			slot = c;
		}
	}
	memcpy(slot->hash, hash, SHA256_DIGEST_LENGTH);
	slot->status = status;
	snprintf(slot->why, sizeof(slot->why), "%s", why);
	snprintf(slot->pod_name, sizeof(slot->pod_name), "%s", pod_name ? pod_name : "");
	slot->expires_ms = now + a->cache_ms;
	slot->used = true;
}

/* --- the review ---------------------------------------------------------------------------- */

/* One TokenReview: 200/401/403, or 503 when the API server could not answer. */
static int review(struct agent_auth *a, const char *token, char *why, size_t why_len, char *pod_name, size_t pod_len)
{
	cJSON *body = cJSON_CreateObject(), *spec, *reply = NULL, *status, *user, *pods;
	struct kube_error kerr = { 0 };
	const char *username = NULL, *error = NULL;
	bool authenticated;
	int err;

	pod_name[0] = '\0';
	if (!body)
		return 503;
	cJSON_AddStringToObject(body, "apiVersion", "authentication.k8s.io/v1");
	cJSON_AddStringToObject(body, "kind", "TokenReview");
	spec = cJSON_AddObjectToObject(body, "spec");
	cJSON_AddStringToObject(spec, "token", token);
	err = kube_request_timeout(a->client, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body, NULL,
				   &reply, &kerr, REVIEW_TIMEOUT);
	cJSON_Delete(body);
	if (err) {
		snprintf(why, why_len, "TokenReview failed: %.150s", kerr.message[0] ? kerr.message : log_strerror(err));
		log_error("TokenReview failed", LOG_KUBE_ERROR(kerr));
		return 503;
	}
	status = cJSON_GetObjectItemCaseSensitive(reply, "status");
	authenticated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(status, "authenticated"));
	user = cJSON_GetObjectItemCaseSensitive(status, "user");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(user, "username")))
		username = cJSON_GetObjectItemCaseSensitive(user, "username")->valuestring;
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(status, "error")))
		error = cJSON_GetObjectItemCaseSensitive(status, "error")->valuestring;
	pods = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(user, "extra"), POD_NAME_EXTRA);
	if (cJSON_IsArray(pods) && cJSON_IsString(pods->child))
		snprintf(pod_name, pod_len, "%s", pods->child->valuestring);
	if (!authenticated || !username) {
		snprintf(why, why_len, "token not authenticated%s%.100s", error ? ": " : "", error ? error : "");
		err = 401;
	} else if (strcmp(username, a->expected_user)) {
		snprintf(why, why_len, "%.100s may not push policy (only %.150s)", username, a->expected_user);
		err = 403;
	} else {
		snprintf(why, why_len, "%s", username);
		err = 200;
	}
	cJSON_Delete(reply);
	return err;
}

/* Fills the admission answer and counts a refusal (caller holds the lock). */
static void answer(struct agent_auth *a, struct http_response *resp, int status, const char *why)
{
	struct json_writer w;

	if (status == 401)
		a->stats.unauthenticated++;
	else if (status == 403)
		a->stats.forbidden++;
	else if (status != 200)
		a->stats.unavailable++;
	resp->content_type = "application/json";
	resp->status = status == 200 ? HTTP_CONTINUE : status;
	if (status == 200)
		return;
	jw_init(&w);
	jw_object_begin(&w);
	jw_key_string(&w, "error", why);
	jw_object_end(&w);
	if (jw_finish(&w, &resp->body, &resp->body_len))
		resp->body_len = 0;
}

static void *review_thread(void *arg)
{
	struct agent_auth *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct pending_review *p;
		struct cached_review *hit;
		struct http_response resp = { 0 };
		char why[320], pod_name[POLICY_NAME_MAX + 1];
		int status;

		while (!a->queue && !a->stopping)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->stopping)
			break;
		p = a->queue;
		a->queue = p->next;
		if (!a->queue)
			a->queue_tail = &a->queue;
		a->pending--;
		hit = cache_find(a, p->hash, monotonic_ms()); /* the same token may have been reviewed meanwhile */
		if (hit) {
			status = hit->status;
			snprintf(why, sizeof(why), "%s", hit->why);
			a->stats.cache_hits++;
		} else {
			a->stats.reviews++;
			pthread_mutex_unlock(&a->lock);
			status = review(a, p->token, why, sizeof(why), pod_name, sizeof(pod_name));
			pthread_mutex_lock(&a->lock);
			if (status != 503)
				cache_put(a, p->hash, status, why, pod_name, monotonic_ms());
		}
		answer(a, &resp, status, why);
		pthread_mutex_unlock(&a->lock);
		if (status != 200)
			log_warn("policy push refused", LOG_INT("http_status", status), LOG_ERROR_TEXT(why));
		http_server_admit(p->server, p->exchange, &resp);
		free(p->token);
		free(p);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* --- the HTTP thread's side ---------------------------------------------------------------- */

/* The token of "Bearer <token>", or NULL. */
static const char *bearer_token(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	for (h += 7; *h == ' '; h++)
		;
	return *h ? h : NULL;
}

/* A review may start now: one token of the bucket (refilled at the configured rate). */
static bool take_review_token(struct agent_auth *a, int64_t now)
{
	a->tokens += (double)(now - a->refilled_ms) / 1000.0 * a->rate;
	if (a->tokens > a->burst)
		a->tokens = a->burst;
	a->refilled_ms = now;
	if (a->tokens < 1)
		return false;
	a->tokens -= 1;
	return true;
}

void agent_auth_admit(struct agent_auth *a, struct http_server *server, const struct http_request *req,
		      struct http_response *resp)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const char *token = bearer_token(req->authorization);
	struct cached_review *hit;
	struct pending_review *p;
	int64_t now = monotonic_ms();

	if (a->none) {
		resp->status = HTTP_CONTINUE;
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (!token) {
		answer(a, resp, 401, "bearer token required");
		pthread_mutex_unlock(&a->lock);
		log_warn("policy push refused", LOG_INT("http_status", 401), LOG_ERROR_TEXT("bearer token required"));
		return;
	}
	SHA256((const unsigned char *)token, strlen(token), hash);
	hit = cache_find(a, hash, now);
	if (hit) {
		a->stats.cache_hits++;
		answer(a, resp, hit->status, hit->why);
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (a->pending >= MAX_PENDING || !take_review_token(a, now)) {
		bool full = a->pending >= MAX_PENDING;

		a->stats.throttled++;
		answer(a, resp, full ? 503 : 429, full ? "too many token reviews pending, retry later"
						       : "too many token reviews, retry later");
		pthread_mutex_unlock(&a->lock);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->token = strdup(token))) {
		free(p);
		answer(a, resp, 503, "out of memory");
		pthread_mutex_unlock(&a->lock);
		return;
	}
	p->server = server;
	p->exchange = req->exchange;
	memcpy(p->hash, hash, sizeof(hash));
	*a->queue_tail = p;
	a->queue_tail = &p->next;
	a->pending++;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	resp->deferred = true;
}

int agent_auth_reviewed(struct agent_auth *a, const char *authorization, char pod_name[POLICY_NAME_MAX + 1])
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const char *token = bearer_token(authorization);
	struct cached_review *hit;
	int err;

	pod_name[0] = '\0';
	if (a->none)
		return 0;
	if (!token)
		return -EACCES;
	SHA256((const unsigned char *)token, strlen(token), hash);
	pthread_mutex_lock(&a->lock);
	hit = cache_find(a, hash, monotonic_ms());
	err = !hit ? -ENOENT : hit->status != 200 ? -EACCES : 0;
	if (!err)
		snprintf(pod_name, POLICY_NAME_MAX + 1, "%s", hit->pod_name);
	pthread_mutex_unlock(&a->lock);
	return err;
}

/* --- lifecycle ----------------------------------------------------------------------------- */

int agent_auth_new(const struct agent_auth_opts *o, struct agent_auth **out)
{
	const char *sa = o->controller_sa ? o->controller_sa : "pcmc-system:pcmc-controller";
	const char *colon = strchr(sa, ':');
	struct agent_auth *a;
	int err;

	*out = NULL;
	if (!o->none && (!colon || colon == sa || !colon[1] || strchr(colon + 1, ':') || !o->client))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->queue_tail = &a->queue;
	a->none = o->none;
	a->cache_ms = (o->cache_seconds > 0 ? o->cache_seconds : 10) * 1000;
	a->rate = o->reviews_per_second > 0 ? o->reviews_per_second : 10;
	a->burst = a->tokens = 2 * a->rate;
	a->refilled_ms = monotonic_ms();
	snprintf(a->expected_user, sizeof(a->expected_user), "system:serviceaccount:%.*s:%s",
		 colon ? (int)(colon - sa) : 0, sa, colon ? colon + 1 : "");
	a->client = o->client;
	if (!a->none) {
		err = -pthread_create(&a->thread, NULL, review_thread, a);
		a->thread_started = !err;
		if (err) {
			agent_auth_free(a);
			return err;
		}
	}
	*out = a;
	return 0;
}

void agent_auth_free(struct agent_auth *a)
{
	struct pending_review *p, *next;

	if (!a)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->lock);
		a->stopping = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	for (p = a->queue; p; p = next) {
		next = p->next;
		free(p->token);
		free(p);
	}
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

bool agent_auth_disabled(const struct agent_auth *a)
{
	return a->none;
}

void agent_auth_stats(struct agent_auth *a, struct agent_auth_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->lock);
}
