/* Kubernetes REST client: libcurl easy handles from a pool sharing one connection cache (requests
 * reuse keep-alive connections), JSON bodies via cJSON, Status replies turned into -errno. */
#include "common/kube_client.h"

#include "common/curl_pool.h"
#include "common/text_buffer.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 32
#define CONNECT_TIMEOUT_S 5
#define REQUEST_TIMEOUT_S 30

struct kube_client {
	struct kube_config *cfg;
	struct curl_pool *pool;
};

int kube_client_new(struct kube_config *cfg, struct kube_client **out)
{
	struct kube_client *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	err = curl_pool_new(POOL_MAX, POOL_MAX, &c->pool);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	curl_pool_free(c->pool);
	free(c);
}

void kube_url_escape(char *buf, size_t size, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(buf);

	for (; *s && n + 4 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			buf[n++] = (char)ch;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[ch >> 4];
			buf[n++] = hex[ch & 15];
		}
	}
	buf[n] = '\0';
}

/* Options every request shares: TLS material, auth, timeouts, keepalive. */
static int setup_handle(struct kube_client *c, CURL *h, const char *path, struct curl_slist **headers)
{
	struct kube_config *cfg = c->cfg;
	char *token = NULL, *url;
	int err;

	if (asprintf(&url, "%s%s", cfg->server, path) < 0)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url); /* curl copies string options */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 15L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_data) {
		struct curl_blob blob = { .data = cfg->ca_data, .len = cfg->ca_data_len, .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->client_cert_data) {
		struct curl_blob blob = { .data = cfg->client_cert_data, .len = cfg->client_cert_data_len,
					  .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->client_cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->client_cert_file);
	}
	if (cfg->client_key_data) {
		struct curl_blob blob = { .data = cfg->client_key_data, .len = cfg->client_key_data_len,
					  .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->client_key_file) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->client_key_file);
	}

	*headers = curl_slist_append(*headers, "Accept: application/json");
	err = kube_config_token(cfg, &token);
	if (err)
		return err;
	if (token) {
		char *hdr;

		if (asprintf(&hdr, "Authorization: Bearer %s", token) >= 0) {
			*headers = curl_slist_append(*headers, hdr);
			free(hdr);
		}
		free(token);
	}
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pcmc/0.1");
	return 0;
}

static int curl_to_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR:
		return -ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO;
	default:
		return -ECONNRESET;
	}
}

static int status_to_errno(long status, const char *reason)
{
	switch (status) {
	case 400:
	case 422:
		return KUBE_EINVALID;
	case 401:
		return KUBE_EUNAUTH;
	case 403:
		return KUBE_EFORBIDDEN;
	case 404:
		return KUBE_ENOTFOUND;
	case 409:
		return reason && strcmp(reason, "AlreadyExists") == 0 ? KUBE_EEXIST : KUBE_ECONFLICT;
	case 410:
		return KUBE_EGONE;
	case 429:
		return KUBE_ETOOMANY;
	case 503:
		return -EAGAIN;
	case 504:
		return -ETIMEDOUT;
	default:
		return KUBE_ESERVER;
	}
}

static void fill_error(struct kube_error *err, long status, const char *reason, const char *method,
		       const char *path, const char *message)
{
	if (!err)
		return;
	err->http_status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", reason ? reason : "");
	snprintf(err->message, sizeof(err->message), "%s %s: %s", method, path, message ? message : "");
}

/* Turns an API Status body into an errno and an error naming the object and the reason. */
static int status_error(long status, const char *body, const char *method, const char *path,
			struct kube_error *err)
{
	cJSON *st = body ? cJSON_Parse(body) : NULL;
	const char *reason = cJSON_GetStringValue(cJSON_GetObjectItem(st, "reason"));
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItem(st, "message"));
	char fallback[64];
	int rc = status_to_errno(status, reason);

	if (!message) {
		snprintf(fallback, sizeof(fallback), "HTTP %ld", status);
		message = fallback;
	}
	fill_error(err, status, reason ? reason : "", method, path, message);
	cJSON_Delete(st);
	return rc;
}

int kube_request(struct kube_client *c, const char *method, const char *path, const cJSON *body,
		 const char *content_type, cJSON **reply, struct kube_error *err)
{
	return kube_request_timeout(c, method, path, body, content_type, reply, err, REQUEST_TIMEOUT_S * 1000L);
}

