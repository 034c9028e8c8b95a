/* Who may push policy: a bearer token checked with a TokenReview against the API server and
 * compared with the controller's service account. Decided before any body byte is read (an
 * admission check on the HTTP thread); reviews run on their own thread, one at a time, rate
 * limited, their answers (positive and negative) cached briefly by the token's SHA-256. */
#ifndef PCMC_AGENT_AUTH_H
#define PCMC_AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/policy_limits.h"

struct http_request;
struct http_response;
struct http_server;
struct kube_client;

struct agent_auth_opts {
	bool none;                  /* --auth=none: every request passes (logged loudly) */
	const char *controller_sa;  /* "namespace:name"; NULL: pcmc-system:pcmc-controller */
	struct kube_client *client; /* the agent's own credentials (not owned); unused with none */
	int cache_seconds;          /* how long an answer is reused; 0: 10 */
	double reviews_per_second;  /* sustained TokenReviews; 0: 10 (burst: twice that) */
};

struct agent_auth_stats {
	unsigned long reviews;      /* TokenReviews sent to the API server */
	unsigned long cache_hits;   /* checks answered from the cache */
	unsigned long throttled;    /* checks refused because reviews were over the rate (429) or too
				       many were pending (503) */
	unsigned long unauthenticated, forbidden, unavailable; /* pushes refused 401, 403, 429/503 */
};

struct agent_auth;

/* Starts the review thread. 0 or -errno (-EINVAL: bad controller_sa, or no client). */
int agent_auth_new(const struct agent_auth_opts *o, struct agent_auth **out);
void agent_auth_free(struct agent_auth *a);
/* The admission check of PUT /v1/policy, on the HTTP thread: resp gets HTTP_CONTINUE (the
 * controller), 401 (no or invalid token), 403 (another identity), 429 (reviews over the rate) or
 * 503 (too many reviews pending), or is deferred and answered through http_server_admit once the
 * review thread has an answer (503 when the API server could not be asked). */
void agent_auth_admit(struct agent_auth *a, struct http_server *server, const struct http_request *req,
		      struct http_response *resp);
/* After admission: 0 and the pod named by the token ("" when it names none; bound tokens carry
 * user.extra["authentication.kubernetes.io/pod-name"]), -ENOENT when the answer is no longer
 * cached, -EACCES when the token is not the controller's. */
int agent_auth_reviewed(struct agent_auth *a, const char *authorization, char pod_name[POLICY_NAME_MAX + 1]);
bool agent_auth_disabled(const struct agent_auth *a);
void agent_auth_stats(struct agent_auth *a, struct agent_auth_stats *out);

#endif
