/* process_* and *_build_info as a Prometheus user reads them: values that follow what the process
 * does (descriptors it opens, CPU it burns), a start time from this boot, promtool's approval. */
#include "common/build_info.h"
#include "common/metrics.h"
#include "common/metrics_standard.h"
#include "test/common/promtool_check.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct metrics_registry *registry;

static void setup(void)
{
	ck_assert_int_eq(metrics_registry_new(&registry), 0);
	ck_assert_int_eq(metrics_standard_register(registry, "pcmc_test"), 0);
}

static void teardown(void)
{
	metrics_registry_free(registry);
}

/* The value of the unlabelled series `name` in a fresh render. */
static double scrape(const char *name)
{
	char *text, *line, key[128];
	size_t len;
	double v;

	ck_assert_int_eq(metrics_render(registry, &text, &len), 0);
	snprintf(key, sizeof(key), "\n%s ", name);
	line = strstr(text, key);
	ck_assert_msg(line, "%s not exported", name);
	v = strtod(line + strlen(key), NULL);
	free(text);
	return v;
}

START_TEST(open_fds_follow_the_descriptors_the_process_opens)
{
	double before = scrape("process_open_fds"), after;
	int fds[10];

	for (int i = 0; i < 10; i++)
		ck_assert_int_ge(fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	after = scrape("process_open_fds");
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	ck_assert_double_eq(after - before, 10);
	ck_assert_double_eq(scrape("process_open_fds"), before);
}
END_TEST

START_TEST(max_fds_is_the_soft_limit)
{
	struct rlimit rl = { .rlim_cur = 777 };

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &(struct rlimit){ 0 }), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 777;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_double_eq(scrape("process_max_fds"), 777);
}
END_TEST

START_TEST(cpu_seconds_grow_with_work_done)
{
	double before = scrape("process_cpu_seconds_total");
	struct timespec t0, t;
	volatile unsigned long spin = 0;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			spin++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < 0.3);
	/* /proc counts in clock ticks (10 ms): 0.3 s of work shows as at least 0.2 s. */
	ck_assert_double_ge(scrape("process_cpu_seconds_total") - before, 0.2);
}
END_TEST

START_TEST(memory_and_start_time_describe_this_process)
{
	double start = scrape("process_start_time_seconds"), now = (double)time(NULL);
	double rss = scrape("process_resident_memory_bytes"), vsz = scrape("process_virtual_memory_bytes");
	volatile char *block = malloc(64 << 20);

	/* Check forks each test: this process started moments ago. */
	ck_assert_double_le(start, now + 1);
	ck_assert_double_ge(start, now - 60);
	ck_assert_double_gt(rss, 0);
	ck_assert_double_ge(vsz, rss);
	for (size_t i = 0; i < 64 << 20; i += 4096)
		block[i] = 1; /* every page touched: resident now */
	ck_assert_double_ge(scrape("process_resident_memory_bytes") - rss, 60 << 20);
	free((void *)block);
}
END_TEST

START_TEST(build_info_carries_the_version_and_revision)
{
	const struct build_info *b = build_info();
	char *text, expected[512];
	size_t len;

	snprintf(expected, sizeof(expected),
		 "# TYPE pcmc_test_build_info gauge\n"
		 "pcmc_test_build_info{version=\"%s\",revision=\"%s\",compiler=\"%s\",arch=\"%s\"} 1\n",
		 b->version, b->revision, b->compiler, b->arch);
	ck_assert_int_eq(metrics_render(registry, &text, &len), 0);
	ck_assert_msg(strstr(text, expected), "want:\n%s\ngot:\n%s", expected, text);
	free(text);
	ck_assert_int_eq(metrics_standard_register(registry, "pcmc_test"), -EEXIST);
}
END_TEST

START_TEST(promtool_accepts_the_standard_metrics)
{
	char *text, report[2048];
	size_t len;

	ck_assert_int_eq(metrics_render(registry, &text, &len), 0);
	ck_assert_msg(promtool_check(text, report, sizeof(report)) == 0, "promtool: %s", report);
	free(text);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("metrics_standard");
	TCase *tc = tcase_create("metrics_standard");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_fds_follow_the_descriptors_the_process_opens);
	tcase_add_test(tc, max_fds_is_the_soft_limit);
	tcase_add_test(tc, cpu_seconds_grow_with_work_done);
	tcase_add_test(tc, memory_and_start_time_describe_this_process);
	tcase_add_test(tc, build_info_carries_the_version_and_revision);
	tcase_add_test(tc, promtool_accepts_the_standard_metrics);
	suite_add_tcase(suite, tc);
	return run_suite_with_tap(suite);
}
