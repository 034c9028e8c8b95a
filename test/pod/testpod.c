/* Test pod lifecycle: check the spec, build cgroups + network + processes in kubelet/CNI order,
 * restart a container, tear everything down in reverse, and the accessors. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

static void keep_first(int *err, int e)
{
	if (e && !*err)
		*err = e;
}

bool pod_valid_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > TESTPOD_NAME_MAX || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return false;
	return true;
}

bool pod_valid_uid(const char *uid)
{
	if (!uid || strlen(uid) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != '-' : !isxdigit((unsigned char)uid[i]))
			return false;
	}
	return true;
}

/* Normalizes the address text (so state files and routes agree); "" for NULL. */
static int parse_ip(int family, const char *text, char *out, size_t len)
{
	unsigned char raw[16];

	out[0] = '\0';
	if (!text)
		return 0;
	if (inet_pton(family, text, raw) != 1 || !inet_ntop(family, raw, out, (socklen_t)len))
		return -EINVAL;
	return 0;
}

static int check_ports(const uint16_t *ports, int n)
{
	if (n < 0 || n > TESTPOD_MAX_PORTS)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (ports[i] == 0)
			return -EINVAL;
	return 0;
}

static int fill_from_spec(struct testpod *pod, const struct testpod_spec *spec)
{
	const char *bad = NULL;

	if (!pod_valid_name(spec->name))
		bad = "name";
	else if (!pod_valid_uid(spec->uid))
		bad = "uid";
	else if ((unsigned)spec->driver > TESTPOD_SYSTEMD)
		bad = "driver";
	else if ((unsigned)spec->qos > TESTPOD_BESTEFFORT)
		bad = "qos";
	else if (parse_ip(AF_INET, spec->ipv4, pod->ipv4, sizeof(pod->ipv4)))
		bad = "ipv4";
	else if (parse_ip(AF_INET6, spec->ipv6, pod->ipv6, sizeof(pod->ipv6)))
		bad = "ipv6";
	else if (check_ports(spec->tcp_ports, spec->n_tcp))
		bad = "tcp_ports";
	else if (check_ports(spec->udp_ports, spec->n_udp))
		bad = "udp_ports";
	else if (spec->n_containers < 1 || spec->n_containers > TESTPOD_MAX_CONTAINERS)
		bad = "n_containers";
	if (bad) {
		log_error("invalid test pod spec", LOG_STR("field", bad),
			  LOG_STR("pod", spec->name ? spec->name : ""));
		return -EINVAL;
	}
	snprintf(pod->name, sizeof(pod->name), "%s", spec->name);
	snprintf(pod->uid, sizeof(pod->uid), "%s", spec->uid);
	pod->driver = spec->driver;
	pod->qos = spec->qos;
	memcpy(pod->tcp_ports, spec->tcp_ports, sizeof(pod->tcp_ports));
	pod->n_tcp = spec->n_tcp;
	memcpy(pod->udp_ports, spec->udp_ports, sizeof(pod->udp_ports));
	pod->n_udp = spec->n_udp;
	pod->n_containers = spec->n_containers;
	pod->serve_mask = spec->serve_mask;
	pod->daemonize = spec->daemonize;
	snprintf(pod->netns_name, sizeof(pod->netns_name), "pcmc-%s", pod->name);
	snprintf(pod->netns_path, sizeof(pod->netns_path), "/run/netns/%s", pod->netns_name);
	host_veth_name(pod->name, pod->host_veth);
	if (snprintf(pod->cni_dir, sizeof(pod->cni_dir), "%s", spec->cni_dir ? spec->cni_dir : TESTPOD_DEFAULT_CNI_DIR) >=
	    (int)sizeof(pod->cni_dir))
		return -ENAMETOOLONG;
	return 0;
}

/* Pods this process made and has not destroyed are destroyed (and freed) when it calls exit():
 * tests may leave that to the end of the test (callers rely on it). _exit and SIGKILL are the
 * janitor's job. Forks (servers, spawned children) do not match owner and never tear down. */
static struct testpod *live_pods;

static void destroy_live_pods(void)
{
	struct testpod *pod = live_pods, *next;

	for (; pod; pod = next) {
		next = pod->next_live;
		if (pod->owner == getpid())
			testpod_destroy(pod);
	}
}

static void track(struct testpod *pod)
{
	static bool registered;

	if (!registered && atexit(destroy_live_pods) == 0)
		registered = true;
	pod->owner = getpid();
	pod->next_live = live_pods;
	live_pods = pod;
}

static void untrack(struct testpod *pod)
{
	for (struct testpod **p = &live_pods; *p; p = &(*p)->next_live) {
		if (*p == pod) {
			*p = pod->next_live;
			return;
		}
	}
}

