/* Bearer token -> TokenReview (authentication.k8s.io/v1) -> status.user.username compared with
 * system:serviceaccount:<ns>:<name>; positive and negative answers cached briefly. */
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
#include "common/kube_client.h"
#include "common/log.h"

#define CACHE_SLOTS 64

struct cached_review {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	int status;                 /* 200, 401 or 403 */
	char why[160];
	struct timespec expires;
	bool used;
};

struct agent_auth {
	bool none;
	char expected_user[320];    /* system:serviceaccount:ns:name */
	int cache_seconds;
	struct kube_config *cfg;
	struct kube_client *client;
	pthread_mutex_t lock;
	struct cached_review cache[CACHE_SLOTS];
	unsigned long reviews, cache_hits;
};

int agent_auth_new(const struct agent_auth_opts *o, struct agent_auth **out)
{
	const char *sa = o->controller_sa ? o->controller_sa : "pcmc-system:pcmc-controller";
	const char *colon = strchr(sa, ':');
	struct agent_auth *a;
	int err;

	*out = NULL;
	if (!o->none && (!colon || colon == sa || !colon[1] || strchr(colon + 1, ':')))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->none = o->none;
	a->cache_seconds = o->cache_seconds > 0 ? o->cache_seconds : 10;
	snprintf(a->expected_user, sizeof(a->expected_user), "system:serviceaccount:%.*s:%s",
		 colon ? (int)(colon - sa) : 0, sa, colon ? colon + 1 : "");
	if (!a->none) {
		err = kube_config_load(o->kubeconfig, &a->cfg);
		err = err ?: kube_client_new(a->cfg, &a->client);
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
	if (!a)
		return;
	kube_client_free(a->client);
	kube_config_free(a->cfg);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void agent_auth_stats(struct agent_auth *a, unsigned long *reviews, unsigned long *cache_hits)
{
	pthread_mutex_lock(&a->lock);
	*reviews = a->reviews;
	*cache_hits = a->cache_hits;
	pthread_mutex_unlock(&a->lock);
}

bool agent_auth_disabled(const struct agent_auth *a)
{
	return a->none;
}

static bool expired(const struct timespec *t, const struct timespec *now)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static bool cache_get(struct agent_auth *a, const unsigned char *hash, int *status, char *why, size_t why_len)
{
	struct timespec now;
	bool hit = false;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < CACHE_SLOTS && !hit; i++) {
		struct cached_review *c = &a->cache[i];

		if (c->used && !memcmp(c->hash, hash, SHA256_DIGEST_LENGTH) && !expired(&c->expires, &now)) {
			*status = c->status;
			snprintf(why, why_len, "%s", c->why);
			hit = true;
			a->cache_hits++;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void cache_put(struct agent_auth *a, const unsigned char *hash, int status, const char *why)
{
	struct timespec now;
	struct cached_review *slot = &a->cache[0];

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&a->lock);
	/* The same token, else a free or expired slot, else the one expiring first. */
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cached_review *c = &a->cache[i];

		if (c->used && !memcmp(c->hash, hash, SHA256_DIGEST_LENGTH)) {
			slot = c;
			break;
		}
		if (!c->used || expired(&c->expires, &now))
			slot = c;
		else if (slot->used && !expired(&slot->expires, &now) &&
			 (c->expires.tv_sec < slot->expires.tv_sec))
			slot = c;
	}
	memcpy(slot->hash, hash, SHA256_DIGEST_LENGTH);
	slot->status = status;
	snprintf(slot->why, sizeof(slot->why), "%s", why);
	slot->expires = now;
	slot->expires.tv_sec += a->cache_seconds;
	slot->used = true;
	pthread_mutex_unlock(&a->lock);
}

/* One TokenReview: 200/401/403, or 503 when the API server could not answer. */
static int review(struct agent_auth *a, const char *token, char *why, size_t why_len)
{
	cJSON *body = cJSON_CreateObject(), *spec, *reply = NULL, *status, *user;
	struct kube_error kerr = { 0 };
	const char *username = NULL, *error = NULL;
	bool authenticated = false;
	int err;

	if (!body)
		return 503;
	pthread_mutex_lock(&a->lock);
	a->reviews++;
	pthread_mutex_unlock(&a->lock);
	cJSON_AddStringToObject(body, "apiVersion", "authentication.k8s.io/v1");
	cJSON_AddStringToObject(body, "kind", "TokenReview");
	spec = cJSON_AddObjectToObject(body, "spec");
	cJSON_AddStringToObject(spec, "token", token);
	err = kube_request_timeout(a->client, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body, NULL,
				   &reply, &kerr, 5000);
	cJSON_Delete(body);
	if (err) {
		snprintf(why, why_len, "TokenReview failed: %s", kerr.message[0] ? kerr.message : log_strerror(err));
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
	if (!authenticated || !username) {
		snprintf(why, why_len, "token not authenticated%s%s", error ? ": " : "", error ? error : "");
		err = 401;
	} else if (strcmp(username, a->expected_user)) {
		snprintf(why, why_len, "%s may not push policy (only %s)", username, a->expected_user);
		err = 403;
	} else {
		snprintf(why, why_len, "%s", username);
		err = 200;
	}
	cJSON_Delete(reply);
	return err;
}

int agent_auth_check(struct agent_auth *a, const struct http_request *req, char *why, size_t why_len)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const char *h = req->authorization, *token;
	int status;

	if (a->none) {
		snprintf(why, why_len, "authentication disabled (--auth=none)");
		return 200;
	}
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		snprintf(why, why_len, "bearer token required");
		return 401;
	}
	for (token = h + 7; *token == ' '; token++)
		;
	if (!*token) {
		snprintf(why, why_len, "bearer token required");
		return 401;
	}
	SHA256((const unsigned char *)token, strlen(token), hash);
	if (cache_get(a, hash, &status, why, why_len))
		return status;
	status = review(a, token, why, why_len);
	if (status != 503)
		cache_put(a, hash, status, why);
	return status;
}
