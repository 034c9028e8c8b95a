/* Test pod: builds a pod on this machine the way kubelet + runc + a Calico-style CNI would
 * (kubelet cgroup layout, persistent netns, veth with host routes, per-container servers). */
#ifndef PCMC_TEST_POD_TESTPOD_H
#define PCMC_TEST_POD_TESTPOD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define TESTPOD_MAX_PORTS      16
#define TESTPOD_MAX_CONTAINERS 16
#define TESTPOD_NAME_MAX       20
/* Where test pods leave their CNI result records (<dir>/results/...), instead of the runtime's
 * /var/lib/cni: give an agent under test --cni-cache-dir TESTPOD_DEFAULT_CNI_DIR. */
#define TESTPOD_DEFAULT_CNI_DIR "/run/pcmc-testpod/cni"

enum testpod_driver { TESTPOD_CGROUPFS, TESTPOD_SYSTEMD };
enum testpod_qos { TESTPOD_GUARANTEED, TESTPOD_BURSTABLE, TESTPOD_BESTEFFORT };

struct testpod_spec {
	const char *name;        /* short id, <= 20 chars of [a-z0-9-]; netns is /run/netns/pcmc-<name> */
	const char *uid;         /* pod UID, 36-char k8s UID */
	enum testpod_driver driver;
	enum testpod_qos qos;
	const char *cgroup_root; /* NULL: auto-detect the cgroup2 mount */
	const char *ipv4, *ipv6; /* e.g. "10.244.250.5", "fd00:10:244:fa::5"; either may be NULL */
	const char *cni_dir;     /* NULL: TESTPOD_DEFAULT_CNI_DIR. The pod's CNI result record goes to
				  * <cni_dir>/results/pcmc-testpod-<sandbox id>-eth0 (libcni's format) */
	uint16_t tcp_ports[TESTPOD_MAX_PORTS];
	int n_tcp;
	uint16_t udp_ports[TESTPOD_MAX_PORTS];
	int n_udp;
	int n_containers;        /* 1..TESTPOD_MAX_CONTAINERS; each container has its own cgroup */
	/* Which containers' servers listen on the ports: bit i = container i; 0 = every container
	 * (SO_REUSEPORT, the kernel picks one per connection/flow). Set 1 for deterministic tests. */
	unsigned serve_mask;
	/* Processes outlive the caller (own session, stdio on /dev/null, no parent-death signal),
	 * and neither exit() nor a janitor removes the pod. The CLI sets it; library users leave it
	 * false so a crashed test takes its pods along. */
	bool daemonize;
};

struct testpod;

/* 0 or -errno; on error nothing is left behind. *out is freed by testpod_destroy.
 * Pods not destroyed when their creating process calls exit() are destroyed and freed then.
 * If it dies without exit() (a failed ck_assert _exits, a Check timeout SIGKILLs) the pod's
 * janitor process removes them. Not for daemonize pods. */
int testpod_create(const struct testpod_spec *spec, struct testpod **out);
/* Kills its processes by pid, removes veth, netns, cgroups, frees pod; NULL-safe. */
void testpod_destroy(struct testpod *pod);
/* Frees the struct only: the pod keeps running (the CLI, after saving its state). NULL-safe. */
void testpod_release(struct testpod *pod);
/* Same as destroy, but reports the first cleanup failure (0 or -errno). Always frees pod. */
int testpod_destroy_checked(struct testpod *pod);

const char *testpod_name(const struct testpod *pod);
const char *testpod_uid(const struct testpod *pod);
const char *testpod_cgroup_root(const struct testpod *pod);  /* the cgroup2 root used */
const char *testpod_cgroup_dir(const struct testpod *pod);   /* pod-level cgroup dir (absolute) */
int testpod_n_containers(const struct testpod *pod);
const char *testpod_container_cgroup_dir(const struct testpod *pod, int i);
const char *testpod_container_id(const struct testpod *pod, int i);     /* 64 hex chars */
pid_t testpod_container_server_pid(const struct testpod *pod, int i);
/* The sandbox ("pause") container: its own cgroup under the pod, like kubelet's. */
const char *testpod_sandbox_id(const struct testpod *pod);
const char *testpod_sandbox_cgroup_dir(const struct testpod *pod);
pid_t testpod_pause_pid(const struct testpod *pod);
const char *testpod_netns_path(const struct testpod *pod);  /* /run/netns/pcmc-<name> */
const char *testpod_host_veth(const struct testpod *pod);   /* pcmc + 8 hex */
const char *testpod_cni_dir(const struct testpod *pod);     /* where its CNI result record is */
const char *testpod_ipv4(const struct testpod *pod);        /* NULL if none */
const char *testpod_ipv6(const struct testpod *pod);        /* NULL if none */

/* New container id + new cgroup, old cgroup's processes killed and the cgroup removed, the
 * container's server restarted in the new cgroup (listening when this returns). 0 or -errno. */
int testpod_restart_container(struct testpod *pod, int i);

/* Forks a child that joins the container cgroup (cgroup.procs) and the pod netns (setns), then
 * runs fn; its exit status is fn's return. container -1 = sandbox cgroup. Returns pid or -errno
 * (joining failed: child reaped, nothing left). The child dies with the caller (PDEATHSIG). */
pid_t testpod_spawn(struct testpod *pod, int container, int (*fn)(void *arg), void *arg);
/* Exit status (128+signal if killed), or -ETIMEDOUT (child then SIGKILLed and reaped).
 * timeout_ms < 0 waits forever. */
int testpod_wait(pid_t pid, int timeout_ms);
/* Like spawn, runs argv (PATH searched), waits, returns exit status (127: exec failed). */
int testpod_exec(struct testpod *pod, int container, char *const argv[]);

/* cgroup v2 id (what bpf_get_current_cgroup_id() returns) of a cgroup directory; 0 on error. */
uint64_t testpod_cgroup_id(const char *cgroup_dir);
/* The cgroup2 mount used when spec.cgroup_root is NULL: /sys/fs/cgroup/unified if it is cgroup2,
 * else /sys/fs/cgroup. 0 or -ENOENT. */
int testpod_detect_cgroup_root(char *buf, size_t len);
/* True while pid runs and is not a zombie (zombies count as gone: PID 1 may never reap them). */
bool testpod_pid_alive(pid_t pid);

/* Removes whatever a pod with this name (and uid, if not NULL) left behind without its state:
 * kills the processes in and removes its pod cgroup under either driver and any QoS class,
 * deletes netns pcmc-<name> and its host veth. For crashed tests and CLI deletes without a
 * state file. cgroup_root NULL: auto-detect. 0 (also when nothing was there) or -errno. */
int testpod_purge(const char *cgroup_root, const char *name, const char *uid);

/* Serializes runs of one test suite on this machine (two people running `make test` at once):
 * blocks until /run/lock/pcmc-<suite>.lock is ours; held until the process exits. Suites use
 * fixed pod names and addresses, so a concurrent run would delete the other's pods. fd or -errno. */
int testpod_suite_lock(const char *suite);

/* State file (JSON) so another process (the CLI) can find and delete a pod. 0 or -errno. */
int testpod_save(const struct testpod *pod, const char *path);
int testpod_load(const char *path, struct testpod **out);
/* Owned JSON text describing the pod (same as the state file); free() it. NULL on ENOMEM. */
char *testpod_to_json(const struct testpod *pod);

#endif
