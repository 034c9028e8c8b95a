/* Dataplane internals shared by its files: the open dataplane (map fds, pin paths, pods by
 * slot) and one pod's state as last applied. Not for use outside agent/dataplane*.c. */
#ifndef PCMC_AGENT_DATAPLANE_INTERNAL_H
#define PCMC_AGENT_DATAPLANE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/dataplane/dataplane.h"
#include "bpf/pcmc.h"

struct fw_rule {
	uint16_t port;
	uint8_t verdict; /* enum pcmc_fw_verdict */
};

struct dp_pod {
	char uid[PCMC_POD_UID_LEN];
	char ref[160];                       /* "namespace/name" for logs */
	uint32_t slot;
	uint32_t gen;                        /* sys_policy gen, also in the cgroup storage */
	bool want_syscalls, want_firewall;   /* as last applied */
	int listed_nr[PCMC_MAX_LISTED];      /* syscall counted at index i, -1 = free */
	struct fw_rule *rules;               /* sorted by port */
	int n_rules;
	uint32_t default_verdict;
	bool fw_attached;                    /* checked or attached by this run */
	int netns_fd;                        /* -1 until the pod's netns was found */
	uint64_t netns_ino;
	uint32_t ifindex;
	int fw_prog_fd;                      /* pinned per-pod firewall program, -1 if none */
	char error[256];
};

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
	char ifname[32];
	int layout;
	uint32_t tc_handle;
	uint16_t tc_priority;
	uint64_t host_netns_ino;

	struct syscall_counter *sys_skel;
	struct bpf_link *sys_link;
	struct l4_firewall *fw_skel;         /* holds the firewall maps; its program is not loaded */
	int tracked_cgroups_fd, sys_policy_fd, sys_counters_fd, sys_listed_fd;
	int fw_rules_fd, fw_policy_fd, fw_counters_fd, pods_fd;
	int ncpus;

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
/* Makes sure the pod's firewall program is pinned and attached in its netns. */
int dp_ensure_firewall(struct dataplane *dp, struct dp_pod *pod);
/* Detaches the pod's filter (only if ours) and unpins its program under pin_dir (dp->dir, or an
 * older layout's directory). */
int dp_detach_firewall(struct dataplane *dp, struct dp_pod *pod, const char *pin_dir);
/* Forgets a pod: detaches, clears its map entries and pins. */
int dp_remove_pod(struct dataplane *dp, struct dp_pod *pod);
void dp_pod_free(struct dp_pod *pod);
int dp_write_sys_policy(struct dataplane *dp, const struct dp_pod *pod);
int dp_zero_percpu(struct dataplane *dp, int map_fd, uint32_t key, size_t value_size);
/* Program ids pinned for this pod under every layout version of the pin root. */
int dp_our_prog_ids(const struct dataplane *dp, const char *uid, uint32_t *ids, int max);
/* Opens the pod's network namespace: by a process in its cgroups, else by the recorded inode. */
int dp_open_pod_netns(struct dataplane *dp, struct dp_pod *pod);

#endif
