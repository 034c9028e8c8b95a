/* A small HTTP/1.1 server on libwebsockets for the agent's API and both programs' /metrics,
 * /healthz and /readyz: exact-path routes, whole request bodies, keep-alive, one service thread. */
#ifndef PCMC_COMMON_HTTP_SERVER_H
#define PCMC_COMMON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/* What a handler sees. Every pointer is valid only during the handler call; missing headers are
 * NULL. body is NUL-terminated (body[body_len] == 0) and NULL when the request had none. */
struct http_request {
	const char *method;        /* "GET", "PUT", ... */
	const char *path;          /* "/v1/policy", without the query string */
	const char *query;         /* "a=1&b=2" (arguments URL-decoded by libwebsockets) or NULL */
	const char *authorization; /* the whole header value, e.g. "Bearer abc" */
	const char *content_type;
	const char *body;
	size_t body_len;
};

/* What a handler fills in. status starts as 200 and content_type as NULL ("text/plain").
 * body is malloc'ed by the handler (or NULL) and freed by the server once sent. */
struct http_response {
	int status;
	const char *content_type;  /* must outlive the response: use a string literal */
	char *body;
	size_t body_len;
};

/* True when the request has "Authorization: Bearer <token>" with exactly this token (scheme
 * case-insensitive). Compares in time independent of where the tokens differ. */
bool http_request_has_bearer(const struct http_request *req, const char *token);

/* Handlers run on the server's service thread, one at a time: while one runs, no other
 * connection is served, so a handler should not block for long. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

struct http_server_opts {
	/* An IPv4/IPv6 literal ("127.0.0.1", "::1", "0.0.0.0") or an interface name ("lo"), not a
	 * host name; NULL or "::": every address, IPv4 and IPv6. */
	const char *bind_address;
	int port;                  /* 0: the kernel picks one, see http_server_port() */
	size_t max_body;           /* larger request bodies get 413; 0: 1 MiB */
};

/* Answers the server gives itself, with a {"error":"..."} JSON body: 404, 405, 413 (body over
 * max_body, sent before the body is read, then the connection closes), 411 (chunked body),
 * 400 (bad Content-Length). Requests libwebsockets' parser refuses never reach the server:
 * it answers 403 to an unknown method and closes on an unparseable header line.
 * "Expect: 100-continue" is answered, so libcurl does not stall a second before large bodies. */

struct http_server;

/* Binds and listens at once, so the port is known (and busy) when this returns. Returns 0 or
 * -errno (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL, -ENOMEM, -EIO); libwebsockets logs the details. */
int http_server_new(const struct http_server_opts *o, struct http_server **out);
/* Routes are matched on the exact path; register them all before serving starts.
 * Unknown path: 404; known path, other method: 405 with Allow. Returns 0, -EEXIST or -ENOMEM. */
int http_server_route(struct http_server *s, const char *method, const char *path, http_handler_fn fn, void *ctx);
/* Serves on the calling thread until http_server_stop(). Returns 0 or -EIO. */
int http_server_run(struct http_server *s);
/* Serves on a new thread (joined by http_server_free). Returns 0 or -errno. */
int http_server_start_thread(struct http_server *s);
/* Makes http_server_run return soon. Safe from any thread and async-signal-safe
 * (it sets a flag and writes to libwebsockets' wake-up pipe). */
void http_server_stop(struct http_server *s);
/* Stops and joins the service thread if one was started, closes every connection. NULL is fine. */
void http_server_free(struct http_server *s);
/* The port actually listened on (useful when 0 was asked). */
int http_server_port(const struct http_server *s);

#endif
