/* Syscall name lookups over the generated per-architecture tables (sorted by name: binary search),
 * the agent's own architecture selected at compile time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/syscall_table.h"

struct syscall_entry {
	const char *name;
	int nr;
};

#include "common/syscall_table_generated.h"

struct syscall_arch {
	const char *name;
	const struct syscall_entry *table;
	size_t n;
};

static const struct syscall_arch arches[] = {
	{ "x86_64", syscall_table_x86_64, sizeof(syscall_table_x86_64) / sizeof(syscall_table_x86_64[0]) },
	{ "arm64", syscall_table_arm64, sizeof(syscall_table_arm64) / sizeof(syscall_table_arm64[0]) },
	{ "i386", syscall_table_i386, sizeof(syscall_table_i386) / sizeof(syscall_table_i386[0]) },
};

#if defined(__x86_64__)
#define OWN_ARCH (&arches[0])
#define OWN_COMPAT (&arches[2])
#elif defined(__aarch64__)
#define OWN_ARCH (&arches[1])
#define OWN_COMPAT NULL
#else
#error "pcmc-agent: no syscall table for this architecture (x86_64 and arm64 are generated)"
#endif

static int cmp_name(const void *key, const void *entry)
{
	return strcmp(key, ((const struct syscall_entry *)entry)->name);
}

static int lookup(const struct syscall_arch *a, const char *name)
{
	const struct syscall_entry *e;

	if (!name)
		return -ENOENT;
	e = bsearch(name, a->table, a->n, sizeof(*e), cmp_name);
	return e ? e->nr : -ENOENT;
}

static const struct syscall_arch *find_arch(const char *arch)
{
	for (size_t i = 0; arch && i < sizeof(arches) / sizeof(arches[0]); i++)
		if (!strcmp(arches[i].name, arch))
			return &arches[i];
	return NULL;
}

const char *syscall_table_arch(void)
{
	return OWN_ARCH->name;
}

int syscall_table_number(const char *name)
{
	return lookup(OWN_ARCH, name);
}

static const char *name_of(const struct syscall_arch *a, int nr)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (a->table[i].nr == nr)
			return a->table[i].name;
	return NULL;
}

const char *syscall_table_name(int nr)
{
	return name_of(OWN_ARCH, nr);
}

int syscall_table_compat_native(int compat_nr)
{
	return lookup(OWN_ARCH, name_of(OWN_COMPAT, compat_nr));
}

int syscall_table_number_for(const char *arch, const char *name)
{
	const struct syscall_arch *a = find_arch(arch);

	return a ? lookup(a, name) : -EINVAL;
}

int syscall_table_size_for(const char *arch)
{
	const struct syscall_arch *a = find_arch(arch);

	return a ? (int)a->n : -EINVAL;
}
