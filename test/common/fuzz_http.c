/* libFuzzer target over the HTTP request layer: bytes -> one connection's engine (http_conn.c, as
 * the service thread runs it: request line, headers, admission, body, pipelining, deferred answers)
 * with the agent's routes in miniature (PUT /v1/policy decodes the body with the real codec).
 * The input is fed in chunks the first bytes choose, output drained slowly; every answer must be a
 * well-formed HTTP/1.1 response whose Content-Length matches its body. No crash, no leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_conn.h"
#include "common/policy_codec.h"

static void reply(struct http_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->body = strdup(body);
	resp->body_len = strlen(body);
}

static void healthz(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	reply(resp, 200, "ok");
}

/* "Bearer ok" is admitted at once, "Bearer later" decided after the next chunk, anything else 401. */
static void admit(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	if (req->authorization && !strcmp(req->authorization, "Bearer ok"))
		resp->status = HTTP_CONTINUE;
	else if (req->authorization && !strcmp(req->authorization, "Bearer later"))
		resp->deferred = true;
	else
		reply(resp, 401, "{\"error\":\"bearer token required\"}");
}

static void put_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct policy_decode_opts o = { .arch = "x86_64" };
	struct policy_push *p;
	struct json_error e;

	(void)ctx;
	if (req->query) { /* "?later": answered after the next chunk, as the agent's worker does */
		resp->deferred = true;
		return;
	}
	if (policy_push_decode(req->body ? req->body : "", req->body_len, &o, &p, &e)) {
		reply(resp, 400, e.path);
		return;
	}
	resp->status = 200;
	if (policy_push_encode(p, &resp->body, &resp->body_len))
		abort(); /* what was accepted can be written back */
	policy_push_free(p);
}

static struct route routes_list[] = {
	{ .method = "GET", .path = "/healthz", .fn = healthz },
	{ .method = "PUT", .path = "/v1/policy", .admit = admit, .fn = put_policy },
	{ .method = "GET", .path = "/v1/policy", .fn = healthz },
};

/* Checks every complete response in out[0..len); returns the bytes checked. */
static size_t check_responses(const char *out, size_t len)
{
	size_t at = 0;

	while (at < len) {
		const char *end = memmem(out + at, len - at, "\r\n\r\n", 4), *cl;
		size_t head_len, body;

		if (!end)
			return at;
		head_len = (size_t)(end - (out + at)) + 4;
		if (head_len < 12 || memcmp(out + at, "HTTP/1.1 ", 9) || out[at + 9] < '1' || out[at + 9] > '5')
			abort();
		if (!memcmp(out + at + 9, "100 ", 4)) {
			at += head_len;
			continue;
		}
		cl = memmem(out + at, head_len, "\r\nContent-Length: ", 18);
		if (!cl)
			abort();
		body = strtoul(cl + 18, NULL, 10);
		if (len - at - head_len < body)
			return at;
		at += head_len + body;
	}
	return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_routes routes = { .items = routes_list, .n = 3, .max_body = 1 << 16 };
	struct http_conn c;
	char *seen = NULL;
	size_t seen_len = 0, checked = 0, at = 0;
	unsigned seed = size ? data[0] : 0;

	http_conn_init(&c, &routes);
	while (at < size || c.state == CONN_ADMIT || c.state == CONN_HANDLE) {
		size_t step = 1 + (seed % 7 == 0 ? size : seed % 97), room = http_conn_room(&c);
		const char *pending;
		size_t n;

		seed = seed * 1103515245u + 12345u;
		if (c.state == CONN_ADMIT) {
			struct http_response r = { .status = seed & 1 ? HTTP_CONTINUE : 403 };

			http_conn_admitted(&c, &r, 0);
		} else if (c.state == CONN_HANDLE) {
			struct http_response r = { .status = 202 };

			reply(&r, 202, "later");
			http_conn_answered(&c, &r, 0);
		} else if (room && at < size) {
			step = step < room ? step : room;
			step = step < size - at ? step : size - at;
			if (http_conn_feed(&c, (const char *)data + at, step, 0))
				break;
			at += step;
		} else if (!room && !http_conn_pending(&c, &pending)) {
			break; /* closing, or a full head buffer with nothing to send: the server would close */
		}
		/* Drain part of the output, as a slow reader would. */
		n = http_conn_pending(&c, &pending);
		if (n) {
			size_t take = seed % 3 ? n : n / 2 + 1;
			char *grown = realloc(seen, seen_len + take);

			if (!grown)
				abort();
			seen = grown;
			memcpy(seen + seen_len, pending, take);
			seen_len += take;
			http_conn_sent(&c, take);
			checked += check_responses(seen + checked, seen_len - checked);
		}
		if (http_conn_finished(&c))
			break;
	}
	http_conn_eof(&c);
	for (;;) {
		const char *pending;
		size_t n = http_conn_pending(&c, &pending);
		char *grown;

		if (!n)
			break;
		grown = realloc(seen, seen_len + n);
		if (!grown)
			abort();
		seen = grown;
		memcpy(seen + seen_len, pending, n);
		seen_len += n;
		http_conn_sent(&c, n);
	}
	if (seen)
		checked += check_responses(seen + checked, seen_len - checked);
	if (checked != seen_len)
		abort(); /* a response cut short or trailing garbage */
	http_conn_free(&c);
	free(seen);
	return 0;
}
