/* Baseline for benchmarks: an empty program on sys_enter, attached like pcmc_sys_enter, so the
 * cost of the hook itself can be subtracted from the syscall counter's (bpf_stats run_time_ns). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(empty_sys_enter, struct pt_regs *regs, long id)
{
	return 0;
}
