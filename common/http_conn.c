/* One connection's request engine: head -> route -> admission check -> body -> handler -> answer,
 * pipelined requests one after the other, every byte it keeps bounded (a head by HTTP_MAX_HEAD,
 * a body by max_body and only after admission, queued output by OUT_BACKLOG_MAX). */
#include "common/http_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK      16384u
#define OUT_BACKLOG_MAX (4u << 20) /* unsent output above which no further request is read */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 418: return "I'm a teapot";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

void http_conn_init(struct http_conn *c, const struct http_routes *routes)
{
	memset(c, 0, sizeof(*c));
	c->routes = routes;
	c->state = CONN_HEAD;
}

static void request_clear(struct http_conn *c)
{
	free(c->path);
	free(c->query);
	free(c->authorization);
	free(c->content_type);
	free(c->body);
	c->path = c->query = c->authorization = c->content_type = c->body = NULL;
	c->body_len = c->body_cap = 0;
	c->route = NULL;
	c->continue_sent = false;
	memset(&c->head, 0, sizeof(c->head));
}

void http_conn_free(struct http_conn *c)
{
	request_clear(c);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_cap = c->out_sent = 0;
}

static void out_put(struct http_conn *c, const char *data, size_t n)
{
	if (c->out_sent == c->out_len)
		c->out_sent = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *grown;

		while (cap < c->out_len + n)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown) {
			/* Nothing sensible can be sent: drop the connection. */
			c->state = CONN_CLOSING;
			c->out_sent = c->out_len;
			return;
		}
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, n);
	c->out_len += n;
}

static bool body_announced(const struct http_conn *c)
{
	return c->head.content_length > 0 || c->head.transfer_encoding;
}

/* Queues the answer (taking resp->body) and ends the request; allow: the 405's Allow header. */
static void queue_response(struct http_conn *c, struct http_response *resp, const char *allow)
{
	char head[512];
	int n;

	if (resp->status < 200 || resp->status > 599) {
		free(resp->body);
		*resp = (struct http_response){ .status = 500, .content_type = "application/json" };
		resp->body = strdup("{\"error\":\"internal error: handler status out of range\"}\n");
		resp->body_len = resp->body ? strlen(resp->body) : 0;
	}
	if (!resp->body)
		resp->body_len = 0;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
		     resp->status, reason_phrase(resp->status), resp->content_type ? resp->content_type : "text/plain",
		     resp->body_len, allow ? "Allow: " : "", allow ? allow : "", allow ? "\r\n" : "",
		     c->close_after ? "Connection: close\r\n" : "");
	out_put(c, head, (size_t)n);
	if (resp->body_len)
		out_put(c, resp->body, resp->body_len);
	free(resp->body);
	resp->body = NULL;
	request_clear(c);
	if (c->state != CONN_CLOSING)
		c->state = c->close_after ? CONN_CLOSING : CONN_HEAD;
}

static void respond_error(struct http_conn *c, int status, const char *message, const char *allow)
{
	struct http_response r = { .status = status, .content_type = "application/json" };
	int n = asprintf(&r.body, "{\"error\":\"%s\"}\n", message);

	r.body_len = n > 0 ? (size_t)n : 0;
	if (n < 0)
		r.body = NULL;
	queue_response(c, &r, allow);
}

void http_conn_refuse(struct http_conn *c, int status, const char *message)
{
	c->close_after = true;
	respond_error(c, status, message, NULL);
	c->state = CONN_CLOSING;
}

void http_conn_eof(struct http_conn *c)
{
	c->close_after = true;
	if (c->state == CONN_HEAD || c->state == CONN_BODY) {
		request_clear(c);
		c->state = CONN_CLOSING;
	}
}

static void build_request(const struct http_conn *c, struct http_request *req)
{
	*req = (struct http_request){
		.method = c->head.method, .path = c->path, .query = c->query, .authorization = c->authorization,
		.content_type = c->content_type, .body = c->body, .body_len = c->body_len,
		.content_length = c->head.content_length, .exchange = c->exchange,
	};
}

