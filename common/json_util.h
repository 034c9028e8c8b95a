/* JSON helpers over cJSON for the agent's policy API and the controller: a request body parsed
 * with a useful error, typed member access, and JSON HTTP responses. */
#ifndef PCMC_COMMON_JSON_UTIL_H
#define PCMC_COMMON_JSON_UTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct http_response;

/* Parses exactly len bytes (text need not be NUL-terminated; trailing non-space is an error).
 * 0 or -EINVAL (with "invalid JSON at byte N", N 0-based, in why if given; cJSON cannot tell
 * running out of memory from bad input).
 * The caller frees *out with cJSON_Delete. */
int json_parse(const char *text, size_t len, cJSON **out, char *why, size_t why_len);
/* Compact text of doc, malloc'ed and NUL-terminated; *len (if given) excludes the NUL. NULL: no memory. */
char *json_print(const cJSON *doc, size_t *len);

/* Typed members of an object: 0, -ENOENT (absent or null) or -EINVAL (another type, or for
 * integers a fraction or a magnitude above 2^53). Strings point into obj. */
int json_get_string(const cJSON *obj, const char *key, const char **out);
int json_get_int(const cJSON *obj, const char *key, long long *out);
int json_get_bool(const cJSON *obj, const char *key, bool *out);

/* Fill an http_response with doc as application/json. 0 or -ENOMEM (then status 500, no body). */
int json_respond(struct http_response *resp, int status, const cJSON *doc);
/* {"error":"<message>"} with message escaped, like the server's own 404/405/413 bodies. */
int json_respond_error(struct http_response *resp, int status, const char *message);

#endif