int kube_request_timeout(struct kube_client *c, const char *method, const char *path, const cJSON *body,
			 const char *content_type, cJSON **reply, struct kube_error *err, long timeout_ms)
{
	struct curl_slist *headers = NULL;
	struct text_buffer resp = { 0 };
	char *payload = NULL;
	long status = 0;
	CURLcode crc;
	CURL *h;
	int rc;

	if (reply)
		*reply = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	h = curl_pool_take(c->pool);
	if (!h)
		return -ENOMEM;
	rc = setup_handle(c, h, path, &headers);
	if (rc) {
		fill_error(err, 0, "Config", method, path, strerror(-rc));
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (timeout_ms < CONNECT_TIMEOUT_S * 1000L)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, text_buffer_curl_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	if (body) {
		char hdr[128];

		payload = cJSON_PrintUnformatted(body);
		if (!payload) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type ? content_type : "application/json");
		headers = curl_slist_append(headers, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		if (strcmp(method, "DELETE") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	crc = curl_easy_perform(h);
	if (crc != CURLE_OK) {
		rc = curl_to_errno(crc);
		fill_error(err, 0, "ConnectionError", method, path, curl_easy_strerror(crc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		rc = status_error(status, resp.data, method, path, err);
		goto out;
	}
	if (reply && resp.data) {
		*reply = cJSON_ParseWithLength(resp.data, resp.len);
		if (!*reply) {
			rc = KUBE_ESERVER;
			fill_error(err, status, "BadReply", method, path, "reply is not JSON");
		}
	}
out:
	curl_slist_free_all(headers);
	free(payload);
	text_buffer_clear(&resp);
	curl_pool_give_back(c->pool, h);
	return rc;
}

/* ---- watch streams ---- */

struct watch_state {
	struct text_buffer line;
	kube_watch_event_fn on_event;
	void *ud;
	const atomic_bool *stop;
	int cb_rc;          /* non-zero once the callback asked to stop */
	int parse_errors;
	CURL *h;
	struct text_buffer error_body; /* a non-2xx reply is a Status, not events */
};

static int deliver_line(struct watch_state *w, const char *p, size_t n)
{
	cJSON *ev;
	int rc;

	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 0)
		return 0;
	ev = cJSON_ParseWithLength(p, n);
	if (!ev) {
		w->parse_errors++;
		return 0;
	}
	rc = w->on_event(w->ud, cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type")),
			 cJSON_GetObjectItem(ev, "object"));
	cJSON_Delete(ev);
	return rc;
}

static size_t watch_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct watch_state *w = ud;
	size_t n = size * nmemb, start = 0;
	long status = 0;

	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return text_buffer_append(&w->error_body, p, n) ? 0 : n;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (w->line.len) {
			if (text_buffer_append(&w->line, p + start, i - start))
				return 0;
			w->cb_rc = deliver_line(w, w->line.data, w->line.len);
			w->line.len = 0;
		} else {
			w->cb_rc = deliver_line(w, p + start, i - start);
		}
		start = i + 1;
		if (w->cb_rc)
			return 0;
	}
	if (start < n && text_buffer_append(&w->line, p + start, n - start))
		return 0;
	return n;
}

static int watch_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct watch_state *w = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return w->stop && atomic_load(w->stop) ? 1 : 0;
}

int kube_watch(struct kube_client *c, const char *path, kube_watch_event_fn on_event, void *ud,
	       const atomic_bool *stop, int stall_seconds, struct kube_error *err)
{
	struct watch_state w = { .on_event = on_event, .ud = ud, .stop = stop };
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode crc;
	CURL *h;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	h = curl_easy_init(); /* a watch holds its connection for minutes: not from the pool */
	if (!h)
		return -ENOMEM;
	w.h = h;
	rc = setup_handle(c, h, path, &headers);
	if (rc)
		goto out;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)stall_seconds);
	crc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (w.cb_rc) {
		rc = w.cb_rc;
	} else if (stop && atomic_load(stop)) {
		rc = -ECANCELED;
	} else if (status && (status < 200 || status >= 300)) {
		rc = status_error(status, w.error_body.data, "WATCH", path, err);
	} else if (crc != CURLE_OK) {
		rc = curl_to_errno(crc);
		fill_error(err, status, "ConnectionError", "WATCH", path, curl_easy_strerror(crc));
	} else {
		if (w.line.len)
			rc = deliver_line(&w, w.line.data, w.line.len);
	}
out:
	curl_slist_free_all(headers);
	text_buffer_clear(&w.line);
	text_buffer_clear(&w.error_body);
	curl_easy_cleanup(h);
	return rc;
}
