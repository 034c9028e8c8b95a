/* What the test pod's files share: the pod struct and the helpers each file provides.
 * Not for callers outside test/pod/. */
#ifndef PCMC_TEST_POD_INTERNAL_H
#define PCMC_TEST_POD_INTERNAL_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "test/pod/testpod.h"

#define CONTAINER_ID_LEN 64
#define MAX_CREATED_PARENTS 4

#define HOST_VETH_MAC "ee:ee:ee:ee:ee:ee"
#define POD_GATEWAY_V4 "169.254.1.1"
/* The EUI-64 link-local the kernel derives from HOST_VETH_MAC on the host side (addr_gen_mode 0):
 * flip the U/L bit of ee -> ec, insert ff:fe. The pod never needs to know any host address. */
#define POD_GATEWAY_V6 "fe80::ecee:eeff:feee:eeee"

/* A process we started, identified by pid + start time so a recycled pid is never killed. */
struct pod_process {
	pid_t pid;
	unsigned long long start_time; /* /proc/<pid>/stat field 22; 0 = none */
	bool is_child;                 /* our child: reap it */
};

struct pod_container {
	char id[CONTAINER_ID_LEN + 1];
	char cgroup[PATH_MAX];
	bool cgroup_created;
	struct pod_process server;
};

struct testpod {
	char name[TESTPOD_NAME_MAX + 1];
	char uid[40];
	enum testpod_driver driver;
	enum testpod_qos qos;
	char cgroup_root[PATH_MAX];
	char pod_cgroup[PATH_MAX];
	bool pod_cgroup_created;
	/* kubepods parents this pod made, outermost first; removed (if empty) on destroy */
	char created_parents[MAX_CREATED_PARENTS][PATH_MAX];
	int n_created_parents;
	struct pod_container sandbox;  /* pause process lives in sandbox.server */
	char netns_name[32];           /* pcmc-<name> */
	char netns_path[64];           /* /run/netns/pcmc-<name> */
	bool netns_created;
	char host_veth[IFNAMSIZ];
	bool veth_created;
	char cni_dir[256];             /* where the CNI result record goes ("" = TESTPOD_DEFAULT_CNI_DIR) */
	bool cni_record_created;
	char ipv4[INET_ADDRSTRLEN];    /* "" = none */
	char ipv6[INET6_ADDRSTRLEN];
	uint16_t tcp_ports[TESTPOD_MAX_PORTS];
	int n_tcp;
	uint16_t udp_ports[TESTPOD_MAX_PORTS];
	int n_udp;
	unsigned serve_mask;
	bool daemonize;
	int n_containers;
	struct pod_container containers[TESTPOD_MAX_CONTAINERS];
	/* Identities of what we made, so a late cleanup never removes a newer pod's namesakes. */
	uint64_t pod_cgroup_id;
	ino_t netns_ino;
	int veth_ifindex;
	struct pod_process janitor;
	/* pods this process created and has not destroyed yet, torn down at exit() */
	struct testpod *next_live;
	pid_t owner;
};

/* testpod.c */
bool pod_valid_name(const char *name); /* 1-20 chars of a-z 0-9 -, not starting with - */
bool pod_valid_uid(const char *uid);   /* 36 chars, 8-4-4-4-12 hex */

/* command.c: run a program (no shell), its stderr captured into the error log. 0, -EIO (exit
 * status != 0) or -errno (spawn failed). */
int run_command(const char *const argv[]);
#define RUN(...) run_command((const char *const[]){ __VA_ARGS__, NULL })
/* Same, but a non-zero exit is an answer (iptables -C), not an error: returns the exit status
 * (>= 0) or -errno when the program could not run. Input (if not NULL) goes to its stdin. */
int run_command_status(const char *const argv[], const char *input);
#define RUN_STATUS(input, ...) run_command_status((const char *const[]){ __VA_ARGS__, NULL }, (input))
/* Write value to a file (sysctl, cgroup.procs); 0 or -errno, logged with the path. */
int write_file(const char *path, const char *value);
int random_hex(char *buf, size_t n_hex); /* n_hex random hex chars + NUL */

/* cgroup.c */
int cgroup_resolve_root(const char *requested, char *root, size_t len);
/* Fills pod->pod_cgroup and the parent chain; mkdirs missing parents and the pod dir. */
int cgroup_make_pod(struct testpod *pod);
/* Just the path of the pod cgroup for pod's driver/QoS/uid (nothing created). */
int cgroup_pod_path(const struct testpod *pod, char *buf, size_t len);
int cgroup_container_path(const struct testpod *pod, const char *id, char *buf, size_t len);
int cgroup_make_container(struct testpod *pod, struct pod_container *c);
/* Kills everything in dir, waits until cgroup.procs is empty, rmdir. ENOENT is success. */
int cgroup_remove(const char *dir);
void cgroup_remove_parents(struct testpod *pod);
int cgroup_join(const char *dir); /* moves the calling process into dir */

/* host_policy.c: host-wide pieces every pod relies on, installed idempotently, left in place. */
int host_install_guard_routes(void);
int host_allow_pod_to_pod(void);
/* Per host veth: forward what comes from the pod (IPv4 and, on kernels with force_forwarding,
 * IPv6) without turning the whole host into an IPv6 router. */
int host_veth_forwarding(const char *veth);

/* network.c */
int network_create(struct testpod *pod);
int network_destroy(struct testpod *pod);
int network_identify(struct testpod *pod); /* records netns inode + veth ifindex */
int netns_enter(const char *netns_path); /* setns the calling process/thread */
void host_veth_name(const char *pod_name, char *buf);

/* cni_record.c: <cni_dir>/results/pcmc-testpod-<sandbox id>-eth0, as libcni writes it after ADD. */
int cni_record_write(struct testpod *pod);
/* Removes the pod's record (by sandbox id; a pod known by name only: every record of our network
 * naming its host veth). 0 also when none is there. */
int cni_record_remove(struct testpod *pod);

/* process.c */
unsigned long long process_start_time(pid_t pid);
/* Sends SIGKILL if pid is still the process we started; reaps it if it is our child;
 * waits until it is gone (or a zombie). */
int process_kill(struct pod_process *p);
/* Forks a pod process in cgroup dir + pod netns. The child runs fn(arg, ready_fd) and must
 * write one byte to ready_fd once it is serving; returns once it did (0) or died (-errno). */
int process_start(struct testpod *pod, const char *cgroup_dir,
		  int (*fn)(struct testpod *pod, int index, int ready_fd), int index,
		  struct pod_process *out);

/* janitor.c: a process that tears the pod down if its creator dies without destroying it
 * (a failed ck_assert _exits, a timeout SIGKILLs). */
int janitor_start(struct testpod *pod);
void janitor_stop(struct testpod *pod);
/* Waits while the janitor of an earlier, dead-creator pod with this name is still cleaning. */
int janitor_wait_for(const char *name, int timeout_ms);

/* server.c: the container's server (index >= 0) or the pause process (index -1). */
int server_main(struct testpod *pod, int index, int ready_fd);

#endif
