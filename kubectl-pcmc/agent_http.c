/* GET from a pcmc-agent with libcurl: one easy handle per request (the plugin makes a few). */
#include "kubectl-pcmc/agent_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_BODY_MAX (64u << 20)

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	struct agent_body *b = ud;
	size_t add = size * n;
	char *p;

	if (b->len + add > AGENT_BODY_MAX)
		return 0;
	p = realloc(b->text, b->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, add);
	b->text = p;
	b->len += add;
	p[b->len] = '\0';
	return add;
}

int agent_http_get(const char *address, const char *path, long timeout_ms, struct agent_body *out, char *error,
		   size_t error_len)
{
	CURL *curl = curl_easy_init();
	char url[512];
	CURLcode rc;

	*out = (struct agent_body){ 0 };
	if (!curl) {
		snprintf(error, error_len, "no memory");
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "http://%s%s", address, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(error, error_len, "GET %s: %s", url, curl_easy_strerror(rc));
		agent_body_clear(out);
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	if (!out->text) {
		out->text = strdup("");
		if (!out->text) {
			snprintf(error, error_len, "no memory");
			return -ENOMEM;
		}
	}
	return 0;
}

void agent_body_clear(struct agent_body *b)
{
	free(b->text);
	*b = (struct agent_body){ 0 };
}