static void run_handler(struct http_conn *c)
{
	struct http_response r = { .status = 200 };
	struct http_request req;

	build_request(c, &req);
	c->route->fn(c->route->ctx, &req, &r);
	if (r.deferred) {
		c->state = CONN_HANDLE;
		return;
	}
	queue_response(c, &r, NULL);
}

static void start_body(struct http_conn *c)
{
	if (!body_announced(c)) {
		run_handler(c);
		return;
	}
	c->state = CONN_BODY;
	if (c->head.expect_continue && !c->continue_sent) {
		static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

		out_put(c, line, sizeof(line) - 1);
		c->continue_sent = true;
	}
}

static char *slice_dup(const char *buf, struct http_slice s)
{
	return strndup(buf + s.at, s.len);
}

/* Finds the route; on a miss answers 404 or 405 (with Allow) and returns NULL. */
static const struct route *find_route(struct http_conn *c)
{
	const struct route *found = NULL;
	char allow[128] = "";
	size_t used = 0;

	for (size_t i = 0; i < c->routes->n; i++) {
		const struct route *r = &c->routes->items[i];

		if (strcmp(r->path, c->path))
			continue;
		if (!strcmp(r->method, c->head.method))
			return r;
		found = r;
		if (used < sizeof(allow) - 1)
			used += (size_t)snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "", r->method);
	}
	if (body_announced(c))
		c->close_after = true; /* the body is not read */
	if (found)
		respond_error(c, 405, "method not allowed", allow);
	else
		respond_error(c, 404, "not found", NULL);
	return NULL;
}

static void admission_result(struct http_conn *c, struct http_response *resp)
{
	if (resp->status == HTTP_CONTINUE) {
		free(resp->body);
		resp->body = NULL;
		start_body(c);
		return;
	}
	if (body_announced(c))
		c->close_after = true; /* the body is not read */
	queue_response(c, resp, NULL);
}

/* A complete head of n bytes is at the start of c->in: take the request, route and admit it. */
static void start_request(struct http_conn *c, long n)
{
	struct http_response r = { .status = 200 };
	struct http_request req;

	c->path = slice_dup(c->in, c->head.path);
	c->query = c->head.query.len ? slice_dup(c->in, c->head.query) : NULL;
	c->authorization = c->head.has_authorization ? slice_dup(c->in, c->head.authorization) : NULL;
	c->content_type = c->head.has_content_type ? slice_dup(c->in, c->head.content_type) : NULL;
	memmove(c->in, c->in + n, c->in_len - (size_t)n);
	c->in_len -= (size_t)n;
	c->head_started_ms = 0;
	c->close_after = c->head.close;
	c->exchange = c->next_exchange ? c->next_exchange(c->owner, c) : c->exchange + 1;
	if (!c->path || (c->head.query.len && !c->query) || (c->head.has_authorization && !c->authorization) ||
	    (c->head.has_content_type && !c->content_type)) {
		http_conn_refuse(c, 503, "out of memory");
		return;
	}
	c->route = find_route(c);
	if (!c->route)
		return;
	if (c->head.transfer_encoding) {
		c->close_after = true;
		respond_error(c, 411, "length required (no chunked bodies)", NULL);
		return;
	}
	if (c->head.content_length > c->routes->max_body) {
		c->close_after = true;
		respond_error(c, 413, "request body too large", NULL);
		return;
	}
	if (!c->route->admit) {
		start_body(c);
		return;
	}
	build_request(c, &req);
	c->route->admit(c->route->ctx, &req, &r);
	if (r.deferred) {
		c->state = CONN_ADMIT;
		return;
	}
	admission_result(c, &r);
}

