/* Benchmark process environment: pin root lifecycle, signal exits, output. Pods are cleaned up
 * by the test pod library's own exit handler and janitor. */
#include "test/bench/bench_env.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PIN_PARENT "/sys/fs/bpf"
#define PIN_PREFIX "pcmc-bench-"

static char pin_root[64];

static void remove_pin_root(void)
{
	char cmd[128];

	if (!pin_root[0] || getpid() != (pid_t)strtol(pin_root + strlen(PIN_PARENT "/" PIN_PREFIX), NULL, 10))
		return; /* a forked child (testpod_spawn) exiting must not take the parent's pins */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pin_root);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", pin_root);
}

const char *bench_pin_root(void)
{
	if (!pin_root[0]) {
		/* A SIGKILLed run left its pins (and so its attached programs): its pid is gone. */
		if (system("for d in " PIN_PARENT "/" PIN_PREFIX "*; do [ -d \"$d\" ] &&"
			   " ! kill -0 \"${d##*-}\" 2>/dev/null && rm -rf \"$d\"; done; true") != 0)
			fprintf(stderr, "bench: could not check old pin dirs\n");
		snprintf(pin_root, sizeof(pin_root), PIN_PARENT "/" PIN_PREFIX "%d", (int)getpid());
		atexit(remove_pin_root);
	}
	return pin_root;
}

int bench_dataplane_open(struct dataplane **out)
{
	struct dataplane_opts opts = { .pin_root = bench_pin_root(), .cni_cache_dir = TESTPOD_DEFAULT_CNI_DIR };

	return dataplane_open(&opts, out);
}

static void exit_on_signal(int sig)
{
	exit(128 + sig);
}

void bench_exit_on_signals(void)
{
	struct sigaction sa = { .sa_handler = exit_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void bench_print(const char *name, double value, const char *unit)
{
	if (strcmp(unit, "x") == 0)
		printf("BENCH %s %.2f %s\n", name, value, unit);
	else if (strcmp(unit, "ns") == 0 || strcmp(unit, "Gbit/s") == 0)
		printf("BENCH %s %.1f %s\n", name, value, unit);
	else
		printf("BENCH %s %.0f %s\n", name, value, unit);
	fflush(stdout);
}

long bench_env_long(const char *name, long def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	return (*end || v <= 0) ? def : v;
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_pod_create(struct testpod_spec *spec, struct testpod **out)
{
	static char uid[40];
	FILE *f = fopen("/proc/sys/kernel/random/uuid", "re");

	if (!f)
		return -errno;
	if (!fgets(uid, 37, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	uid[36] = '\0';
	spec->uid = uid;
	testpod_purge(NULL, spec->name, NULL); /* left by a killed run */
	return testpod_create(spec, out);
}
