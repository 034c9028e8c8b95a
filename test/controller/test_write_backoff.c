/* Per-object write backoff: the same content waits longer after each failure (capped), events that
 * change nothing do not shorten the wait, new content or a success starts afresh. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "controller/write_backoff.h"
#include "test/common/tap_main.h"

static int check(struct write_backoff *b, const char *obj, uint64_t fp, uint64_t now)
{
	char msg[64];
	int kind = -1;

	return write_backoff_check(b, obj, fp, now, &kind, msg, sizeof(msg));
}

START_TEST(same_content_waits_longer_after_each_failure)
{
	struct write_backoff *b = write_backoff_new(1000, 8000);
	uint64_t t = 0, waits[6];

	ck_assert_int_eq(check(b, "ns/cm", 7, t), 0);
	for (int i = 0; i < 6; i++) {
		uint64_t w;

		ck_assert_int_eq(write_backoff_failed(b, "ns/cm", 7, t, 1, "refused"), 0);
		/* many checks while waiting (unrelated events) neither pass nor reset the wait */
		for (w = t; check(b, "ns/cm", 7, w) == -EAGAIN; w += 50)
			;
		waits[i] = w - t;
		t = w;
	}
	ck_assert_uint_ge(waits[0], 1000);
	ck_assert_uint_le(waits[0], 1150);
	ck_assert_uint_ge(waits[1], 2000);
	ck_assert_uint_ge(waits[2], 4000);
	ck_assert_uint_ge(waits[3], 8000);
	ck_assert_uint_le(waits[5], 8000 * 1.1 + 50);   /* capped (+10% jitter) */
	write_backoff_free(b);
}
END_TEST

START_TEST(waiting_check_returns_the_last_kind_and_message)
{
	struct write_backoff *b = write_backoff_new(1000, 8000);
	char msg[64] = "";
	int kind = 0;

	write_backoff_failed(b, "ns/cm", 7, 0, 3, "ConfigMap ns/cm exists and was not made by pcmc");
	ck_assert_int_eq(write_backoff_check(b, "ns/cm", 7, 10, &kind, msg, sizeof(msg)), -EAGAIN);
	ck_assert_int_eq(kind, 3);
	ck_assert_str_eq(msg, "ConfigMap ns/cm exists and was not made by pcmc");
	write_backoff_free(b);
}
END_TEST

START_TEST(new_content_or_another_object_goes_at_once)
{
	struct write_backoff *b = write_backoff_new(1000, 8000);

	write_backoff_failed(b, "ns/cm", 7, 0, 1, "refused");
	ck_assert_int_eq(check(b, "ns/cm", 7, 10), -EAGAIN);
	ck_assert_int_eq(check(b, "ns/cm", 8, 10), 0);     /* the CR or pod changed */
	ck_assert_int_eq(check(b, "ns/other", 7, 10), 0);
	/* a failure of new content starts from the base wait again */
	write_backoff_failed(b, "ns/cm", 7, 0, 1, "refused");
	write_backoff_failed(b, "ns/cm", 7, 1200, 1, "refused");
	write_backoff_failed(b, "ns/cm", 8, 1300, 1, "refused");
	ck_assert_int_eq(check(b, "ns/cm", 8, 2400), 0);
	write_backoff_free(b);
}
END_TEST

START_TEST(success_forgets_the_object)
{
	struct write_backoff *b = write_backoff_new(1000, 8000);

	write_backoff_failed(b, "ns/cm", 7, 0, 1, "refused");
	write_backoff_failed(b, "ns/cm", 7, 1100, 1, "refused");
	ck_assert_uint_eq(write_backoff_count(b), 1);
	write_backoff_succeeded(b, "ns/cm");
	ck_assert_uint_eq(write_backoff_count(b), 0);
	ck_assert_int_eq(check(b, "ns/cm", 7, 1200), 0);
	write_backoff_free(b);
}
END_TEST

START_TEST(objects_nobody_writes_any_more_are_forgotten)
{
	struct write_backoff *b = write_backoff_new(1000, 8000);

	write_backoff_failed(b, "ns/gone", 7, 0, 1, "refused");
	write_backoff_failed(b, "ns/cm", 7, 100000, 1, "refused");
	ck_assert_uint_eq(write_backoff_count(b), 1);
	write_backoff_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("write_backoff");
	TCase *tc = tcase_create("write_backoff");

	tcase_add_test(tc, same_content_waits_longer_after_each_failure);
	tcase_add_test(tc, waiting_check_returns_the_last_kind_and_message);
	tcase_add_test(tc, new_content_or_another_object_goes_at_once);
	tcase_add_test(tc, success_forgets_the_object);
	tcase_add_test(tc, objects_nobody_writes_any_more_are_forgotten);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
