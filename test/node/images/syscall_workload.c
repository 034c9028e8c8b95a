/* The real-node suite's syscall workload: from its very first instruction (no libc, nothing runs
 * before _start) it makes WORKLOAD_NATIVE getpgrp through the 64-bit entry, then, given the argument
 * "int80", WORKLOAD_COMPAT through the 32-bit one (int 0x80, where getpgrp is 65, semop's native
 * number), then sleeps. "int80-once" makes one int 0x80 getpgrp and exits 0: on a kernel without the
 * 32-bit entry the process dies of SIGSEGV instead, which is how the suite asks the host.
 * getpgrp: a syscall the runtime (runc init, in the same cgroup before exec) does not make. */
#define WORKLOAD_NATIVE 1000
#define WORKLOAD_COMPAT 500
#define NR_GETPGRP 111
#define NR32_GETPGRP 65
#define NR_PAUSE 34
#define NR_EXIT 60

/* The kernel leaves argc, argv... at the stack pointer and no return address: C gets them as an
 * argument, on a stack aligned as after a call. */
__asm__(".text\n.globl _start\n_start:\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall workload\n\thlt\n");

static long syscall1(long nr, long a)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a) : "rcx", "r11", "memory");
	return ret;
}

static long int80_0(long nr)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "r8", "r9", "r10", "r11", "memory");
	return ret;
}

static int is(const char *s, const char *t)
{
	while (*s && *s == *t)
		s++, t++;
	return *s == *t;
}

__attribute__((used, noreturn)) void workload(const long *sp)
{
	const char *mode = sp[0] > 1 ? (const char *)sp[2] : "";

	if (is(mode, "int80-once")) {
		int80_0(NR32_GETPGRP);
		syscall1(NR_EXIT, 0);
	}
	for (int i = 0; i < WORKLOAD_NATIVE; i++)
		syscall1(NR_GETPGRP, 0);
	if (is(mode, "int80"))
		for (int i = 0; i < WORKLOAD_COMPAT; i++)
			int80_0(NR32_GETPGRP);
	for (;;)
		syscall1(NR_PAUSE, 0);
}
