/* A small HTTP/1.1 server for the agent's API and both programs' /metrics, /healthz and /readyz:
 * exact-path routes, keep-alive, one service thread that only parses and hands over. A handler
 * (or a route's admission check, run on the head before any body byte is read) may answer later
 * from another thread, so slow work never holds the thread that answers probes. */
#ifndef PCMC_COMMON_HTTP_SERVER_H
#define PCMC_COMMON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a handler sees. Every pointer is valid only during the handler call; missing headers are
 * NULL. body is NUL-terminated (body[body_len] == 0) and NULL when the request had none (and in an
 * admission check, which runs before the body is read). */
struct http_request {
	const char *method;        /* "GET", "PUT", ... */
	const char *path;          /* "/v1/policy", without the query string */
	const char *query;         /* "a=1&b=2" as sent (not decoded) or NULL */
	const char *authorization; /* the whole header value, e.g. "Bearer abc" */
	const char *content_type;
	const char *body;
	size_t body_len;
	uint64_t content_length;   /* as announced (an admission check sees it before the body) */
	uint64_t exchange;         /* names this request for http_server_respond / http_server_admit */
};

/* What a handler fills in. status starts as 200 and content_type as NULL ("text/plain").
 * body is malloc'ed by the handler (or NULL) and freed by the server once sent. A handler that
 * answers later sets deferred (and nothing else) and calls http_server_respond, from any thread. */
struct http_response {
	int status;
	const char *content_type;  /* must outlive the response: use a string literal */
	char *body;
	size_t body_len;
	bool deferred;
};

/* An admission check's status that lets the body in (then the route's handler runs on it). */
#define HTTP_CONTINUE 100

/* True when the request has "Authorization: Bearer <token>" with exactly this token (scheme
 * case-insensitive). Compares in time independent of where the tokens differ. */
bool http_request_has_bearer(const struct http_request *req, const char *token);

/* Handlers and admission checks run on the service thread, one at a time: they must not block. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

struct http_server_opts {
	/* An IPv4/IPv6 literal ("127.0.0.1", "::1", "0.0.0.0") or an interface name ("lo"), not a
	 * host name; NULL or "::": every address, IPv4 and IPv6. */
	const char *bind_address;
	int port;                  /* 0: the kernel picks one (http_server_port()); HTTP_NO_LISTEN: none */
	size_t max_body;           /* larger request bodies get 413; 0: 1 MiB */
	int max_connections;       /* open connections; past it new ones get 503 and are closed,
				      established ones keep being served; 0: 256 */
	int head_timeout_ms;       /* a started request head must be complete by then (408); 0: 10 s */
};
#define HTTP_NO_LISTEN (-1)       /* a server fed by tests and the fuzzer, without a socket */

/* Answers the server gives itself, with a {"error":"..."} JSON body and "Connection: close" when
 * the rest of the request is not read: 400 (malformed request line or header, bad or repeated
 * Content-Length, obs-fold, space before ':'), 404, 405 (with Allow), 408 (head not complete
 * within head_timeout_ms), 411 (Transfer-Encoding: the server takes no chunked bodies), 413 (body over
 * max_body, before the body is read), 431 (head over 16 KiB or 100 lines), 503 (too many
 * connections), 505 (not HTTP/1.0 or 1.1). "Expect: 100-continue" is answered when the body is
 * wanted (after the admission check), so a client sends nothing a check refuses. */

struct http_server;

/* Binds and listens at once, so the port is known (and busy) when this returns. Returns 0 or
 * -errno (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL, -ENOMEM), logged as one JSON line. */
int http_server_new(const struct http_server_opts *o, struct http_server **out);
/* Routes are matched on the exact path; register them all before serving starts.
 * Unknown path: 404; known path, other method: 405 with Allow. Returns 0, -EEXIST or -ENOMEM. */
int http_server_route(struct http_server *s, const char *method, const char *path, http_handler_fn fn, void *ctx);
/* Same, with an admission check run on the head before any body byte is read: it answers
 * HTTP_CONTINUE (read the body, then run fn), any other status (sent at once; an announced body
 * is not read and the connection closes), or defers and calls http_server_admit later. */
int http_server_route_admitted(struct http_server *s, const char *method, const char *path, http_handler_fn admit,
			       http_handler_fn fn, void *ctx);
/* Completes a deferred handler (resp->body taken over) or admission check, from any thread.
 * 0, or -ENOENT when the client went away meanwhile (resp->body freed all the same). */
int http_server_respond(struct http_server *s, uint64_t exchange, struct http_response *resp);
int http_server_admit(struct http_server *s, uint64_t exchange, struct http_response *resp);
/* Serves on the calling thread until http_server_stop(). Returns 0 or -errno. */
int http_server_run(struct http_server *s);
/* Serves on a new thread (joined by http_server_free). Returns 0 or -errno. */
int http_server_start_thread(struct http_server *s);
/* Makes http_server_run return soon. Safe from any thread and async-signal-safe. */
void http_server_stop(struct http_server *s);
/* Stops and joins the service thread; answers from other threads are still taken (and dropped)
 * until http_server_free. Stop the threads that answer before freeing. */
void http_server_shutdown(struct http_server *s);
/* Stops and joins the service thread if one was started, closes every connection. NULL is fine. */
void http_server_free(struct http_server *s);
/* The port actually listened on (useful when 0 was asked). */
int http_server_port(const struct http_server *s);
/* "0.0.0.0:9090", "[::]:9090", "127.0.0.1:0", "lo:9090" -> address + port. 0 or -EINVAL. */
int http_split_listen(const char *listen, char *addr, size_t len, int *port);
/* Connections open now, and refused since start for being over max_connections. */
void http_server_stats(struct http_server *s, int *open, unsigned long *refused);

#endif
