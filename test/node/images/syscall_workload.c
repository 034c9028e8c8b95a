/* The real-node suite's syscall workload: from its very first instruction (no libc, nothing runs
 * before _start) it makes WORKLOAD_NATIVE getpgrp through the 64-bit entry and WORKLOAD_COMPAT
 * through the 32-bit one (int 0x80, where getpgrp is 65, semop's native number), then sleeps.
 * getpgrp: a syscall the runtime (runc init, in the same cgroup before exec) does not make. */
#define WORKLOAD_NATIVE 1000
#define WORKLOAD_COMPAT 500
#define NR_GETPGRP 111
#define NR32_GETPGRP 65
#define NR_PAUSE 34

static long syscall0(long nr)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	return ret;
}

static long int80_0(long nr)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "r8", "r9", "r10", "r11", "memory");
	return ret;
}

void _start(void)
{
	for (int i = 0; i < WORKLOAD_NATIVE; i++)
		syscall0(NR_GETPGRP);
	for (int i = 0; i < WORKLOAD_COMPAT; i++)
		int80_0(NR32_GETPGRP);
	for (;;)
		syscall0(NR_PAUSE);
}
