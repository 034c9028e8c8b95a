/* The agent's /metrics load measured: 250 pods x 10 series refreshed by snapshot, rendered and
 * served over HTTP; memory as RSS growth. Prints BENCH lines (plain numbers need `make SANITIZE=`). */
#include "common/http_server.h"
#include "common/metrics.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
	size_t *total = userdata;

	(void)data;
	*total += size * n;
	return size * n;
}

static int refresh(struct metrics_family *f, int round)
{
	static const char *const series[] = { "ingress_allowed", "ingress_dropped", "egress_allowed", "egress_dropped",
					      "ingress_bytes", "egress_bytes", "tcp_resets", "icmp_unreach",
					      "policy_misses", "conntrack_hits" };
	struct metrics_snapshot *s;
	char pod[64];

	if (metrics_snapshot_new(f, &s))
		return -1;
	for (int p = 0; p < 250; p++) {
		snprintf(pod, sizeof(pod), "workload-%03d-7d9f8c6b5d-x%04d", p, p * 7);
		for (int k = 0; k < 10; k++)
			if (metrics_snapshot_set(s, METRICS_LABELS("team-a", pod, series[k]),
						 (double)round * 1e6 + p * 10 + k)) {
				metrics_snapshot_free(s);
				return -1;
			}
	}
	return metrics_family_replace(f, s);
}

int main(void)
{
	struct http_server_opts opts = { .bind_address = "127.0.0.1", .max_body = 4u << 20 };
	struct metrics_registry *registry;
	struct metrics_family *packets;
	struct http_server *server;
	double best_render = 1e9, best_scrape = 1e9, best_refresh = 1e9;
	long rss_start, rss_server, rss_series;
	size_t len = 0, scraped = 0;
	char url[64];
	CURL *curl;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rss_start = rss_kib();
	if (http_server_new(&opts, &server) || metrics_registry_new(&registry))
		return 1;
	rss_server = rss_kib();
	if (metrics_counter_new(registry, "pcmc_pod_packets_total", "Packets per pod and series.",
				METRICS_LABELS("namespace", "pod", "series"), 3, &packets))
		return 1;
	for (int round = 0; round < 10; round++) {
		double t0 = now_ms();

		if (refresh(packets, round))
			return 1;
		if (now_ms() - t0 < best_refresh)
			best_refresh = now_ms() - t0;
	}
	rss_series = rss_kib();
	for (int i = 0; i < 20; i++) {
		double t0 = now_ms();
		char *text;

		if (metrics_render(registry, &text, &len))
			return 1;
		if (now_ms() - t0 < best_render)
			best_render = now_ms() - t0;
		free(text);
	}

	if (http_server_route(server, "GET", "/metrics", metrics_http_handler, registry) ||
	    http_server_start_thread(server))
		return 1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", http_server_port(server));
	curl = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &scraped);
	for (int i = 0; i < 20; i++) {
		double t0 = now_ms();

		if (curl_easy_perform(curl) != CURLE_OK)
			return 1;
		if (now_ms() - t0 < best_scrape)
			best_scrape = now_ms() - t0;
	}
	printf("BENCH metrics_render_2500_series %.3f ms\n", best_render);
	printf("BENCH metrics_scrape_2500_series_http %.3f ms\n", best_scrape);
	printf("BENCH metrics_snapshot_refresh_2500_series %.3f ms\n", best_refresh);
	printf("BENCH metrics_exposition_size_2500_series %zu bytes\n", len);
	printf("BENCH http_server_rss_growth %ld KiB\n", rss_server - rss_start);
	printf("BENCH metrics_2500_series_rss_growth %ld KiB\n", rss_series - rss_server);
	curl_easy_cleanup(curl);
	http_server_free(server);
	metrics_registry_free(registry);
	curl_global_cleanup();
	return scraped == 20 * len ? 0 : 1;
}
