/* The strict JSON reader and writer on their own: nesting limit, skipping unknown values as
 * strictly as reading them, trailing data, and the writer's exact integers and escapes. */
#include "common/json_reader.h"
#include "common/json_writer.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int skip_all(const char *text, struct json_error *e)
{
	struct json_reader r;
	int err;

	jr_init(&r, text, strlen(text), e);
	err = jr_skip(&r);
	return err ? err : jr_end(&r);
}

START_TEST(skip_checks_as_strictly_as_reading)
{
	struct json_error e;

	ck_assert_int_eq(skip_all(" {\"a\":[1,-2,{\"b\":null,\"c\":true}],\"d\":\"\\u00e9\\n\"} ", &e), 0);
	ck_assert_int_eq(skip_all("{\"a\":[1,2.5]}", &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.a[1]");
	ck_assert_int_eq(skip_all("{\"a\":{\"b\":\"x\\u0000\"}}", &e), -EINVAL);
	ck_assert_str_eq(e.path, "$.a.b");
	ck_assert_int_eq(skip_all("{\"a\":1,}", &e), -EINVAL);
	ck_assert_str_eq(e.path, "$");
	ck_assert_int_eq(skip_all("{\"a\":1} {}", &e), -EINVAL);
	ck_assert_str_eq(e.message, "invalid JSON at byte 8: data after the JSON document");
	ck_assert_int_eq(skip_all("[tru]", &e), -EINVAL);
	ck_assert_int_eq(skip_all("", &e), -EINVAL);
	ck_assert_int_eq(skip_all("\"a\tb\"", &e), -EINVAL);
	ck_assert_int_eq(skip_all("-", &e), -EINVAL);
	ck_assert_int_eq(skip_all("[-0, 0, 9007199254740992, -9007199254740992]", &e), 0);
	ck_assert_int_eq(skip_all("[01]", &e), -EINVAL);
	ck_assert_str_eq(e.message, "leading zeros are not allowed in numbers");
}
END_TEST

START_TEST(nesting_is_bounded)
{
	char deep[200];
	struct json_error e;
	int n = 0;

	for (int i = 0; i < JR_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JR_MAX_DEPTH; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	ck_assert_int_eq(skip_all(deep, &e), 0);
	memmove(deep + 1, deep, (size_t)n + 1);
	deep[0] = '[';
	deep[n + 1] = ']';
	deep[n + 2] = '\0';
	ck_assert_int_eq(skip_all(deep, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "nested deeper than 32"));
}
END_TEST

START_TEST(writer_prints_exact_integers_and_escapes)
{
	struct json_writer w;
	char *text;
	size_t len;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key_int(&w, "big", 9007199254740993LL);
	jw_key_string(&w, "s", "a\"b\\c\n\x01\xc3\xa9");
	jw_key(&w, "list");
	jw_array_begin(&w);
	jw_bool(&w, true);
	jw_null(&w);
	jw_int(&w, -1);
	jw_array_end(&w);
	jw_object_end(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), 0);
	ck_assert_str_eq(text, "{\"big\":9007199254740993,\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",\"list\":[true,null,-1]}");
	free(text);

	jw_init(&w);
	jw_array_begin(&w);
	jw_string(&w, "bad \xff utf-8");
	jw_array_end(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), -EINVAL);
	ck_assert_ptr_null(text);

	jw_init(&w);
	jw_object_begin(&w);
	ck_assert_int_eq(jw_finish(&w, &text, &len), -EINVAL); /* unbalanced */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json reader");
	TCase *tc = tcase_create("reader");

	tcase_add_test(tc, skip_checks_as_strictly_as_reading);
	tcase_add_test(tc, nesting_is_bounded);
	tcase_add_test(tc, writer_prints_exact_integers_and_escapes);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
