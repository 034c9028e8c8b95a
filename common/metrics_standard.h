/* The metrics every Prometheus exporter has: the process_* family of the official client libraries
 * (read from /proc at each scrape) and <program>_build_info (version, revision, compiler, arch). */
#ifndef PCMC_COMMON_METRICS_STANDARD_H
#define PCMC_COMMON_METRICS_STANDARD_H

struct metrics_registry;

/* Registers process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds and
 * <program>_build_info{version,revision,compiler,arch} = 1, where program is e.g. "pcmc_agent".
 * 0, -EINVAL, -EEXIST or -ENOMEM. */
int metrics_standard_register(struct metrics_registry *r, const char *program);

#endif
