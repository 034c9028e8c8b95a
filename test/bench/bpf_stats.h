/* Time spent inside BPF programs, as the kernel counts it with bpf_stats (run_time_ns, run_cnt):
 * enabling the counting, reading a program's totals, finding the programs to read. */
#ifndef PCMC_TEST_BENCH_BPF_STATS_H
#define PCMC_TEST_BENCH_BPF_STATS_H

#include <stdint.h>
#include <sys/types.h>

struct prog_stats {
	uint64_t run_time_ns;
	uint64_t run_cnt;
};

/* Turns bpf_stats on for as long as the returned fd is open (BPF_ENABLE_STATS: the same switch
 * as kernel.bpf_stats_enabled, reference counted, so it is off again when this process exits
 * however it ends, and a concurrent user of the sysctl is not disturbed). fd or -errno. */
int bpf_stats_enable(void);
/* Totals of the program behind prog_fd. 0 or -errno. */
int bpf_stats_read(int prog_fd, struct prog_stats *out);
/* Nanoseconds per run between two readings; negative when the program did not run. */
double bpf_stats_ns_per_run(const struct prog_stats *before, const struct prog_stats *after);

/* fd of the program behind a pinned link (e.g. the dataplane's sys_enter_link). fd or -errno. */
int bpf_stats_prog_of_link(const char *link_pin);
/* fd of the first program of the given type that process pid holds (its /proc fdinfo), e.g.
 * bpftrace's tracepoint program. fd or -errno (-ENOENT: none yet). */
int bpf_stats_prog_of_pid(pid_t pid, uint32_t prog_type);

#endif
