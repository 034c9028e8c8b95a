/* A real Prometheus scrapes /metrics from our HTTP server and its query API returns our values:
 * counters with escaped label values, a histogram, and up == 1 (the exposition parsed cleanly). */
#include "common/http_server.h"
#include "common/metrics.h"
#include "test/common/tap_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRAPE_SCRIPT "test/common/prometheus-scrape.sh"

/* Runs the scrape helper with argv (NULL-terminated, after the script name); returns its exit status. */
static int run_scrape_helper(char *const *args)
{
	char *argv[32] = { "bash", SCRAPE_SCRIPT };
	size_t n = 2;
	int status;
	pid_t pid;

	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execvp("bash", argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(prometheus_scrapes_our_metrics_endpoint)
{
	const double bounds[] = { 0.005, 0.1, 1 };
	struct http_server_opts opts = { .bind_address = "127.0.0.1" };
	struct metrics_registry *registry;
	struct metrics_family *packets, *apply;
	struct metrics_child *c;
	struct http_server *server;
	char target[32];

	ck_assert_msg(access(SCRAPE_SCRIPT, R_OK) == 0, "run from the repository root: %s missing", SCRAPE_SCRIPT);
	ck_assert_int_eq(metrics_registry_new(&registry), 0);
	ck_assert_int_eq(metrics_counter_new(registry, "pcmc_scrape_test_packets_total", "Packets seen by the scrape test.",
					     METRICS_LABELS("pod", "direction"), 2, &packets), 0);
	ck_assert_int_eq(metrics_histogram_new(registry, "pcmc_scrape_test_seconds", "Apply latency in the scrape test.",
					       NULL, 0, bounds, 3, &apply), 0);
	ck_assert_int_eq(metrics_child_get(packets, METRICS_LABELS("default/web-0", "ingress"), &c), 0);
	metrics_counter_set(c, 12345);
	ck_assert_int_eq(metrics_child_get(packets, METRICS_LABELS("we\"ird\\name\nx", "egress"), &c), 0);
	metrics_counter_add(c, 7);
	ck_assert_int_eq(metrics_child_get(apply, NULL, &c), 0);
	metrics_histogram_observe(c, 0.005);
	metrics_histogram_observe(c, 0.05);
	metrics_histogram_observe(c, 7);

	ck_assert_int_eq(http_server_new(&opts, &server), 0);
	ck_assert_int_eq(http_server_route(server, "GET", "/metrics", metrics_http_handler, registry), 0);
	ck_assert_int_eq(http_server_start_thread(server), 0);
	snprintf(target, sizeof(target), "127.0.0.1:%d", http_server_port(server));

	char *args[] = {
		target,
		"up{job=\"pcmc-test\"}", "1",
		"pcmc_scrape_test_packets_total{pod=\"default/web-0\",direction=\"ingress\"}", "12345",
		"pcmc_scrape_test_packets_total{pod=\"we\\\"ird\\\\name\\nx\",direction=\"egress\"}", "7",
		"pcmc_scrape_test_seconds_bucket{le=\"0.1\"}", "2",
		"pcmc_scrape_test_seconds_bucket{le=\"+Inf\"}", "3",
		"pcmc_scrape_test_seconds_sum", "7.055",
		NULL,
	};
	ck_assert_int_eq(run_scrape_helper(args), 0);

	http_server_free(server);
	metrics_registry_free(registry);
}
END_TEST

static Suite *prometheus_suite(void)
{
	Suite *s = suite_create("prometheus");
	TCase *tc = tcase_create("real prometheus");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, prometheus_scrapes_our_metrics_endpoint);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite_with_tap(prometheus_suite());
}
