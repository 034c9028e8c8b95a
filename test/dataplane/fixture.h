/* Shared fixtures of the dataplane tests: a private pin dir per test process (removed at exit),
 * test pods made by the test pod helper, counters of one pod. */
#ifndef PCMC_TEST_DATAPLANE_FIXTURE_H
#define PCMC_TEST_DATAPLANE_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/dataplane/dataplane.h"
#include "test/pod/testclient.h"
#include "test/pod/testpod.h"

#define TCP_PORT_A 8080
#define TCP_PORT_B 8081
#define TCP_PORT_C 8082
#define UDP_PORT_A 9090
#define UDP_PORT_B 9091
#define UDP_PORT_C 9092

/* /sys/fs/bpf/pcmc-test-<pid>, removed at exit. */
const char *fx_pin_root(void);
/* <pin root>/v<PCMC_LAYOUT_VERSION>: where this layout's maps and programs are pinned. */
const char *fx_pin_dir(void);
/* Removes pin dirs and test pods left behind by tests that failed (run by main at the end). */
void fx_cleanup_leftovers(void);
/* Runs the suite (TAP on stdout), then fx_cleanup_leftovers; the exit status for main. */
int fx_run_suite(Suite *s);
/* Sends a raw Ethernet frame into the pod's host veth: it passes the veth's egress filters (0
 * also when one dropped it) and arrives on eth0 ingress in the pod. */
int fx_inject(struct testpod *pod, const void *frame, size_t len);
/* A pod with TCP ports A,B,C and UDP ports A,B,C served by container 0, at 10.244.<subnet>.<host>
 * and fd00:10:244:<subnet>::<host>. Destroyed by fx_destroy_pods (the suite's teardown), or by
 * the test pod library when the test dies early. */
struct testpod *fx_pod(const char *name, int subnet, int host, enum testpod_driver driver,
		       enum testpod_qos qos, int n_containers);
void fx_destroy_pods(void);
/* Destroys one pod now (a pod deleted from the node). */
void fx_pod_destroy(struct testpod *pod);
/* Dataplane on the test pin root; layout 0 = default. */
struct dataplane *fx_open(int layout);
/* Counters of one pod (zeroed struct if the pod is unknown). */
struct pod_counters fx_counters(struct dataplane *dp, const char *uid);
uint64_t fx_listed(const struct pod_counters *c, int nr);
/* Applies with the pod's uid as reference; asserts success. */
void fx_apply(struct dataplane *dp, struct testpod *pod, const struct pod_policy *p);
/* Program id at pcmc's handle/priority (0x70636d63, 7) on the pod's host veth (0 if none): at
 * egress (pod_in: what the pod receives) or ingress (what it sends). */
uint32_t fx_filter_prog_id(struct testpod *pod, bool pod_in);
/* Runs a command line with system(); returns its exit status. */
/* Child connecting to ip in a loop until fx_stop_prober: blocked must never answer, allowed (if not
 * 0) must always answer. fx_stop_prober returns 0, or bit 0 when the blocked port answered at least
 * once, bit 1 when the allowed port failed at least once. */
pid_t fx_start_prober(const char *ip, uint16_t blocked, uint16_t allowed);
int fx_stop_prober(pid_t pid);

int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool fx_path_exists(const char *path);

#endif
