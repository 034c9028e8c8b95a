/* Pinned layout on bpffs: <root>/v<N>/{maps, pod_records, sys_enter_link, pods/<uid>/fw}. Mounts bpffs when
 * missing, lists layout versions present, removes a pin tree. */
#ifndef PCMC_AGENT_DATAPLANE_PINS_H
#define PCMC_AGENT_DATAPLANE_PINS_H

#include <stddef.h>
#include <stdint.h>

#define PINS_MAX_VERSIONS 16

/* Makes sure root's parent is bpffs (mounts bpffs on /sys/fs/bpf when it is not), creates root.
 * 0 or -errno (-ENOTSUP: root is not on a bpffs and cannot be made one). */
int pins_prepare_root(const char *root);
/* mkdir -p inside bpffs. 0 or -errno. */
int pins_mkdir(const char *path);
/* Removes a pin directory tree (unpins; objects live on while something uses them). */
int pins_remove_tree(const char *path);
/* Layout versions present under root (directories v<N>), ascending; the count or -errno. */
int pins_list_versions(const char *root, int *versions, int max);
/* Id of the program pinned at path, 0 if none. */
uint32_t pins_prog_id(const char *path);

#endif
