/* Pod network namespaces: opened through a process of the pod (or found again by inode), and a
 * way to run code inside one with setns in a short-lived thread, never `ip netns exec`. */
#ifndef PCMC_AGENT_POD_NETNS_H
#define PCMC_AGENT_POD_NETNS_H

#include <stdint.h>
#include <sys/types.h>

/* fd of /proc/<pid>/ns/net (O_CLOEXEC), its inode in *ino; -errno on failure. */
int pod_netns_open_pid(pid_t pid, uint64_t *ino);
/* fd of the network namespace with this inode, searched in /run/netns and /proc/<pid>/ns/net;
 * -ENOENT when no namespace with that inode is reachable (it is gone). */
int pod_netns_open_ino(uint64_t ino);
/* Inode of this process's own network namespace (the host's, for a node agent). */
uint64_t pod_netns_self_ino(void);
/* Runs fn(arg) in a new thread that joined netns_fd; returns fn's return or -errno. */
int pod_netns_run(int netns_fd, int (*fn)(void *arg), void *arg);

#endif