int testpod_create(const struct testpod_spec *spec, struct testpod **out)
{
	struct testpod *pod;
	int err;

	if (!spec || !out)
		return -EINVAL;
	*out = NULL;
	pod = calloc(1, sizeof(*pod));
	if (!pod)
		return -ENOMEM;
	/* kubelet order: pod cgroup, sandbox (pause + netns via CNI ADD), then the containers. */
	if ((err = fill_from_spec(pod, spec)) ||
	    (err = janitor_wait_for(pod->name, 10000)) ||
	    (err = cgroup_resolve_root(spec->cgroup_root, pod->cgroup_root, sizeof(pod->cgroup_root))) ||
	    (err = cgroup_make_pod(pod)) ||
	    (err = cgroup_make_container(pod, &pod->sandbox)) ||
	    (err = network_create(pod)) ||
	    (err = process_start(pod, pod->sandbox.cgroup, server_main, -1, &pod->sandbox.server)))
		goto fail;
	pod->pod_cgroup_id = testpod_cgroup_id(pod->pod_cgroup);
	for (int i = 0; i < pod->n_containers; i++) {
		struct pod_container *c = &pod->containers[i];

		if ((err = cgroup_make_container(pod, c)) ||
		    (err = process_start(pod, c->cgroup, server_main, i, &c->server)))
			goto fail;
	}
	/* Last: from here on a creator that dies without destroying the pod still loses it. */
	if (!pod->daemonize && (err = janitor_start(pod)))
		goto fail;
	if (!pod->daemonize)
		track(pod);
	*out = pod;
	return 0;
fail:
	log_error("cannot create test pod", LOG_STR("pod", spec->name ? spec->name : ""), LOG_ERRNO(err));
	testpod_destroy(pod);
	return err;
}

int testpod_destroy_checked(struct testpod *pod)
{
	int err = 0;

	if (!pod)
		return 0;
	untrack(pod);
	janitor_stop(pod);
	for (int i = 0; i < pod->n_containers; i++)
		keep_first(&err, process_kill(&pod->containers[i].server));
	keep_first(&err, process_kill(&pod->sandbox.server));
	/* Whatever else joined the cgroups (spawned children, exec'd commands) dies here. */
	for (int i = 0; i < pod->n_containers; i++)
		if (pod->containers[i].cgroup_created)
			keep_first(&err, cgroup_remove(pod->containers[i].cgroup));
	if (pod->sandbox.cgroup_created)
		keep_first(&err, cgroup_remove(pod->sandbox.cgroup));
	if (pod->pod_cgroup_created)
		keep_first(&err, cgroup_remove(pod->pod_cgroup));
	cgroup_remove_parents(pod);
	keep_first(&err, network_destroy(pod));
	if (err)
		log_error("test pod cleanup incomplete", LOG_STR("pod", pod->name), LOG_ERRNO(err));
	free(pod);
	return err;
}

void testpod_release(struct testpod *pod)
{
	if (pod) {
		untrack(pod);
		janitor_stop(pod); /* the caller keeps the pod running on purpose */
	}
	free(pod);
}

void testpod_destroy(struct testpod *pod)
{
	testpod_destroy_checked(pod);
}

int testpod_restart_container(struct testpod *pod, int i)
{
	struct pod_container fresh = { 0 };
	struct pod_container *c;
	int err;

	if (!pod || i < 0 || i >= pod->n_containers)
		return -EINVAL;
	c = &pod->containers[i];
	if ((err = cgroup_make_container(pod, &fresh)))
		return err;
	/* Like a CRI restart: the old container and its cgroup are gone before the new one runs. */
	process_kill(&c->server);
	err = cgroup_remove(c->cgroup);
	*c = fresh; /* from here destroy cleans the new cgroup, whatever happens */
	if (err)
		return err;
	return process_start(pod, c->cgroup, server_main, i, &c->server);
}

const char *testpod_name(const struct testpod *pod) { return pod->name; }
const char *testpod_uid(const struct testpod *pod) { return pod->uid; }
const char *testpod_cgroup_root(const struct testpod *pod) { return pod->cgroup_root; }
const char *testpod_cgroup_dir(const struct testpod *pod) { return pod->pod_cgroup; }
int testpod_n_containers(const struct testpod *pod) { return pod->n_containers; }
const char *testpod_sandbox_id(const struct testpod *pod) { return pod->sandbox.id; }
const char *testpod_sandbox_cgroup_dir(const struct testpod *pod) { return pod->sandbox.cgroup; }
pid_t testpod_pause_pid(const struct testpod *pod) { return pod->sandbox.server.pid; }
const char *testpod_netns_path(const struct testpod *pod) { return pod->netns_path; }
const char *testpod_host_veth(const struct testpod *pod) { return pod->host_veth; }
const char *testpod_cni_dir(const struct testpod *pod) { return pod->cni_dir; }
const char *testpod_ipv4(const struct testpod *pod) { return pod->ipv4[0] ? pod->ipv4 : NULL; }
const char *testpod_ipv6(const struct testpod *pod) { return pod->ipv6[0] ? pod->ipv6 : NULL; }

const char *testpod_container_cgroup_dir(const struct testpod *pod, int i)
{
	return pod && i >= 0 && i < pod->n_containers ? pod->containers[i].cgroup : NULL;
}

const char *testpod_container_id(const struct testpod *pod, int i)
{
	return pod && i >= 0 && i < pod->n_containers ? pod->containers[i].id : NULL;
}

pid_t testpod_container_server_pid(const struct testpod *pod, int i)
{
	return pod && i >= 0 && i < pod->n_containers ? pod->containers[i].server.pid : -1;
}