/* Moves buffered input into the body; runs the handler once it is complete. */
static void take_body(struct http_conn *c)
{
	size_t need = (size_t)c->head.content_length - c->body_len, n = c->in_len < need ? c->in_len : need;

	if (c->body_len + n + 1 > c->body_cap) {
		/* Grows with what arrives, not with what Content-Length promises. */
		size_t cap = c->body_cap ? c->body_cap : 64 * 1024;
		char *grown;

		while (cap < c->body_len + n + 1)
			cap *= 2;
		if (cap > c->head.content_length + 1)
			cap = (size_t)c->head.content_length + 1;
		grown = realloc(c->body, cap);
		if (!grown) {
			http_conn_refuse(c, 503, "out of memory");
			return;
		}
		c->body = grown;
		c->body_cap = cap;
	}
	if (n)
		memcpy(c->body + c->body_len, c->in, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	if (c->body_len == c->head.content_length)
		run_handler(c);
}

static void process(struct http_conn *c)
{
	for (;;) {
		if (c->state == CONN_BODY) {
			take_body(c);
			if (c->state == CONN_BODY)
				return; /* more to come */
			continue;
		}
		if (c->state != CONN_HEAD || !c->in_len || c->out_len - c->out_sent > OUT_BACKLOG_MAX)
			return;
		const char *why = NULL;
		long n = http_parse_head(c->in, c->in_len, &c->head, &why);

		if (n == 0)
			return;
		if (n < 0) {
			c->close_after = true;
			respond_error(c, (int)-n, n == -400 ? (why ? why : "bad request") :
					 n == -431 ? "request header fields too large" : "HTTP version not supported", NULL);
			c->state = CONN_CLOSING;
			return;
		}
		start_request(c, n);
	}
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len, int64_t now_ms)
{
	if (c->state == CONN_CLOSING || !len)
		return 0;
	if (c->in_len + len > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
		char *grown;

		while (cap < c->in_len + len)
			cap *= 2;
		grown = realloc(c->in, cap);
		if (!grown)
			return -ENOMEM;
		c->in = grown;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	c->last_input_ms = now_ms;
	if (c->state == CONN_HEAD && !c->head_started_ms)
		c->head_started_ms = now_ms ? now_ms : 1;
	process(c);
	return 0;
}

size_t http_conn_room(const struct http_conn *c)
{
	size_t limit;

	if (c->out_len - c->out_sent > OUT_BACKLOG_MAX)
		return 0;
	switch (c->state) {
	case CONN_HEAD:
		limit = HTTP_MAX_HEAD + READ_CHUNK;
		return c->in_len < limit ? limit - c->in_len : 0;
	case CONN_BODY:
		limit = (size_t)c->head.content_length - c->body_len;
		limit = limit < 4 * READ_CHUNK ? limit : 4 * READ_CHUNK;
		return c->in_len < limit ? limit - c->in_len : 0;
	default:
		return 0;
	}
}

void http_conn_admitted(struct http_conn *c, struct http_response *resp, int64_t now_ms)
{
	(void)now_ms;
	if (c->state != CONN_ADMIT) {
		free(resp->body);
		resp->body = NULL;
		return;
	}
	admission_result(c, resp);
	process(c);
}

void http_conn_answered(struct http_conn *c, struct http_response *resp, int64_t now_ms)
{
	(void)now_ms;
	if (c->state != CONN_HANDLE) {
		free(resp->body);
		resp->body = NULL;
		return;
	}
	queue_response(c, resp, NULL);
	process(c);
}

size_t http_conn_pending(const struct http_conn *c, const char **data)
{
	*data = c->out ? c->out + c->out_sent : "";
	return c->out_len - c->out_sent;
}

void http_conn_sent(struct http_conn *c, size_t n)
{
	c->out_sent += n;
	if (c->out_sent == c->out_len)
		c->out_sent = c->out_len = 0;
	process(c); /* a backlog that held back pipelined requests may be gone */
}

bool http_conn_finished(const struct http_conn *c)
{
	return c->state == CONN_CLOSING && c->out_len == c->out_sent;
}
