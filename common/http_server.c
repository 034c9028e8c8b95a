/* HTTP/1.1 server on libwebsockets' HTTP server role: routes each request by exact path, gathers
 * its body across LWS_CALLBACK_HTTP_BODY calls, and writes the response in slices when writeable. */
#include "common/http_server.h"

#include "common/log.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BODY   (1u << 20)
/* One lws_write per writeable callback; a slice bounds what lws may have to buffer itself. */
#define WRITE_SLICE        (64u * 1024)
/* Bearer tokens (service-account JWTs) are 1-2 KiB; lws' default of 1 KiB for all headers is too small. */
#define MAX_HEADER_DATA    16384
#define KEEPALIVE_SECONDS  30

struct route {
	char method[16];
	char *path;
	http_handler_fn fn;
	void *ctx;
};

struct http_server {
	struct lws_context *context;
	struct lws_vhost *vhost;
	struct route *routes;
	size_t n_routes;
	size_t max_body;
	atomic_bool stopping;
	pthread_t thread;
	bool thread_started;
	/* LWS_PRE + WRITE_SLICE bytes; only the service thread touches it. */
	unsigned char *out;
};

/* One request and its response. lws keeps it as the connection's user data, so on a keep-alive
 * connection it is reset and reused for the next request. */
struct exchange {
	char method[16];
	char *path, *query, *authorization, *content_type;
	char *body;
	size_t body_len, body_cap, body_limit; /* body_limit: the request's Content-Length */
	const struct route *route;
	bool awaiting_body;   /* the handler runs at LWS_CALLBACK_HTTP_BODY_COMPLETION */
	bool rejected;        /* the response was decided before the body arrived: discard it */
	bool close_after;     /* the rest of the request is unread: close once the response is out */
	bool continue_pending; /* owe the client "100 Continue" before it sends the body */
	bool responding;
	bool headers_sent;
	char allow[64];
	struct http_response resp;
	size_t sent;
};

