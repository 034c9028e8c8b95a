/* Reading a pcmc-agent over its HTTP API: GET /v1/policy (what it holds) and GET /metrics, at the
 * address the controller would push to (controller/agent_directory). Read-only: no token needed. */
#ifndef PCMC_KUBECTL_AGENT_HTTP_H
#define PCMC_KUBECTL_AGENT_HTTP_H

#include <stddef.h>

struct agent_body {
	long status;   /* HTTP status */
	char *text;    /* NUL-terminated, malloc'ed */
	size_t len;
};

/* GET http://ADDRESS/PATH with a timeout. 0 and *out (free out->text), or -errno with `error`
 * saying why (unreachable, timed out). Any HTTP status is a 0 return. */
int agent_http_get(const char *address, const char *path, long timeout_ms, struct agent_body *out, char *error,
		   size_t error_len);
void agent_body_clear(struct agent_body *b);

#endif
