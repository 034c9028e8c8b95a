/* The HTTP server as its clients use it: real requests over 127.0.0.1 with libcurl (routes,
 * errors, a 5 MiB policy body, keep-alive clients in parallel) and raw sockets for malformed input,
 * odd heads, answers deferred to another thread, admission before the body, connection limit. */
#include "common/http_server.h"
#include "test/common/tap_main.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct reply {
	long status;
	char *body;
	size_t len;
	char allow[128];
	char content_type[128];
	long connects;  /* new connections curl opened for this request */
	double seconds;
};

static size_t collect_body(char *data, size_t size, size_t n, void *userdata)
{
	struct reply *r = userdata;
	char *grown = realloc(r->body, r->len + size * n + 1);

	if (!grown)
		return 0;
	r->body = grown;
	memcpy(r->body + r->len, data, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static void copy_header_value(char *dst, size_t cap, const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0)
		return;
	line += k;
	n -= k;
	while (n && (*line == ' '))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	snprintf(dst, cap, "%.*s", (int)n, line);
}

static size_t collect_header(char *line, size_t size, size_t n, void *userdata)
{
	struct reply *r = userdata;

	copy_header_value(r->allow, sizeof(r->allow), line, size * n, "allow:");
	copy_header_value(r->content_type, sizeof(r->content_type), line, size * n, "content-type:");
	return size * n;
}

/* One request on handle c (reused, so keep-alive applies). Returns the curl result. */
static CURLcode request(CURL *c, const char *method, const char *url, const void *body, size_t len,
			const char *const *headers, struct reply *r)
{
	struct curl_slist *list = NULL;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	curl_easy_reset(c);
	for (; headers && *headers; headers++)
		list = curl_slist_append(list, *headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Without the server's "100 Continue" a large upload would stall this long. */
	curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_slist_free_all(list);
	return rc;
}

static uint64_t checksum(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* --- handlers the tests route to --- */

static void reply_ok(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->body = strdup("ok\n");
	resp->body_len = 3;
}

/* Reports what the server parsed, one field a line. */
static void reply_request_fields(void *ctx, const struct http_request *req, struct http_response *resp)
{
	int n;

	(void)ctx;
	n = asprintf(&resp->body, "method=%s\npath=%s\nquery=%s\nauthorization=%s\ncontent_type=%s\nbody_len=%zu\n",
		     req->method, req->path, req->query ? req->query : "(none)",
		     req->authorization ? req->authorization : "(none)",
		     req->content_type ? req->content_type : "(none)", req->body_len);
	resp->body_len = n > 0 ? (size_t)n : 0;
	resp->content_type = "text/plain; charset=utf-8";
}

/* Echoes the body and answers 201, recording the checksum the server saw in ctx. */
static void echo_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	uint64_t *seen = ctx;

	*seen = checksum(req->body, req->body_len);
	resp->status = 201;
	resp->content_type = "application/octet-stream";
	resp->body = malloc(req->body_len ? req->body_len : 1);
	if (req->body_len)
		memcpy(resp->body, req->body, req->body_len);
	resp->body_len = req->body_len;
}

static void reply_teapot_without_body(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->status = 418;
}

/* --- fixture: a server on 127.0.0.1 with an ephemeral port, serving on its own thread --- */

static struct http_server *server;
static uint64_t policy_checksum;
static char base_url[64];

static void start_server(size_t max_body)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1", .port = 0, .max_body = max_body };

	ck_assert_int_eq(http_server_new(&opts, &server), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/healthz", reply_ok, NULL), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/v1/policy", reply_request_fields, NULL), 0);
	ck_assert_int_eq(http_server_route(server, "PUT", "/v1/policy", echo_policy, &policy_checksum), 0);
	ck_assert_int_eq(http_server_route(server, "POST", "/fields", reply_request_fields, NULL), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/teapot", reply_teapot_without_body, NULL), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/healthz", reply_ok, NULL), -EEXIST);
	ck_assert_int_gt(http_server_port(server), 0);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", http_server_port(server));
	ck_assert_int_eq(http_server_start_thread(server), 0);
}

static void setup_default(void)
{
	start_server(8u << 20);
}

