/* process_* metrics from /proc/self (as client_golang's process collector reads them) and the
 * build_info gauge. The /proc reads are a few microseconds, cheap enough for the scraping thread. */
#include "common/metrics_standard.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/build_info.h"
#include "common/metrics.h"

enum process_metric { CPU, RESIDENT, VIRTUAL, START_TIME, OPEN_FDS, MAX_FDS, N_PROCESS_METRICS };

static const struct {
	const char *name, *help;
	bool counter;
} process_metrics[N_PROCESS_METRICS] = {
	[CPU] = { "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", true },
	[RESIDENT] = { "process_resident_memory_bytes", "Resident memory size in bytes." },
	[VIRTUAL] = { "process_virtual_memory_bytes", "Virtual memory size in bytes." },
	[START_TIME] = { "process_start_time_seconds", "Start time of the process since unix epoch in seconds." },
	[OPEN_FDS] = { "process_open_fds", "Number of open file descriptors." },
	[MAX_FDS] = { "process_max_fds", "Maximum number of open file descriptors." },
};

struct process_collector {
	struct metrics_child *child[N_PROCESS_METRICS];
	double boot_time; /* seconds since the epoch, from /proc/stat btime */
};

static double read_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double btime = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	if (f)
		fclose(f);
	return btime;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* /proc/self/stat fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22,
 * vsize 23, rss 24 (proc(5)). comm may hold spaces and parentheses, so parse after the last ')'. */
static void collect_process(void *ctx)
{
	struct process_collector *pc = ctx;
	unsigned long long utime, stime, start, vsize;
	long long rss;
	char buf[1024], *p;
	struct rlimit rl;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	double ticks = (double)sysconf(_SC_CLK_TCK);
	int fds;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
			       "%llu %llu %lld", &utime, &stime, &start, &vsize, &rss) == 5) {
		metrics_counter_set(pc->child[CPU], (double)(utime + stime) / ticks);
		metrics_gauge_set(pc->child[RESIDENT], (double)rss * (double)sysconf(_SC_PAGESIZE));
		metrics_gauge_set(pc->child[VIRTUAL], (double)vsize);
		metrics_gauge_set(pc->child[START_TIME], pc->boot_time + (double)start / ticks);
	}
	fds = count_open_fds();
	if (fds >= 0)
		metrics_gauge_set(pc->child[OPEN_FDS], fds);
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		metrics_gauge_set(pc->child[MAX_FDS], rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

static int register_process(struct metrics_registry *r)
{
	struct process_collector *pc = calloc(1, sizeof(*pc));
	int err = pc ? 0 : -ENOMEM;

	for (int i = 0; !err && i < N_PROCESS_METRICS; i++) {
		struct metrics_family *f;

		err = process_metrics[i].counter ?
			      metrics_counter_new(r, process_metrics[i].name, process_metrics[i].help, NULL, 0, &f) :
			      metrics_gauge_new(r, process_metrics[i].name, process_metrics[i].help, NULL, 0, &f);
		err = err ?: metrics_child_get(f, NULL, &pc->child[i]);
	}
	if (err) {
		free(pc);
		return err;
	}
	pc->boot_time = read_boot_time();
	collect_process(pc); /* values from the first scrape on, never a zero start time */
	err = metrics_registry_add_collector(r, collect_process, pc, free);
	if (err)
		free(pc);
	return err;
}

static int register_build_info(struct metrics_registry *r, const char *program)
{
	static const char *const labels[] = { "version", "revision", "compiler", "arch" };
	const struct build_info *b = build_info();
	struct metrics_family *f;
	struct metrics_child *c;
	char name[128], help[160];
	int err;

	if (snprintf(name, sizeof(name), "%s_build_info", program) >= (int)sizeof(name))
		return -EINVAL;
	snprintf(help, sizeof(help), "Always 1; labels say which build of %s this is.", program);
	err = metrics_gauge_new(r, name, help, labels, 4, &f);
	err = err ?: metrics_child_get(f, METRICS_LABELS(b->version, b->revision, b->compiler, b->arch), &c);
	if (!err)
		metrics_gauge_set(c, 1);
	return err;
}

int metrics_standard_register(struct metrics_registry *r, const char *program)
{
	return register_process(r) ?: register_build_info(r, program);
}
