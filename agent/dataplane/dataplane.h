/* Dataplane: loads, pins and attaches pcmc's BPF programs (syscall counter, per-pod L4 firewall),
 * applies pod policies in place, adopts a previous run's pins and removes orphans. */
#ifndef PCMC_AGENT_DATAPLANE_H
#define PCMC_AGENT_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DATAPLANE_MAX_SYSCALLS 64      /* entries of a pod's syscallNames list */
#define DATAPLANE_DEFAULT_PIN_ROOT "/sys/fs/bpf/pcmc"

struct dataplane_opts {
	const char *pin_root;    /* NULL: DATAPLANE_DEFAULT_PIN_ROOT; bpffs is mounted if needed */
	const char *cgroup_root; /* NULL: /sys/fs/cgroup/unified if cgroup2, else /sys/fs/cgroup */
	const char *pod_ifname;  /* NULL: "eth0", the pod-side interface the firewall sits on */
	int layout_version;      /* 0: PCMC_LAYOUT_VERSION; tests set it to exercise upgrades */
	uint32_t tc_handle;      /* 0: 0x70636d63 ("pcmc") */
	uint16_t tc_priority;    /* 0: 7 (before most tools, which use 1 or leave it to the kernel) */
};

struct pod_ref {
	const char *uid;        /* Kubernetes pod UID */
	const char *namespace;  /* for logs and errors only */
	const char *name;
};

struct pod_policy {
	bool syscalls_enabled;
	const int *syscall_nrs; /* the pod's syscallNames as numbers, at most DATAPLANE_MAX_SYSCALLS */
	int n_syscalls;
	bool firewall_enabled;
	const uint16_t *allowed; /* destination ports, TCP and UDP */
	int n_allowed;
	const uint16_t *blocked; /* a port in both lists is blocked */
	int n_blocked;
	bool default_block;      /* verdict for ports in neither list */
};

struct pod_counters {
	char uid[40];
	uint64_t syscalls_total;
	uint64_t syscalls_outside_list;
	int n_listed;
	int listed_nr[DATAPLANE_MAX_SYSCALLS];        /* syscall number of listed_count[i] */
	uint64_t listed_count[DATAPLANE_MAX_SYSCALLS];
	uint64_t packets_allowed;
	uint64_t packets_blocked;
};

struct dataplane;

/* Loads or adopts everything pinned under <pin_root>/v<layout>. An older layout's pins keep
 * enforcing until dataplane_remove_orphans retires them. 0 or -errno; *out freed by close. */
int dataplane_open(const struct dataplane_opts *opts, struct dataplane **out);
/* Leaves programs pinned and attached (enforcement outlives the agent); frees dp. NULL-safe. */
void dataplane_close(struct dataplane *dp);

/* Creates or changes a pod's policy in place (no gap: every port changes verdict at most once).
 * All or nothing per pod: a full map fails with -ENOSPC before anything changes. 0 or -errno;
 * the reason stays readable with dataplane_pod_error until the next apply of that pod. */
int dataplane_apply_pod(struct dataplane *dp, const struct pod_ref *pod, const struct pod_policy *p);
/* Detaches (only what is ours) and forgets the pod. -ENOENT if unknown. */
int dataplane_remove_pod(struct dataplane *dp, const char *uid);
/* Removes every pinned pod not in wanted_uids, and retires pins of older layouts. Call after
 * applying every wanted pod. Returns the number of pods removed or -errno. */
int dataplane_remove_orphans(struct dataplane *dp, const char *const *wanted_uids, int n);

/* Follows containers that started or restarted, retries pods that were not ready (no cgroup or
 * process yet). Call when dataplane_event_fd is readable and periodically. Returns the number of
 * cgroups newly tracked or -errno. */
int dataplane_refresh(struct dataplane *dp);
/* inotify fd to poll (POLLIN) in the agent's event loop. */
int dataplane_event_fd(const struct dataplane *dp);

/* Counters of every applied pod (batch map reads). Fills at most max entries; returns the number
 * of pods or -errno. */
int dataplane_read_counters(struct dataplane *dp, struct pod_counters *out, int max);
/* Last error of the pod as text ("" if none, NULL if the pod is unknown). */
const char *dataplane_pod_error(const struct dataplane *dp, const char *uid);
/* Number of pods applied (adopted or new). */
int dataplane_pod_count(const struct dataplane *dp);

#endif
