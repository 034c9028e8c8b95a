/* Who may push policy: a bearer token checked with a TokenReview against the API server (results
 * cached ~10 s by the token's SHA-256) and compared with the controller's service account. */
#ifndef PCMC_AGENT_AUTH_H
#define PCMC_AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct http_request;

struct agent_auth_opts {
	bool none;                  /* --auth=none: every request passes (logged loudly) */
	const char *controller_sa;  /* "namespace:name"; NULL: pcmc-system:pcmc-controller */
	const char *kubeconfig;     /* NULL: in-cluster service account (kubectl's search order) */
	int cache_seconds;          /* 0: 10 */
};

struct agent_auth;

/* 0 or -errno (-EINVAL: bad controller_sa; -ENOENT: no API server credentials found). */
int agent_auth_new(const struct agent_auth_opts *o, struct agent_auth **out);
void agent_auth_free(struct agent_auth *a);
/* HTTP status for the request: 200 (the controller), 401 (no or invalid token), 403 (another
 * identity) or 503 (TokenReview failed). why says what, for the response and the log. */
int agent_auth_check(struct agent_auth *a, const struct http_request *req, char *why, size_t why_len);
bool agent_auth_disabled(const struct agent_auth *a);
/* TokenReviews sent to the API server, and checks answered from the cache, since start. */
void agent_auth_stats(struct agent_auth *a, unsigned long *reviews, unsigned long *cache_hits);

#endif