static const char *const method_names[] = {
	[LWSHUMETH_GET] = "GET", [LWSHUMETH_POST] = "POST", [LWSHUMETH_OPTIONS] = "OPTIONS",
	[LWSHUMETH_PUT] = "PUT", [LWSHUMETH_PATCH] = "PATCH", [LWSHUMETH_DELETE] = "DELETE",
	[LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
};

static void exchange_reset(struct exchange *x)
{
	free(x->path);
	free(x->query);
	free(x->authorization);
	free(x->content_type);
	free(x->body);
	free(x->resp.body);
	memset(x, 0, sizeof(*x));
}

/* A copy of a request header, or NULL when absent (or on allocation failure). */
static char *header_copy(struct lws *wsi, enum lws_token_indexes h)
{
	int n = lws_hdr_total_length(wsi, h);
	char *v;

	if (n <= 0)
		return NULL;
	v = malloc((size_t)n + 1);
	if (v && lws_hdr_copy(wsi, v, n + 1, h) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

/* lws splits the query at '&' into fragments; join them back. */
static char *query_copy(struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	size_t cap, len = 0;
	char *q;

	if (total <= 0)
		return NULL;
	cap = (size_t)total * 2 + 2;
	q = malloc(cap);
	if (!q)
		return NULL;
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, q + len + (i > 0), (int)(cap - len - (i > 0)),
					      WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0)
			break;
		if (i > 0)
			q[len++] = '&';
		len += (size_t)n;
	}
	q[len] = '\0';
	return q;
}

static void respond_error(struct exchange *x, int status, const char *message)
{
	int n;

	free(x->resp.body);
	x->resp = (struct http_response){ .status = status, .content_type = "application/json" };
	n = asprintf(&x->resp.body, "{\"error\":\"%s\"}\n", message);
	if (n < 0)
		x->resp.body = NULL;
	else
		x->resp.body_len = (size_t)n;
}

static void run_handler(struct exchange *x)
{
	struct http_request req = {
		.method = x->method,
		.path = x->path,
		.query = x->query,
		.authorization = x->authorization,
		.content_type = x->content_type,
		.body = x->body,
		.body_len = x->body_len,
	};

	x->resp = (struct http_response){ .status = 200 };
	x->route->fn(x->route->ctx, &req, &x->resp);
	if (x->resp.status < 100 || x->resp.status > 599) {
		log_error("http handler returned an invalid status", LOG_STR("path", x->path),
			  LOG_INT("http_status", x->resp.status));
		respond_error(x, 500, "internal error");
	}
	if (!x->resp.body)
		x->resp.body_len = 0;
}

static int start_response(struct lws *wsi, struct exchange *x)
{
	x->responding = true;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Finds the route for the request; on a miss, prepares 404 or 405 and returns NULL. */
static const struct route *find_route(struct http_server *s, struct exchange *x)
{
	const struct route *found = NULL;
	size_t allow_len = 0;

	for (size_t i = 0; i < s->n_routes; i++) {
		const struct route *r = &s->routes[i];

		if (strcmp(r->path, x->path) != 0)
			continue;
		if (strcmp(r->method, x->method) == 0)
			return r;
		found = r;
		if (allow_len < sizeof(x->allow) - 1) {
			int n = snprintf(x->allow + allow_len, sizeof(x->allow) - allow_len, "%s%s",
					 allow_len ? ", " : "", r->method);

			allow_len += n > 0 ? (size_t)n : 0;
		}
	}
	if (found)
		respond_error(x, 405, "method not allowed");
	else
		respond_error(x, 404, "not found");
	return NULL;
}

static bool expects_continue(struct lws *wsi)
{
	char expect[32] = "";

	return lws_hdr_copy(wsi, expect, sizeof(expect), WSI_TOKEN_HTTP_EXPECT) > 0 &&
	       strcasecmp(expect, "100-continue") == 0;
}

static int begin_exchange(struct http_server *s, struct lws *wsi, struct exchange *x,
			  const char *uri, size_t uri_len)
{
	char *method_uri, length_text[24] = "";
	unsigned long long content_length = 0;
	bool chunked = false;
	int method_uri_len, method;
	char *te;

	exchange_reset(x);
	method = lws_http_get_uri_and_method(wsi, &method_uri, &method_uri_len);
	x->path = strndup(uri, uri_len);
	if (!x->path)
		return -1;
	if (method < 0 || method > LWSHUMETH_HEAD) {
		respond_error(x, 400, "bad request");
		x->close_after = true;
		return start_response(wsi, x);
	}
	snprintf(x->method, sizeof(x->method), "%s", method_names[method]);
	x->query = query_copy(wsi);
	x->authorization = header_copy(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	x->content_type = header_copy(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);

	if (lws_hdr_copy(wsi, length_text, sizeof(length_text), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
		char *end;

		errno = 0;
		content_length = strtoull(length_text, &end, 10);
		if (errno || *end || length_text[0] == '-') {
			respond_error(x, 400, "bad content-length");
			x->close_after = true;
			return start_response(wsi, x);
		}
	}
	te = header_copy(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
	chunked = te && strcasestr(te, "chunked");
	free(te);
	x->awaiting_body = content_length > 0 || chunked;

	x->route = find_route(s, x);
	if (x->route && chunked) {
		respond_error(x, 411, "length required");
		x->route = NULL;
	} else if (x->route && content_length > s->max_body) {
		respond_error(x, 413, "request body too large");
		x->route = NULL;
	}
	if (!x->route) {
		/* Answer before the body arrives, then close: draining a body nobody wants is a
		 * waste, and a client that sent "Expect: 100-continue" never sends it anyway. */
		x->rejected = x->awaiting_body;
		x->close_after = x->awaiting_body;
		return start_response(wsi, x);
	}
	if (x->awaiting_body) {
		x->body_limit = (size_t)content_length;
		/* libcurl asks before sending more than 1 MiB and otherwise waits a second:
		 * lws does not answer for us. */
		if (expects_continue(wsi)) {
			x->continue_pending = true;
			lws_callback_on_writable(wsi);
		}
		return 0;
	}
	run_handler(x);
	return start_response(wsi, x);
}

/* The buffer grows with what arrives rather than with what Content-Length promises, so a
 * client that announces megabytes and sends nothing costs nothing. */
static int grow_body(struct exchange *x, size_t need)
{
	size_t cap = x->body_cap ? x->body_cap : 64 * 1024;
	char *grown;

	while (cap < need)
		cap *= 2;
	if (cap > x->body_limit + 1)
		cap = x->body_limit + 1;
	grown = realloc(x->body, cap);
	if (!grown)
		return -ENOMEM;
	x->body = grown;
	x->body_cap = cap;
	return 0;
}

static int receive_body(struct lws *wsi, struct exchange *x, const void *in, size_t len)
{
	if (x->rejected || !x->awaiting_body)
		return 0;
	if (len > x->body_limit - x->body_len) {
		/* More than Content-Length announced: lws should never deliver that. */
		respond_error(x, 400, "body longer than content-length");
		x->rejected = x->close_after = true;
		return start_response(wsi, x);
	}
	if (x->body_len + len + 1 > x->body_cap && grow_body(x, x->body_len + len + 1)) {
		log_error("no memory for a request body", LOG_STR("path", x->path),
			  LOG_INT("content_length", x->body_limit));
		respond_error(x, 503, "out of memory");
		x->rejected = x->close_after = true;
		return start_response(wsi, x);
	}
	memcpy(x->body + x->body_len, in, len);
	x->body_len += len;
	x->body[x->body_len] = '\0';
	return 0;
}

static int finish_body(struct lws *wsi, struct exchange *x)
{
	if (x->rejected || !x->awaiting_body)
		return 0;
	x->awaiting_body = false;
	run_handler(x);
	return start_response(wsi, x);
}

/* Headers in one writeable callback, then the body one slice per callback. */
static int write_response(struct http_server *s, struct lws *wsi, struct exchange *x)
{
	unsigned char *start = s->out + LWS_PRE, *p = start, *end = start + WRITE_SLICE;
	bool close_after;

	if (!x->headers_sent) {
		const char *ctype = x->resp.content_type ? x->resp.content_type : "text/plain";

		if (lws_add_http_common_headers(wsi, (unsigned int)x->resp.status, ctype,
						x->resp.body_len, &p, end))
			return -1;
		if (x->allow[0] &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
						(const unsigned char *)x->allow, (int)strlen(x->allow), &p, end))
			return -1;
		if (x->close_after &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
						(const unsigned char *)"close", 5, &p, end))
			return -1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		x->headers_sent = true;
	} else if (x->sent < x->resp.body_len) {
		size_t n = x->resp.body_len - x->sent;
		bool last;

		if (n > WRITE_SLICE)
			n = WRITE_SLICE;
		last = x->sent + n == x->resp.body_len;
		memcpy(start, x->resp.body + x->sent, n);
		if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
			return -1;
		x->sent += n;
	}
	if (x->sent < x->resp.body_len) {
		lws_callback_on_writable(wsi);
		return 0;
	}

	log_debug("http request served", LOG_STR("method", x->method), LOG_STR("path", x->path),
		  LOG_INT("http_status", x->resp.status), LOG_INT("bytes", x->resp.body_len));
	close_after = x->close_after;
	exchange_reset(x);
	if (close_after || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int write_continue(struct http_server *s, struct lws *wsi, struct exchange *x)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
	unsigned char *start = s->out + LWS_PRE;

	x->continue_pending = false;
	memcpy(start, line, sizeof(line) - 1);
	return lws_write(wsi, start, sizeof(line) - 1, LWS_WRITE_HTTP_HEADERS) < 0 ? -1 : 0;
}

static int on_http_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *context = lws_get_context(wsi);
	struct http_server *s = context ? lws_context_user(context) : NULL;
	struct exchange *x = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return begin_exchange(s, wsi, x, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return receive_body(wsi, x, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return finish_body(wsi, x);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (x && x->continue_pending && !x->responding)
			return write_continue(s, wsi, x);
		if (!x || !x->responding)
			return 0;
		return write_response(s, wsi, x);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (x)
			exchange_reset(x);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ .name = "http", .callback = on_http_event, .per_session_data_size = sizeof(struct exchange) },
	{ .name = NULL },
};

/* lws hands over "[date] W: text\n" or just "text\n"; keep the text. */
static void emit_lws_line(int level, const char *line)
{
	char text[512];
	const char *tag = strstr(line, "] ");
	size_t n;

	if (line[0] == '[' && tag)
		line = tag + 2;
	if (line[0] && line[1] == ':' && line[2] == ' ')
		line += 3;
	n = strnlen(line, sizeof(text) - 1);
	memcpy(text, line, n);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n] = '\0';
	log_at(level & LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "library message", LOG_STR("library", "libwebsockets"),
	       LOG_STR("output", text));
}

int http_server_new(const struct http_server_opts *o, struct http_server **out)
{
	struct lws_context_creation_info info;
	struct http_server *s;
	int err;

	if (!o || o->port < 0 || o->port > 65535)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	s->out = malloc(LWS_PRE + WRITE_SLICE);
	if (!s->out) {
		free(s);
		return -ENOMEM;
	}
	atomic_init(&s->stopping, false);

	lws_set_log_level(LLL_ERR | LLL_WARN, emit_lws_line);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = s;
	info.max_http_header_data = MAX_HEADER_DATA;
	info.pt_serv_buf_size = 32 * 1024;
	info.fd_limit_per_thread = 1024;
	s->context = lws_create_context(&info);
	if (!s->context) {
		err = -EIO;
		goto fail;
	}

	info.vhost_name = "pcmc";
	info.iface = o->bind_address;
	info.port = o->port;
	info.protocols = protocols;
	info.keepalive_timeout = KEEPALIVE_SECONDS;
	if (o->bind_address && strchr(o->bind_address, '.'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	errno = 0;
	s->vhost = lws_create_vhost(s->context, &info);
	if (!s->vhost) {
		err = errno ? -errno : -EADDRNOTAVAIL;
		goto fail;
	}
	*out = s;
	return 0;

fail:
	if (s->context)
		lws_context_destroy(s->context);
	free(s->out);
	free(s);
	return err;
}

int http_server_route(struct http_server *s, const char *method, const char *path, http_handler_fn fn, void *ctx)
{
	struct route *routes;
	char *p;

	if (!method || !path || !fn || strlen(method) >= sizeof(routes->method))
		return -EINVAL;
	for (size_t i = 0; i < s->n_routes; i++)
		if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0)
			return -EEXIST;
	routes = realloc(s->routes, (s->n_routes + 1) * sizeof(*routes));
	if (!routes)
		return -ENOMEM;
	s->routes = routes;
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	routes[s->n_routes] = (struct route){ .path = p, .fn = fn, .ctx = ctx };
	snprintf(routes[s->n_routes].method, sizeof(routes->method), "%s", method);
	s->n_routes++;
	return 0;
}

int http_server_run(struct http_server *s)
{
	while (!atomic_load(&s->stopping))
		if (lws_service(s->context, 0) < 0)
			return -EIO;
	return 0;
}

static void *service_thread(void *arg)
{
	struct http_server *s = arg;
	int err = http_server_run(s);

	if (err)
		log_error("http server stopped serving", LOG_ERRNO(err));
	return NULL;
}

int http_server_start_thread(struct http_server *s)
{
	int err;

	if (s->thread_started)
		return -EALREADY;
	err = pthread_create(&s->thread, NULL, service_thread, s);
	if (err)
		return -err;
	s->thread_started = true;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	atomic_store(&s->stopping, true);
	lws_cancel_service(s->context);
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		http_server_stop(s);
		pthread_join(s->thread, NULL);
	}
	lws_context_destroy(s->context);
	for (size_t i = 0; i < s->n_routes; i++)
		free(s->routes[i].path);
	free(s->routes);
	free(s->out);
	free(s);
}

bool http_request_has_bearer(const struct http_request *req, const char *token)
{
	const char *given = req->authorization;
	size_t n, want;
	unsigned char diff = 0;

	if (!given || !token || !*token || strncasecmp(given, "Bearer ", 7) != 0)
		return false;
	given += 7;
	while (*given == ' ')
		given++;
	n = strlen(given);
	want = strlen(token);
	/* Only the length can leak through timing, not the position of the first wrong byte. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)token[i % want];
	return diff == 0 && n == want;
}

int http_server_port(const struct http_server *s)
{
	return lws_get_vhost_listen_port(s->vhost);
}
