/* Dataplane internals shared by its files: the open dataplane (map fds, pin paths, pods by
 * slot) and one pod's state as last applied. Not for use outside agent/dataplane*.c. */
#ifndef PCMC_AGENT_DATAPLANE_INTERNAL_H
#define PCMC_AGENT_DATAPLANE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/dataplane/cni_cache.h"
#include "agent/dataplane/dataplane.h"
#include "agent/dataplane/pod_iface.h"
#include "bpf/pcmc.h"

/* A dataplane pod in a log line, as docs/logging.md names pods. */
#define LOG_DP_POD(pod) LOG_POD((pod)->namespace, (pod)->name), LOG_STR("pod_uid", (pod)->uid)

struct fw_rule {
	uint16_t port;
	uint8_t verdict; /* enum pcmc_fw_verdict */
};

struct dp_pod {
	char uid[PCMC_POD_UID_LEN];
	char ref[160];                       /* "namespace/name" for error texts */
	char namespace[64], name[254];       /* for logs ("" for a pod adopted from pins) */
	uint32_t slot;
	uint32_t gen;                        /* sys_policy gen, also in the cgroup storage */
	bool want_syscalls, want_firewall;   /* as last applied */
	bool untracked;                      /* new slot generation, in no cgroup's storage yet */
	int listed_nr[PCMC_MAX_LISTED];      /* syscall counted at index i, -1 = free */
	uint64_t listed_zeroed;              /* bit i: index i is free and its counter known to be 0 */
	struct fw_rule *rules;               /* sorted by port */
	int n_rules;
	uint32_t default_verdict;
	bool fw_attached;                    /* on every interface found, checked by this run */
	struct pod_iface ifaces[PCMC_MAX_POD_IFACES]; /* host-side interfaces our filters sit on */
	int n_ifaces;
	struct pcmc_pod_record record;       /* as last written to the registry, if record_written */
	bool record_written;
	char error[256];
};

_Static_assert(PCMC_MAX_LISTED <= 64, "dp_pod.listed_zeroed has a bit per listed index");

struct dp_watch {
	int wd;
	uint32_t slot;
};

/* A pod that could not even get a slot or its rules: its error stays readable by uid. */
#define DP_MAX_REJECTED 16
struct dp_rejected {
	char uid[PCMC_POD_UID_LEN];
	char error[256];
};

struct dataplane {
	char root[256];                 /* pin root */
	char dir[300];                       /* <root>/v<layout> */
	char cgroup_root[256];
	int layout;
	uint32_t tc_handle;
	uint16_t tc_priority;

	struct syscall_counter *sys_skel;
	struct bpf_link *sys_link;           /* tp_btf/sys_enter: counts */
	struct bpf_link *mkdir_link;         /* tp_btf/cgroup_mkdir: tracks a pod's new cgroups */
	int tracked_cgroups_fd, sys_policy_fd, sys_counters_fd, sys_listed_fd;
	int pods_fd;
	int ncpus;

	struct l4_firewall *fw_skel;         /* the firewall's maps; its programs are fw_pod_*_fd */
	int fw_pod_in_fd, fw_pod_out_fd;     /* pinned <dir>/fw_pod_in, fw_pod_out */
	uint32_t fw_pod_in_id, fw_pod_out_id;
	int fw_iface_slots_fd, fw_ifaces_fd, fw_rules_fd, fw_ports_fd, fw_policy_fd, fw_counters_fd;
	int fw_flows4_fd, fw_flows6_fd, fw_flow_stats_fd;
	uint64_t flows_evicted_seen;
	struct cni_cache *cni;
	int rtnl_fd;
	int cni_wd;                          /* inotify watch of the CNI results dir, -1 if none */

	struct dp_pod *pods[PCMC_MAX_PODS];  /* by slot */
	uint32_t next_slot;
	int n_rules_total;

	struct dp_rejected rejected[DP_MAX_REJECTED];
	int next_rejected;

	int inotify_fd;
	struct dp_watch *watches;
	int n_watches, cap_watches;
};

struct dp_pod *dp_find_pod(const struct dataplane *dp, const char *uid);
/* Remembers (or, with error NULL, forgets) why a pod unknown to the dataplane was refused. */
void dp_set_rejected(struct dataplane *dp, const char *uid, const char *error);
/* Records the pod's error text, logs it once with context; returns err. */
int dp_pod_fail(struct dp_pod *pod, int err, const char *what);
/* Attaches cgroup storage to every cgroup of the pod (watching them for new containers); the
 * number newly tracked or -errno. */
int dp_track_cgroups(struct dataplane *dp, struct dp_pod *pod);
int dp_untrack_cgroups(struct dataplane *dp, struct dp_pod *pod);
/* Makes sure the pod's filters sit on every host-side interface it has (found anew when they
 * changed); on failure the pod's error says why. 0 or -errno. A (re)attachment is logged here
 * unless attached is given: then *attached says whether there was one, for the caller's line. */
int dp_ensure_firewall(struct dataplane *dp, struct dp_pod *pod, bool *attached);
/* Takes our filters off the pod's interfaces (only if ours) and forgets its interfaces. */
int dp_detach_firewall(struct dataplane *dp, struct dp_pod *pod);
/* Forgets a pod: detaches, clears its map entries and pins. */
int dp_remove_pod(struct dataplane *dp, struct dp_pod *pod);
void dp_pod_free(struct dp_pod *pod);
int dp_write_sys_policy(struct dataplane *dp, const struct dp_pod *pod);
/* The pod's record in the pods registry (skipped when it holds exactly that already). 0 or -errno. */
int dp_write_record(struct dataplane *dp, struct dp_pod *pod);
int dp_zero_percpu(struct dataplane *dp, int map_fd, uint32_t key, size_t value_size);
/* The same for keys first .. first + count - 1 (one batch update). 0 or -errno. */
int dp_zero_percpu_range(struct dataplane *dp, int map_fd, uint32_t first, uint32_t count, size_t value_size);
/* The same for count keys listed in keys (one batch update). 0 or -errno. */
int dp_zero_percpu_keys(struct dataplane *dp, int map_fd, uint32_t *keys, uint32_t count, size_t value_size);
/* (Re)adds the inotify watch of the CNI results dir, so new sandboxes trigger a refresh. */
void dp_watch_cni(struct dataplane *dp);

#endif
