/* Pod cgroups: finds a pod's cgroup v2 directory from its UID for both kubelet cgroup drivers
 * and every QoS class, walks its container cgroups and finds a process inside. */
#ifndef PCMC_AGENT_POD_CGROUPS_H
#define PCMC_AGENT_POD_CGROUPS_H

#include <stddef.h>
#include <sys/types.h>

/* The cgroup2 mount: /sys/fs/cgroup/unified if it is cgroup2 (hybrid hosts), else /sys/fs/cgroup. */
int pod_cgroups_detect_root(char *buf, size_t len);
/* Pod-level directory under root (cgroupfs: kubepods[/<qos>]/pod<uid>; systemd:
 * kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid with _>.slice). 0 or -ENOENT. */
int pod_cgroups_find(const char *root, const char *uid, char *dir, size_t len);
/* Calls fn on dir and every directory below it (containers, their children), parents first, with
 * the directory open as fd (O_RDONLY | O_DIRECTORY, closed after fn returns; a directory removed
 * meanwhile is skipped). Stops at and returns fn's first non-zero return; 0 or -errno. */
int pod_cgroups_walk(const char *dir, int (*fn)(const char *path, int fd, void *arg), void *arg);
/* A process in dir or any cgroup below it; 0 if none. */
pid_t pod_cgroups_any_pid(const char *dir);

#endif