static void teardown(void)
{
	http_server_free(server);
	server = NULL;
}

static char *url(const char *path)
{
	static __thread char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", base_url, path);
	return buf;
}

START_TEST(healthz_answers_ok_with_handler_body)
{
	CURL *c = curl_easy_init();
	struct reply r;

	ck_assert_int_eq(request(c, "GET", url("/healthz"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	ck_assert_str_eq(r.content_type, "text/plain");
	free(r.body);

	ck_assert_int_eq(request(c, "GET", url("/teapot"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 418);
	ck_assert_uint_eq(r.len, 0);
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(handler_sees_method_path_query_bearer_token_and_content_type)
{
	const char *headers[] = { "Authorization: Bearer s3cr3t-token", NULL };
	const char *json_headers[] = { "Content-Type: application/json", NULL };
	CURL *c = curl_easy_init();
	struct reply r;

	ck_assert_int_eq(request(c, "GET", url("/v1/policy?node=n1&watch=1"), NULL, 0, headers, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "method=GET\npath=/v1/policy\nquery=node=n1&watch=1\n"
				 "authorization=Bearer s3cr3t-token\ncontent_type=(none)\nbody_len=0\n");
	ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
	free(r.body);

	ck_assert_int_eq(request(c, "POST", url("/fields"), "{\"a\":1}", 7, json_headers, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "method=POST\npath=/fields\nquery=(none)\nauthorization=(none)\n"
				 "content_type=application/json\nbody_len=7\n");
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(service_account_sized_bearer_token_reaches_handler)
{
	char token[4096 + 64] = "Authorization: Bearer ";
	const char *headers[] = { token, NULL };
	CURL *c = curl_easy_init();
	struct reply r;
	size_t at = strlen(token);

	for (size_t i = 0; i < 4096; i++)
		token[at + i] = (char)('a' + i % 26);
	token[at + 4096] = '\0';
	ck_assert_int_eq(request(c, "GET", url("/v1/policy"), NULL, 0, headers, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, token + strlen("Authorization: ")));
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(unknown_path_is_404)
{
	CURL *c = curl_easy_init();
	struct reply r;

	ck_assert_int_eq(request(c, "GET", url("/v1/nope"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(r.content_type, "application/json");
	ck_assert_str_eq(r.body, "{\"error\":\"not found\"}\n");
	free(r.body);
	/* The connection stays usable after an error. */
	ck_assert_int_eq(request(c, "GET", url("/healthz"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.connects, 0);
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(known_path_with_other_method_is_405_with_allow)
{
	CURL *c = curl_easy_init();
	struct reply r;

	ck_assert_int_eq(request(c, "DELETE", url("/v1/policy"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(r.allow, "GET, PUT");
	free(r.body);
	ck_assert_int_eq(request(c, "POST", url("/healthz"), "x", 1, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(r.allow, "GET");
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

static void fill_pseudo_random(unsigned char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1664525u + 1013904223u;
		buf[i] = (unsigned char)(seed >> 24);
	}
}

START_TEST(five_mib_policy_put_is_assembled_and_echoed_intact)
{
	/* Without and with "Expect: 100-continue" (curl's default for large bodies). */
	const char *no_expect[] = { "Expect:", "Content-Type: application/json", NULL };
	const char *const *variants[] = { no_expect, NULL };
	size_t len = 5u << 20;
	unsigned char *body = malloc(len);
	CURL *c = curl_easy_init();

	fill_pseudo_random(body, len, 42);
	for (int v = 0; v < 2; v++) {
		struct reply r;

		policy_checksum = 0;
		ck_assert_int_eq(request(c, "PUT", url("/v1/policy"), body, len, variants[v], &r), CURLE_OK);
		ck_assert_int_eq(r.status, 201);
		ck_assert_uint_eq(r.len, len);
		ck_assert_uint_eq(checksum(r.body, r.len), checksum(body, len));
		ck_assert(memcmp(r.body, body, len) == 0);
		if (v > 0) { /* keep-alive survives a 5 MiB exchange; 100 Continue came at once */
			ck_assert_int_eq(r.connects, 0);
			ck_assert_msg(r.seconds < 5.0, "upload with Expect took %.1f s", r.seconds);
		}
		free(r.body);
	}
	/* The handler ran in this process (server thread), so its checksum is visible here. */
	ck_assert_uint_eq(policy_checksum, checksum(body, len));
	free(body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(body_over_max_body_is_413_and_server_keeps_serving)
{
	const char *no_expect[] = { "Expect:", NULL };
	const char *with_expect[] = { "Expect: 100-continue", NULL };
	size_t len = (1u << 20) + 1;
	char *body = calloc(1, len);
	CURL *c = curl_easy_init();
	struct reply r;

	ck_assert_int_eq(request(c, "PUT", url("/v1/policy"), body, len, with_expect, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 413);
	free(r.body);
	ck_assert_int_eq(request(c, "PUT", url("/v1/policy"), body, len, no_expect, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 413);
	free(r.body);
	/* Exactly max_body is accepted. */
	ck_assert_int_eq(request(c, "PUT", url("/v1/policy"), body, len - 1, no_expect, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 201);
	ck_assert_uint_eq(r.len, len - 1);
	free(r.body);
	free(body);
	curl_easy_cleanup(c);
}
END_TEST

static void setup_one_mib(void)
{
	start_server(1u << 20);
}

/* Sends raw bytes on a fresh connection and returns what came back before close (or 2 s). */
static char *raw_exchange(const char *bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(server)) };
	struct timeval tv = { .tv_sec = 2 };
	static char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* Everything odd in a head is answered at once with a status, never a hang or a silent close. */
START_TEST(malformed_request_is_refused)
{
	static const struct { const char *bytes; const char *status; } cases[] = {
		{ "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "400" },
		{ "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", "400" },
		{ "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "400" },
		{ "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", "400" },
		{ "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "400" },
		/* A leading space makes the line a continuation of Host (obs-fold): refused, not guessed. */
		{ "PUT /v1/policy HTTP/1.1\r\nHost: x\r\n Content-Length: 3\r\n\r\nabc", "400" },
		{ "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc", "400" },
		{ "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", "400" },
		{ "\x01\x02\x03 garbage\r\n\r\n", "400" },
		{ "GET healthz HTTP/1.1\r\n\r\n", "400" },
		{ "GET /healthz HTTP/2.0\r\n\r\n", "505" },
		{ "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "405" },
		/* Chunked bodies are refused: every client of the agent knows its body's length. */
		{ "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "411" },
	};
	char status[16], *got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(status, sizeof(status), "HTTP/1.1 %s", cases[i].status);
		got = raw_exchange(cases[i].bytes);
		ck_assert_msg(strncmp(got, status, 12) == 0, "request %zu answered \"%.40s\"", i, got);
		ck_assert_msg(!strcmp(cases[i].status, "405") || strstr(got, "Connection: close"),
			      "request %zu: connection kept after a malformed request", i);
	}
	/* And the server still answers a well-formed request. */
	ck_assert_ptr_nonnull(strstr(raw_exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
				     "\r\n\r\nok\n"));
}
END_TEST

/* 16 KiB of head (a 16 KB Authorization header) is 431 at once, before any body is read. */
START_TEST(oversized_head_is_431_at_once)
{
	size_t n = 16 * 1024 + 100;
	char *req = malloc(n + 200), *got;
	int at = sprintf(req, "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ");

	memset(req + at, 'a', n);
	strcpy(req + at + n, "\r\nContent-Length: 3\r\n\r\nabc");
	got = raw_exchange(req);
	ck_assert_msg(strncmp(got, "HTTP/1.1 431", 12) == 0, "answered \"%.40s\"", got);
	/* The same without an end: still 431 once 16 KiB arrived, not a wait for more. */
	req[at + n] = '\0';
	got = raw_exchange(req);
	ck_assert_msg(strncmp(got, "HTTP/1.1 431", 12) == 0, "answered \"%.40s\"", got);
	free(req);
}
END_TEST

START_TEST(pipelined_requests_on_one_connection_are_all_answered)
{
	char *got = raw_exchange("PUT /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
				 "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
				 "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	char *second, *third;

	ck_assert_msg(strncmp(got, "HTTP/1.1 201", 12) == 0, "first answer \"%.40s\"", got);
	second = strstr(got + 1, "HTTP/1.1 200");
	ck_assert_ptr_nonnull(second);
	third = strstr(second + 1, "HTTP/1.1 404");
	ck_assert_ptr_nonnull(third);
	ck_assert_ptr_nonnull(strstr(got, "\r\n\r\nabcHTTP/1.1 200"));
}
END_TEST

START_TEST(client_vanishing_mid_body_leaves_server_serving)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(server)) };
	const char *head = "PUT /v1/policy HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n";
	char chunk[100000];
	CURL *c = curl_easy_init();
	struct reply r;

	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 5; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
		ck_assert_int_eq(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		close(fd);
	}
	ck_assert_int_eq(request(c, "GET", url("/healthz"), NULL, 0, NULL, &r), CURLE_OK);
	ck_assert_int_eq(r.status, 200);
	free(r.body);
	curl_easy_cleanup(c);
}
END_TEST

struct client_run {
	int requests;
	int failures;
	long connects;
};

static void *keep_alive_client(void *arg)
{
	struct client_run *run = arg;
	CURL *c = curl_easy_init();
	char body[2048];

	memset(body, 'p', sizeof(body));
	for (int i = 0; i < run->requests; i++) {
		struct reply r;
		bool put = i % 3 == 0;
		CURLcode rc = put ? request(c, "PUT", url("/v1/policy"), body, sizeof(body), NULL, &r)
				  : request(c, "GET", url("/healthz"), NULL, 0, NULL, &r);

		if (rc != CURLE_OK || r.status != (put ? 201 : 200) || r.len != (put ? sizeof(body) : 3))
			run->failures++;
		run->connects += r.connects;
		free(r.body);
	}
	curl_easy_cleanup(c);
	return NULL;
}

START_TEST(twenty_keep_alive_clients_in_parallel)
{
	enum { CLIENTS = 20, REQUESTS = 50 };
	pthread_t threads[CLIENTS];
	struct client_run runs[CLIENTS];

	for (int i = 0; i < CLIENTS; i++) {
		runs[i] = (struct client_run){ .requests = REQUESTS };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, keep_alive_client, &runs[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(runs[i].failures, 0);
		/* One connection for all 50 requests: keep-alive held. */
		ck_assert_int_eq(runs[i].connects, 1);
	}
}
END_TEST

static void *stop_soon(void *arg)
{
	usleep(200 * 1000);
	http_server_stop(arg);
	return NULL;
}

START_TEST(run_returns_after_stop_from_another_thread)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1" };
	struct http_server *s;
	pthread_t stopper;

	ck_assert_int_eq(http_server_new(&opts, &s), 0);
	ck_assert_int_eq(pthread_create(&stopper, NULL, stop_soon, s), 0);
	ck_assert_int_eq(http_server_run(s), 0);
	pthread_join(stopper, NULL);
	http_server_free(s);
}
END_TEST

/* The complaint arrives as one of our JSON log lines on stderr. */
START_TEST(busy_port_is_reported_and_logged_as_json)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1" };
	char path[] = "/tmp/pcmc-http-log-XXXXXX", logged[4096] = "";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct http_server *s;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	opts.port = http_server_port(server);
	dup2(fd, STDERR_FILENO);
	ck_assert_int_eq(http_server_new(&opts, &s), -EADDRINUSE);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, logged, sizeof(logged) - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(strncmp(logged, "{\"ts\":\"", 7) == 0 && strstr(logged, "\"level\":\"error\"") &&
		      strstr(logged, "\"msg\":\"HTTP server cannot listen\"") &&
		      strstr(logged, "\"error\":\"Address already in use\"}\n"), "log line: %s", logged);
}
END_TEST


/* --- deferred answers, admission before the body, limits: a server of 8 connections --- */

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_cond = PTHREAD_COND_INITIALIZER;
static uint64_t held_exchange;         /* a deferred request waiting for the test to answer it */
static int handler_calls;

static void defer_until_released(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&held_lock);
	held_exchange = req->exchange;
	pthread_cond_broadcast(&held_cond);
	pthread_mutex_unlock(&held_lock);
	resp->deferred = true;
}

static void count_and_echo(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	__atomic_add_fetch(&handler_calls, 1, __ATOMIC_SEQ_CST);
	resp->body = malloc(req->body_len + 1);
	memcpy(resp->body, req->body ? req->body : "", req->body_len);
	resp->body_len = req->body_len;
}

static uint64_t wait_held(void)
{
	uint64_t x;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&held_lock);
	while (!held_exchange && pthread_cond_timedwait(&held_cond, &held_lock, &until) == 0)
		;
	x = held_exchange;
	held_exchange = 0;
	pthread_mutex_unlock(&held_lock);
	return x;
}

static void setup_limited(void)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1", .max_connections = 8, .head_timeout_ms = 300 };

	ck_assert_int_eq(http_server_new(&opts, &server), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/healthz", reply_ok, NULL), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/slow", defer_until_released, NULL), 0);
	ck_assert_int_eq(http_server_route_admitted(server, "PUT", "/admitted", defer_until_released, count_and_echo,
						    NULL), 0);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", http_server_port(server));
	ck_assert_int_eq(http_server_start_thread(server), 0);
	handler_calls = 0;
	held_exchange = 0;
}

static int connect_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(server)) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads until the buffer holds `until` (or the read times out / the peer closes). */
static char *read_until(int fd, const char *until)
{
	static char buf[8192];
	size_t len = 0;
	ssize_t n;

	buf[0] = '\0';
	while (!strstr(buf, until) && len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

START_TEST(probes_answer_while_a_handler_is_deferred)
{
	int slow = connect_server();
	struct http_response r = { .status = 202 };
	CURL *c = curl_easy_init();
	struct reply got;

	send_all(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	uint64_t x = wait_held();
	ck_assert_uint_ne(x, 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(request(c, "GET", url("/healthz"), NULL, 0, NULL, &got), CURLE_OK);
		ck_assert_int_eq(got.status, 200);
		free(got.body);
	}
	r.body = strdup("done");
	r.body_len = 4;
	ck_assert_int_eq(http_server_respond(server, x, &r), 0);
	ck_assert_ptr_nonnull(strstr(read_until(slow, "done"), "HTTP/1.1 202"));
	/* An answer for a client that has gone is dropped quietly. */
	send_all(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	x = wait_held();
	close(slow);
	r = (struct http_response){ .status = 200, .body = strdup("late"), .body_len = 4 };
	ck_assert_int_eq(http_server_respond(server, x, &r), 0);
	ck_assert_int_eq(request(c, "GET", url("/healthz"), NULL, 0, NULL, &got), CURLE_OK);
	ck_assert_int_eq(got.status, 200);
	free(got.body);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(no_body_is_read_before_admission)
{
	int fd = connect_server();
	struct http_response r = { .status = HTTP_CONTINUE };
	struct timeval short_wait = { .tv_usec = 300000 };
	char buf[64];
	uint64_t x;

	/* Admitted: "100 Continue" only after the check said so, then the handler sees the body. */
	send_all(fd, "PUT /admitted HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	x = wait_held();
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof(short_wait));
	ck_assert_int_lt(read(fd, buf, sizeof(buf)), 0); /* nothing yet: the check is deciding */
	ck_assert_int_eq(http_server_admit(server, x, &r), 0);
	ck_assert_ptr_nonnull(strstr(read_until(fd, "\r\n\r\n"), "HTTP/1.1 100 Continue"));
	send_all(fd, "hello");
	ck_assert_ptr_nonnull(strstr(read_until(fd, "hello"), "HTTP/1.1 200"));
	ck_assert_int_eq(handler_calls, 1);

	/* Refused: the answer comes at once, the announced body is never read, the connection closes. */
	send_all(fd, "PUT /admitted HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nsome of the body");
	x = wait_held();
	r = (struct http_response){ .status = 401, .body = strdup("no"), .body_len = 2 };
	ck_assert_int_eq(http_server_admit(server, x, &r), 0);
	char *got = read_until(fd, "no");
	ck_assert_ptr_nonnull(strstr(got, "HTTP/1.1 401"));
	ck_assert_ptr_nonnull(strstr(got, "Connection: close"));
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0); /* closed */
	ck_assert_int_eq(handler_calls, 1);
	close(fd);
}
END_TEST

START_TEST(past_the_connection_limit_new_ones_get_503_and_old_ones_stay)
{
	int fds[8], extra, open = 0;
	unsigned long refused = 0;

	for (int i = 0; i < 8; i++) {
		fds[i] = connect_server();
		send_all(fds[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
		ck_assert_ptr_nonnull(strstr(read_until(fds[i], "ok\n"), "HTTP/1.1 200"));
	}
	extra = connect_server();
	ck_assert_ptr_nonnull(strstr(read_until(extra, "connections"), "HTTP/1.1 503"));
	close(extra);
	for (int i = 0; i < 8; i++) {
		send_all(fds[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
		ck_assert_ptr_nonnull(strstr(read_until(fds[i], "ok\n"), "HTTP/1.1 200"));
	}
	http_server_stats(server, &open, &refused);
	ck_assert_int_eq(open, 8);
	ck_assert_uint_eq(refused, 1);
	close(fds[0]);
	for (int i = 0; i < 50; i++) { /* the server notices the close */
		http_server_stats(server, &open, &refused);
		if (open == 7)
			break;
		usleep(20000);
	}
	extra = connect_server();
	send_all(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(read_until(extra, "ok\n"), "HTTP/1.1 200"));
	close(extra);
	for (int i = 1; i < 8; i++)
		close(fds[i]);
}
END_TEST

START_TEST(a_head_that_never_completes_gets_408)
{
	int fd = connect_server();

	send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	ck_assert_ptr_nonnull(strstr(read_until(fd, "in time"), "HTTP/1.1 408"));
	close(fd);
}
END_TEST

static Suite *http_server_suite(void)
{
	Suite *s = suite_create("http_server");
	TCase *tc = tcase_create("served over 127.0.0.1");
	TCase *small = tcase_create("1 MiB body limit");
	TCase *life = tcase_create("lifecycle");
	TCase *limited = tcase_create("deferred answers and limits");

	tcase_add_checked_fixture(tc, setup_default, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, healthz_answers_ok_with_handler_body);
	tcase_add_test(tc, handler_sees_method_path_query_bearer_token_and_content_type);
	tcase_add_test(tc, service_account_sized_bearer_token_reaches_handler);
	tcase_add_test(tc, unknown_path_is_404);
	tcase_add_test(tc, known_path_with_other_method_is_405_with_allow);
	tcase_add_test(tc, five_mib_policy_put_is_assembled_and_echoed_intact);
	tcase_add_test(tc, malformed_request_is_refused);
	tcase_add_test(tc, oversized_head_is_431_at_once);
	tcase_add_test(tc, pipelined_requests_on_one_connection_are_all_answered);
	tcase_add_test(tc, client_vanishing_mid_body_leaves_server_serving);
	tcase_add_test(tc, twenty_keep_alive_clients_in_parallel);
	tcase_add_test(tc, busy_port_is_reported_and_logged_as_json);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(small, setup_one_mib, teardown);
	tcase_set_timeout(small, 30);
	tcase_add_test(small, body_over_max_body_is_413_and_server_keeps_serving);
	suite_add_tcase(s, small);

	tcase_add_checked_fixture(limited, setup_limited, teardown);
	tcase_set_timeout(limited, 30);
	tcase_add_test(limited, probes_answer_while_a_handler_is_deferred);
	tcase_add_test(limited, no_body_is_read_before_admission);
	tcase_add_test(limited, past_the_connection_limit_new_ones_get_503_and_old_ones_stay);
	tcase_add_test(limited, a_head_that_never_completes_gets_408);
	suite_add_tcase(s, limited);

	tcase_set_timeout(life, 10);
	tcase_add_test(life, run_returns_after_stop_from_another_thread);
	suite_add_tcase(s, life);
	return s;
}

int main(void)
{
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = run_suite_with_tap(http_server_suite());
	curl_global_cleanup();
	return rc;
}
