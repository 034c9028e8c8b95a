/* JSON helpers as the agent's policy API will use them: bearer token check, body parse errors
 * a client can act on, typed fields, JSON responses; over real HTTP and directly. */
#include "common/http_server.h"
#include "common/json_util.h"
#include "test/common/tap_main.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(parse_reports_where_the_json_breaks)
{
	char why[64] = "";
	const char text[] = "{\"a\":1}{garbage";
	cJSON *doc = NULL;

	ck_assert_int_eq(json_parse("{\"a\": [1, 2,, 3]}", 17, &doc, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "invalid JSON at byte 12"); /* 0-based: the second comma */
	ck_assert_int_eq(json_parse("", 0, &doc, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "empty body, JSON expected");
	/* Trailing data after the first value is refused. */
	ck_assert_int_eq(json_parse(text, sizeof(text) - 1, &doc, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "invalid JSON at byte 7");
	/* Only len bytes count: the rest of the buffer is not read. */
	ck_assert_int_eq(json_parse(text, 7, &doc, why, sizeof(why)), 0);
	ck_assert_int_eq(cJSON_GetObjectItem(doc, "a")->valueint, 1);
	cJSON_Delete(doc);
	ck_assert_int_eq(json_parse(" [true] \n", 9, &doc, NULL, 0), 0);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(typed_fields_distinguish_absent_from_wrong_type)
{
	const char text[] = "{\"name\":\"web\",\"generation\":42,\"big\":1e300,\"half\":1.5,\"enabled\":true,\"none\":null}";
	const char *s;
	long long n;
	bool b;
	cJSON *doc;
	size_t len;
	char *printed;

	ck_assert_int_eq(json_parse(text, strlen(text), &doc, NULL, 0), 0);
	ck_assert_int_eq(json_get_string(doc, "name", &s), 0);
	ck_assert_str_eq(s, "web");
	ck_assert_int_eq(json_get_int(doc, "generation", &n), 0);
	ck_assert_int_eq(n, 42);
	ck_assert_int_eq(json_get_bool(doc, "enabled", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(json_get_int(doc, "big", &n), -EINVAL);
	ck_assert_int_eq(json_get_int(doc, "half", &n), -EINVAL);
	ck_assert_int_eq(json_get_string(doc, "generation", &s), -EINVAL);
	ck_assert_int_eq(json_get_bool(doc, "name", &b), -EINVAL);
	ck_assert_int_eq(json_get_string(doc, "none", &s), -ENOENT);
	ck_assert_int_eq(json_get_string(doc, "missing", &s), -ENOENT);
	ck_assert_int_eq(json_get_string(cJSON_GetObjectItem(doc, "name"), "x", &s), -ENOENT);
	printed = json_print(doc, &len);
	ck_assert_str_eq(printed, "{\"name\":\"web\",\"generation\":42,\"big\":1e+300,\"half\":1.5,\"enabled\":true,\"none\":null}");
	ck_assert_uint_eq(len, strlen(printed));
	free(printed);
	cJSON_Delete(doc);
}
END_TEST

START_TEST(bearer_token_must_match_exactly)
{
	struct http_request req = { .authorization = "Bearer s3cret" };

	ck_assert(http_request_has_bearer(&req, "s3cret"));
	req.authorization = "bearer   s3cret";
	ck_assert(http_request_has_bearer(&req, "s3cret"));
	req.authorization = "Bearer s3cre";
	ck_assert(!http_request_has_bearer(&req, "s3cret"));
	req.authorization = "Bearer s3cretX";
	ck_assert(!http_request_has_bearer(&req, "s3cret"));
	req.authorization = "Basic s3cret";
	ck_assert(!http_request_has_bearer(&req, "s3cret"));
	req.authorization = "Bearer ";
	ck_assert(!http_request_has_bearer(&req, "s3cret"));
	req.authorization = NULL;
	ck_assert(!http_request_has_bearer(&req, "s3cret"));
	req.authorization = "Bearer ";
	ck_assert(!http_request_has_bearer(&req, ""));
}
END_TEST

START_TEST(error_response_escapes_the_message)
{
	struct http_response resp = { .status = 200 };

	ck_assert_int_eq(json_respond_error(&resp, 400, "field \"spec\" missing\n"), 0);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_str_eq(resp.content_type, "application/json");
	ck_assert_str_eq(resp.body, "{\"error\":\"field \\\"spec\\\" missing\\n\"}\n");
	ck_assert_uint_eq(resp.body_len, strlen(resp.body));
	free(resp.body);
}
END_TEST

/* --- a miniature of the agent's policy endpoint --- */

struct policy_store {
	const char *token;
	long long generation;
};

static void put_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct policy_store *store = ctx;
	char why[64];
	long long generation;
	cJSON *doc, *reply;

	if (!http_request_has_bearer(req, store->token)) {
		json_respond_error(resp, 401, "bearer token required");
		return;
	}
	if (json_parse(req->body, req->body_len, &doc, why, sizeof(why))) {
		json_respond_error(resp, 400, why);
		return;
	}
	if (json_get_int(doc, "generation", &generation)) {
		json_respond_error(resp, 422, "generation must be an integer");
		cJSON_Delete(doc);
		return;
	}
	store->generation = generation;
	cJSON_Delete(doc);
	reply = cJSON_CreateObject();
	cJSON_AddNumberToObject(reply, "applied", (double)generation);
	json_respond(resp, 200, reply);
	cJSON_Delete(reply);
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
	char **body = userdata;
	size_t old = *body ? strlen(*body) : 0;

	*body = realloc(*body, old + size * n + 1);
	memcpy(*body + old, data, size * n);
	(*body)[old + size * n] = '\0';
	return size * n;
}

static long put(const char *url, const char *auth, const char *body, char **reply)
{
	CURL *c = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	long status = 0;

	if (auth)
		headers = curl_slist_append(headers, auth);
	*reply = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return status;
}

START_TEST(policy_put_checks_token_parses_body_and_answers_json)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1" };
	struct policy_store store = { .token = "agent-token-123" };
	struct http_server *server;
	char url[64], *reply;

	ck_assert_int_eq(http_server_new(&opts, &server), 0);
	ck_assert_int_eq(http_server_route(server, "PUT", "/v1/policy", put_policy, &store), 0);
	ck_assert_int_eq(http_server_start_thread(server), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/policy", http_server_port(server));

	ck_assert_int_eq(put(url, NULL, "{\"generation\":1}", &reply), 401);
	ck_assert_str_eq(reply, "{\"error\":\"bearer token required\"}\n");
	free(reply);
	ck_assert_int_eq(put(url, "Authorization: Bearer wrong-token-12", "{\"generation\":1}", &reply), 401);
	free(reply);
	ck_assert_int_eq(put(url, "Authorization: Bearer agent-token-123", "{\"generation\":", &reply), 400);
	ck_assert_str_eq(reply, "{\"error\":\"invalid JSON at byte 13\"}\n");
	free(reply);
	ck_assert_int_eq(put(url, "Authorization: Bearer agent-token-123", "{\"generation\":\"7\"}", &reply), 422);
	free(reply);
	ck_assert_int_eq(put(url, "Authorization: Bearer agent-token-123", "{\"generation\":7}", &reply), 200);
	ck_assert_str_eq(reply, "{\"applied\":7}\n");
	free(reply);
	http_server_free(server); /* joins the service thread: store is no longer shared */
	ck_assert_int_eq(store.generation, 7);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json_util");
	TCase *tc = tcase_create("json");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parse_reports_where_the_json_breaks);
	tcase_add_test(tc, typed_fields_distinguish_absent_from_wrong_type);
	tcase_add_test(tc, bearer_token_must_match_exactly);
	tcase_add_test(tc, error_response_escapes_the_message);
	tcase_add_test(tc, policy_put_checks_token_parses_body_and_answers_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = run_suite_with_tap(json_suite());
	curl_global_cleanup();
	return rc;
}
