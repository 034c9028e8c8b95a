/* What every pcmc benchmark needs around its measurement: a private pin root removed at exit
 * (and leftovers of killed runs removed first), exit on signals so cleanups run, BENCH lines. */
#ifndef PCMC_TEST_BENCH_BENCH_ENV_H
#define PCMC_TEST_BENCH_BENCH_ENV_H

#include "agent/dataplane/dataplane.h"
#include "test/pod/testpod.h"

/* /sys/fs/bpf/pcmc-bench-<pid>: created on first use, removed (unpinned, so detached once this
 * process's fds close) at exit; directories of dead earlier runs are removed first. */
const char *bench_pin_root(void);
/* dataplane_open on bench_pin_root(). 0 or -errno (logged by the caller). */
int bench_dataplane_open(struct dataplane **out);
/* testpod_create with a fresh random UID (spec->uid is set to it; spec->name's leftovers of a
 * killed run are purged first). 0 or -errno. */
int bench_pod_create(struct testpod_spec *spec, struct testpod **out);
/* SIGINT/SIGTERM/SIGHUP end the process through exit(), so atexit cleanups run (pods, pins). */
void bench_exit_on_signals(void);
/* Prints "BENCH <name> <value> <unit>" and flushes. */
void bench_print(const char *name, double value, const char *unit);
/* Positive integer from the environment, or def. */
long bench_env_long(const char *name, long def);
/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

#endif
