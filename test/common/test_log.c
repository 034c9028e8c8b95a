/* common/log as `kubectl logs | jq` reads it: every line one whole JSON object (also when long,
 * with bytes that are not UTF-8, NaN, or written by many threads at once) and the schema's shapes
 * (pod as namespace + name, signal by name, errno beside its text). */
#include "common/log.h"
#include "test/common/tap_main.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int capture_fd = -1, saved_stderr = -1;

/* Everything log_* writes from now until captured_text() goes to a temporary file. */
static void capture_start(void)
{
	char path[] = "/tmp/pcmc-log-test-XXXXXX";

	capture_fd = mkstemp(path);
	ck_assert_int_ge(capture_fd, 0);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	dup2(capture_fd, STDERR_FILENO);
}

/* Stops capturing; returns what was written (caller frees). */
static char *captured_text(void)
{
	off_t len;
	char *text;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	len = lseek(capture_fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(pread(capture_fd, text, (size_t)len, 0), len);
	close(capture_fd);
	return text;
}

/* The one line in text, parsed; fails unless it is a JSON object ending in a newline. */
static cJSON *only_line(const char *text)
{
	const char *nl = strchr(text, '\n');
	cJSON *obj;

	ck_assert_msg(nl && nl[1] == '\0', "want one line, got: %s", text);
	obj = cJSON_ParseWithLength(text, (size_t)(nl - text));
	ck_assert_msg(cJSON_IsObject(obj), "not a JSON object: %s", text);
	return obj;
}

static const char *str(cJSON *obj, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	ck_assert_msg(cJSON_IsString(v), "%s is not a string", key);
	return v->valuestring;
}

START_TEST(schema_helpers_name_things_one_way)
{
	cJSON *o;
	char *text;

	log_set_component("agent");
	capture_start();
	log_warn("pod removed", LOG_POD("shop", "db-1"), LOG_PCMC("shop", "web"), LOG_SIGNAL(SIGTERM), LOG_ERRNO(-ENOENT),
		 LOG_DURATION_MS(2.5));
	text = captured_text();
	o = only_line(text);
	ck_assert_str_eq(str(o, "level"), "warn");
	ck_assert_str_eq(str(o, "component"), "agent");
	ck_assert_str_eq(str(o, "msg"), "pod removed");
	ck_assert_str_eq(str(o, "namespace"), "shop");
	ck_assert_str_eq(str(o, "pod"), "db-1");
	ck_assert_str_eq(str(o, "pcmc"), "web");
	ck_assert_str_eq(str(o, "signal"), "SIGTERM");
	ck_assert_int_eq(cJSON_GetObjectItem(o, "errno")->valueint, ENOENT);
	ck_assert_str_eq(str(o, "error"), strerror(ENOENT));
	ck_assert_double_eq(cJSON_GetObjectItem(o, "duration_ms")->valuedouble, 2.5);
	ck_assert_ptr_nonnull(strstr(text, "\"ts\":\""));
	ck_assert_ptr_eq(strstr(text, "{\"ts\":"), text); /* the fixed fields first, in order */
	cJSON_Delete(o);
	free(text);
	ck_assert_str_eq(log_signal_name(SIGKILL), "SIGKILL");
	ck_assert_str_eq(log_signal_name(SIGINT), "SIGINT");
	ck_assert_str_eq(log_signal_name(-1), "SIG?");
}
END_TEST

START_TEST(long_lines_stay_whole)
{
	size_t n = 20000;
	char *big = malloc(n + 1), *text;
	cJSON *o;

	memset(big, 'x', n);
	big[n] = '\0';
	big[100] = '"';
	capture_start();
	log_error("policy push failed", LOG_ERROR_TEXT(big), LOG_STR("node", "node-a"));
	text = captured_text();
	o = only_line(text);
	ck_assert_uint_eq(strlen(str(o, "error")), n);
	ck_assert_str_eq(str(o, "node"), "node-a");
	cJSON_Delete(o);
	free(text);
	free(big);
}
END_TEST

START_TEST(bytes_that_are_not_utf8_and_control_characters_still_parse)
{
	char *text;
	cJSON *o;

	capture_start();
	log_info("listed", LOG_STR("path", "a\xff" "b\xc3\xa9" "c\xed\xa0\x80" "d\n\t\x7f"), LOG_DOUBLE("duration_ms", NAN),
		 LOG_STR("error", NULL));
	text = captured_text();
	o = only_line(text);
	ck_assert_str_eq(str(o, "path"), "a\xef\xbf\xbd" "b\xc3\xa9" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "d\n\t\x7f");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "duration_ms")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "error")));
	cJSON_Delete(o);
	free(text);
}
END_TEST

static void *log_many(void *arg)
{
	for (int i = 0; i < 500; i++)
		log_info("policy pushed", LOG_STR("node", (const char *)arg), LOG_INT("revision", i));
	return NULL;
}

START_TEST(lines_from_many_threads_never_interleave)
{
	static const char *const nodes[] = { "node-a", "node-b", "node-c", "node-d" };
	pthread_t t[4];
	char *text, *line, *save = NULL;
	int lines = 0;

	capture_start();
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, log_many, (void *)nodes[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	text = captured_text();
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);

		ck_assert_msg(cJSON_IsObject(o), "line %d is not a JSON object: %s", lines + 1, line);
		cJSON_Delete(o);
		lines++;
	}
	ck_assert_int_eq(lines, 2000);
	free(text);
}
END_TEST

START_TEST(level_filter_drops_lower_levels)
{
	enum log_level level;
	char *text;

	ck_assert_int_eq(log_level_parse("WARN", &level), 0);
	ck_assert_int_eq(level, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("verbose", &level), -EINVAL);
	log_set_level(LOG_LEVEL_WARN);
	capture_start();
	log_info("ready", LOG_INT("pods", 1));
	log_debug("http request served");
	log_warn("list failed", LOG_STR("resource", "pods"));
	text = captured_text();
	log_set_level(LOG_LEVEL_INFO);
	ck_assert_ptr_null(strstr(text, "\"ready\""));
	ck_assert_ptr_nonnull(strstr(text, "\"list failed\""));
	cJSON_Delete(only_line(text));
	free(text);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, schema_helpers_name_things_one_way);
	tcase_add_test(tc, long_lines_stay_whole);
	tcase_add_test(tc, bytes_that_are_not_utf8_and_control_characters_still_parse);
	tcase_add_test(tc, lines_from_many_threads_never_interleave);
	tcase_add_test(tc, level_filter_drops_lower_levels);
	suite_add_tcase(suite, tc);
	return run_suite_with_tap(suite);
}
