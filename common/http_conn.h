/* Inside the HTTP server (common/http_server.c and test/common/fuzz_http.c only): one connection's
 * request engine, bytes in and bytes out with no socket, so the fuzzer drives exactly what the
 * service thread runs. */
#ifndef PCMC_COMMON_HTTP_CONN_H
#define PCMC_COMMON_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http_parse.h"
#include "common/http_server.h"

struct route {
	char method[16];
	char *path;
	http_handler_fn admit;     /* NULL: the body is read at once */
	http_handler_fn fn;
	void *ctx;
};

struct http_routes {
	struct route *items;
	size_t n;
	size_t max_body;
};

enum conn_state {
	CONN_HEAD,                 /* reading a request head */
	CONN_ADMIT,                /* a deferred admission check is deciding: nothing is read */
	CONN_BODY,                 /* reading the body */
	CONN_HANDLE,               /* a deferred handler is answering: nothing is read */
	CONN_CLOSING,              /* send what is queued, then close */
};

struct http_conn {
	const struct http_routes *routes;
	enum conn_state state;
	uint64_t exchange;         /* id of the request in progress (set by the owner) */
	uint64_t (*next_exchange)(void *owner, struct http_conn *c);
	void *owner;
	/* Input not yet consumed (a head, or a pipelined request after the current one). */
	char *in;
	size_t in_len, in_cap;
	/* The request in progress. */
	struct http_head head;
	char *path, *query, *authorization, *content_type;
	const struct route *route;
	char *body;
	size_t body_len, body_cap;
	bool close_after, continue_sent;
	/* Output queued (copied) and how much of it was sent. */
	char *out;
	size_t out_len, out_cap, out_sent;
	int64_t head_started_ms;   /* when the first byte of the current head arrived (0: none yet) */
	int64_t last_input_ms;
};

void http_conn_init(struct http_conn *c, const struct http_routes *routes);
void http_conn_free(struct http_conn *c);
/* Takes received bytes and runs the engine as far as it can (handlers included). 0 or -ENOMEM. */
int http_conn_feed(struct http_conn *c, const char *data, size_t len, int64_t now_ms);
/* How many bytes the engine takes now (0: paused, or its head buffer is full). */
size_t http_conn_room(const struct http_conn *c);
/* A deferred admission check or handler finished: queue its answer and run on. */
void http_conn_admitted(struct http_conn *c, struct http_response *resp, int64_t now_ms);
void http_conn_answered(struct http_conn *c, struct http_response *resp, int64_t now_ms);
/* The peer sent all it will send: a partial request is dropped, an answer in progress is still
 * sent, then the connection closes. */
void http_conn_eof(struct http_conn *c);
/* Queues a server error answer and closes after it (408 on a timeout, 503 when full). */
void http_conn_refuse(struct http_conn *c, int status, const char *message);
/* Output waiting to be sent; http_conn_sent(n) after sending n bytes of it. */
size_t http_conn_pending(const struct http_conn *c, const char **data);
void http_conn_sent(struct http_conn *c, size_t n);
/* Nothing more will happen on this connection: close it (once the output is out). */
bool http_conn_finished(const struct http_conn *c);

#endif
