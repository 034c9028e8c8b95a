/* JSON helpers over cJSON: parsing with the error's byte offset, typed member getters, and
 * http_response bodies built from a cJSON document. */
#include "common/json_util.h"

#include "common/http_server.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_parse(const char *text, size_t len, cJSON **out, char *why, size_t why_len)
{
	const char *end = NULL;
	cJSON *doc;

	if (!text || len == 0) {
		if (why && why_len)
			snprintf(why, why_len, "empty body, JSON expected");
		return -EINVAL;
	}
	doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (doc) {
		/* cJSON stops after the first value; anything but whitespace after it is an error. */
		while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
			end++;
		if (end == text + len) {
			*out = doc;
			return 0;
		}
		cJSON_Delete(doc);
	}
	if (why && why_len) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;

		snprintf(why, why_len, "invalid JSON at byte %zu", at);
	}
	return -EINVAL;
}

char *json_print(const cJSON *doc, size_t *len)
{
	char *text = cJSON_PrintUnformatted(doc);

	if (text && len)
		*len = strlen(text);
	return text;
}

static int member(const cJSON *obj, const char *key, const cJSON **out)
{
	const cJSON *item = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	if (!item || cJSON_IsNull(item))
		return -ENOENT;
	*out = item;
	return 0;
}

int json_get_string(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *item;
	int err = member(obj, key, &item);

	if (err)
		return err;
	if (!cJSON_IsString(item))
		return -EINVAL;
	*out = item->valuestring;
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, long long *out)
{
	const cJSON *item;
	int err = member(obj, key, &item);
	double v;

	if (err)
		return err;
	if (!cJSON_IsNumber(item))
		return -EINVAL;
	v = item->valuedouble;
	if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0)
		return -EINVAL;
	*out = (long long)v;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, bool *out)
{
	const cJSON *item;
	int err = member(obj, key, &item);

	if (err)
		return err;
	if (!cJSON_IsBool(item))
		return -EINVAL;
	*out = cJSON_IsTrue(item);
	return 0;
}

int json_respond(struct http_response *resp, int status, const cJSON *doc)
{
	size_t len;
	char *text = json_print(doc, &len);

	free(resp->body);
	if (!text) {
		*resp = (struct http_response){ .status = 500 };
		return -ENOMEM;
	}
	/* A trailing newline keeps `curl` output and logs tidy. */
	text[len] = '\0';
	*resp = (struct http_response){ .status = status, .content_type = "application/json" };
	resp->body = realloc(text, len + 2);
	if (!resp->body) {
		resp->body = text;
		resp->body_len = len;
		return 0;
	}
	resp->body[len] = '\n';
	resp->body[len + 1] = '\0';
	resp->body_len = len + 1;
	return 0;
}

int json_respond_error(struct http_response *resp, int status, const char *message)
{
	cJSON *doc = cJSON_CreateObject();
	int err;

	if (!doc || !cJSON_AddStringToObject(doc, "error", message ? message : "")) {
		cJSON_Delete(doc);
		free(resp->body);
		*resp = (struct http_response){ .status = status };
		return -ENOMEM;
	}
	err = json_respond(resp, status, doc);
	cJSON_Delete(doc);
	return err;
}
