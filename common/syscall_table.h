/* Syscall names <-> numbers of the agent's architecture (x86_64 or arm64, chosen at compile time),
 * from tables generated at build time out of linux-libc-dev's headers by common/syscall_table.sh. */
#ifndef PCMC_COMMON_SYSCALL_TABLE_H
#define PCMC_COMMON_SYSCALL_TABLE_H

/* "x86_64" or "arm64": the architecture this agent was built for. */
const char *syscall_table_arch(void);
/* The syscall number of name on this architecture, or -ENOENT. */
int syscall_table_number(const char *name);
/* The name of number nr on this architecture, or NULL. */
const char *syscall_table_name(int nr);
/* Same lookups for a named architecture ("x86_64", "arm64"): tests, and -EINVAL for others. */
int syscall_table_number_for(const char *arch, const char *name);
/* Number of syscalls known for arch, or -EINVAL. */
int syscall_table_size_for(const char *arch);

#endif
