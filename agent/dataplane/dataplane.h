/* Dataplane: loads, pins and attaches pcmc's BPF programs (syscall counter, L4 firewall on each
 * pod's host-side interface), applies pod policies in place, adopts a previous run's pins and
 * removes orphans. */
#ifndef PCMC_AGENT_DATAPLANE_H
#define PCMC_AGENT_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DATAPLANE_MAX_SYSCALLS 64      /* entries of a pod's syscallNames list */
#define DATAPLANE_DEFAULT_PIN_ROOT "/sys/fs/bpf/pcmc"
#define DATAPLANE_DEFAULT_CNI_CACHE_DIR "/var/lib/cni" /* libcni's; results/ holds one record per pod interface */
#define DATAPLANE_FW_REASONS 4 /* why a packet was dropped: see dataplane_fw_reason_name */

struct dataplane_opts {
	const char *pin_root;    /* NULL: DATAPLANE_DEFAULT_PIN_ROOT; bpffs is mounted if needed */
	const char *cgroup_root; /* NULL: /sys/fs/cgroup/unified if cgroup2, else /sys/fs/cgroup */
	const char *cni_cache_dir; /* NULL: DATAPLANE_DEFAULT_CNI_CACHE_DIR. The runtime's CNI result
				    * cache, read to find each pod's host-side interface (never written) */
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
	const uint16_t *allowed; /* destination ports, of TCP, UDP, UDP-Lite, SCTP and DCCP alike */
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
	uint64_t packets_allowed;      /* passed after judging (allowed port, or reply of the pod's flow) */
	uint64_t packets_allowed_flow; /* of those: to a blocked port, as part of a flow the pod started */
	uint64_t packets_blocked;      /* dropped, for any reason */
	uint64_t packets_blocked_reason[DATAPLANE_FW_REASONS];
};

/* The flow table of the node (flows pods started, whose replies pass). */
struct dataplane_flow_stats {
	uint64_t capacity;      /* entries the tables hold (IPv4 + IPv6) */
	uint64_t entries;       /* entries in them now (live or past their timeout, not yet found) */
	uint64_t capacity_v4, capacity_v6; /* the same per table (fw_flows4, fw_flows6) */
	uint64_t entries_v4, entries_v6;
	uint64_t created_total;
	uint64_t expired_total; /* found past their timeout and deleted */
	uint64_t evicted_total; /* pushed out by newer flows of a full table (derived, never decreases) */
	uint64_t create_failures_total;
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
/* Flow table figures for metrics (one batch read of the table). 0 or -errno. */
int dataplane_read_flow_stats(struct dataplane *dp, struct dataplane_flow_stats *out);
/* "port", "malformed", "too_deep", "encapsulated": index of pod_counters.packets_blocked_reason. */
const char *dataplane_fw_reason_name(int reason);
/* Last error of the pod as text ("" if none, NULL if the pod is unknown). */
const char *dataplane_pod_error(const struct dataplane *dp, const char *uid);
/* Number of pods applied (adopted or new). */
int dataplane_pod_count(const struct dataplane *dp);

#endif
