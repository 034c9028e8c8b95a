/* Syscall names <-> numbers of the agent's architecture (x86_64 or arm64, chosen at compile time) and
 * of x86_64's 32-bit entry (i386), from tables generated out of linux-libc-dev's headers at build time. */
#ifndef PCMC_COMMON_SYSCALL_TABLE_H
#define PCMC_COMMON_SYSCALL_TABLE_H

/* "x86_64" or "arm64": the architecture this agent was built for. */
const char *syscall_table_arch(void);
/* The syscall number of name on this architecture, or -ENOENT. */
int syscall_table_number(const char *name);
/* The name of number nr on this architecture, or NULL. */
const char *syscall_table_name(int nr);
/* The native number of the syscall that compat_nr names on this architecture's 32-bit entry (x86_64:
 * the i386 numbers of int 0x80 and sysenter), or -ENOENT: no such compat syscall, no native syscall of
 * that name (socketcall, _llseek, ...), or no 32-bit table for this architecture (arm64). */
int syscall_table_compat_native(int compat_nr);
/* Same lookups for a named architecture ("x86_64", "arm64"): tests, and -EINVAL for others. */
int syscall_table_number_for(const char *arch, const char *name);
/* Number of syscalls known for arch ("i386" too), or -EINVAL. */
int syscall_table_size_for(const char *arch);

#endif
