/* kubectl pcmc top reads the agents' /metrics: the text the registry really renders (labels with
 * quotes, backslashes and newlines; histograms) parses back to the same values; broken lines are
 * named by number. */
#include "common/metrics.h"
#include "kubectl-pcmc/prom_text.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	double syscalls_web, blocked_odd;
	int samples;
};

static int note(void *ud, const struct prom_sample *s)
{
	struct seen *seen = ud;
	const char *pod = prom_label(s, "pod_name");

	seen->samples++;
	if (!strcmp(s->name, "podconfigmap_controller_ebpf_syscall_count_total") && pod && !strcmp(pod, "web-1"))
		seen->syscalls_web += s->value;
	if (!strcmp(s->name, "podconfigmap_controller_ebpf_l4_firewall_total") && pod &&
	    !strcmp(pod, "we\"ird\\pod\nname") && !strcmp(prom_label(s, "stat_type"), "blocked"))
		seen->blocked_odd = s->value;
	return 0;
}

START_TEST(what_the_registry_renders_parses_back)
{
	const double bounds[] = { 0.1, 1 };
	struct metrics_registry *r;
	struct metrics_family *sys, *fw, *h;
	struct metrics_child *c;
	struct seen seen = { 0 };
	char *text;
	size_t len;
	int bad = 0;

	ck_assert_int_eq(metrics_registry_new(&r), 0);
	ck_assert_int_eq(metrics_counter_new(r, "podconfigmap_controller_ebpf_syscall_count_total", "h",
					     METRICS_LABELS("namespace", "pod_name", "syscall"), 3, &sys), 0);
	ck_assert_int_eq(metrics_counter_new(r, "podconfigmap_controller_ebpf_l4_firewall_total", "h",
					     METRICS_LABELS("namespace", "pod_name", "stat_type"), 3, &fw), 0);
	ck_assert_int_eq(metrics_histogram_new(r, "pcmc_agent_apply_duration_seconds", "h", NULL, 0, bounds, 2, &h), 0);
	ck_assert_int_eq(metrics_child_get(sys, METRICS_LABELS("shop", "web-1", "read"), &c), 0);
	metrics_counter_set(c, 1234567);
	ck_assert_int_eq(metrics_child_get(sys, METRICS_LABELS("shop", "web-1", "write"), &c), 0);
	metrics_counter_set(c, 0.5);
	ck_assert_int_eq(metrics_child_get(fw, METRICS_LABELS("shop", "we\"ird\\pod\nname", "blocked"), &c), 0);
	metrics_counter_set(c, 7);
	ck_assert_int_eq(metrics_child_get(h, NULL, &c), 0);
	metrics_histogram_observe(c, 0.05);
	ck_assert_int_eq(metrics_render(r, &text, &len), 0);
	ck_assert_int_eq(prom_text_each(text, note, &seen, &bad), 0);
	ck_assert_double_eq(seen.syscalls_web, 1234567.5);
	ck_assert_double_eq(seen.blocked_odd, 7);
	ck_assert_int_eq(seen.samples, 3 + 5); /* histogram: 3 buckets, _sum, _count */
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(special_values_and_timestamps)
{
	struct seen seen = { 0 };
	int bad = 0;

	ck_assert_int_eq(prom_text_each("a_total +Inf\nb NaN 1700000000000\n\n# HELP x y\nc{l=\"v\"} -2.5e3\n", note, &seen, &bad), 0);
	ck_assert_int_eq(seen.samples, 3);
}
END_TEST

START_TEST(broken_lines_are_named)
{
	struct seen seen = { 0 };
	const char *bad_texts[] = { "ok 1\nbroken{ 1\n", "ok 1\nx{l=\"unterminated} 1\n", "ok 1\nx{l=\"v\"}1\n",
				    "ok 1\nx 1 junk\n", "ok 1\n9starts_with_digit 1\n", "ok 1\nx{l=\"bad \\q\"} 1\n" };

	for (size_t i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
		int bad = 0;

		ck_assert_int_eq(prom_text_each(bad_texts[i], note, &seen, &bad), -EINVAL);
		ck_assert_int_eq(bad, 2);
	}
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("prom_text");
	TCase *tc = tcase_create("prom_text");

	tcase_add_test(tc, what_the_registry_renders_parses_back);
	tcase_add_test(tc, special_values_and_timestamps);
	tcase_add_test(tc, broken_lines_are_named);
	suite_add_tcase(suite, tc);
	return run_suite_with_tap(suite);
}
