/* Pod networking like a Calico CNI ADD/DEL: persistent netns (ip netns add), veth pcmcXXXXXXXX <->
 * eth0, /32 and /128 host routes, link-local gateways, proxy ARP, the runtime's CNI result record
 * (cni_record.c); host-wide rules in host_policy.c. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"


void host_veth_name(const char *pod_name, char *buf)
{
	/* Calico derives the name from a hash of the workload; so do we (FNV-1a), which lets a
	 * delete find the veth from the pod name alone. */
	uint32_t h = 2166136261u;

	for (const char *p = pod_name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(buf, IFNAMSIZ, "pcmc%08x", h);
}

int netns_enter(const char *netns_path)
{
	int fd = open(netns_path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Sysctls under /proc/sys/net are those of the netns of the process that opens them, so
 * write them from a child that entered the pod netns. */
static int write_in_netns(const char *netns_path, const char *const *paths, const char *value)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (netns_enter(netns_path) < 0)
			_exit(1);
		for (int i = 0; paths[i]; i++)
			if (write_file(paths[i], value) < 0)
				_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int host_sysctl(const char *family, const char *ifname, const char *key, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
	return write_file(path, value);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int setup_pod_side(struct testpod *pod)
{
	const char *ns = pod->netns_name;
	char addr[64];
	int err;

	if ((err = RUN("ip", "-n", ns, "link", "set", "lo", "up")) ||
	    (err = RUN("ip", "-n", ns, "link", "set", "eth0", "up")))
		return err;
	if (pod->ipv4[0]) {
		snprintf(addr, sizeof(addr), "%s/32", pod->ipv4);
		if ((err = RUN("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")) ||
		    (err = RUN("ip", "-n", ns, "route", "add", "default", "via", POD_GATEWAY_V4,
			       "dev", "eth0", "onlink")))
			return err;
	}
	if (pod->ipv6[0]) {
		snprintf(addr, sizeof(addr), "%s/128", pod->ipv6);
		if ((err = RUN("ip", "-n", ns, "-6", "addr", "add", addr, "dev", "eth0", "nodad")) ||
		    (err = RUN("ip", "-n", ns, "-6", "route", "add", "default", "via", POD_GATEWAY_V6,
			       "dev", "eth0")))
			return err;
	}
	return 0;
}

static int setup_host_side(struct testpod *pod)
{
	const char *veth = pod->host_veth;
	char addr[64], path[128];
	int err;

	/* proxy_arp: the pod ARPs for 169.254.1.1, which exists nowhere; the host answers with
	 * its own MAC because it routes that address elsewhere (needs forwarding on this veth). */
	if ((err = host_sysctl("ipv4", veth, "proxy_arp", "1")))
		return err;
	/* Without this the kernel delays every proxied ARP reply by a random 0-800 ms
	 * (neigh.default.proxy_delay = 80 jiffies, via the proxy queue): first packets from a
	 * pod took 1-1.8 s and, under pod churn, some ARPs went unanswered (EHOSTUNREACH after
	 * 3 s). Calico sets it to 0 on its veths too. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/neigh/%s/proxy_delay", veth);
	if ((err = write_file(path, "0")))
		return err;
	if (exists("/proc/sys/net/ipv6")) {
		/* The pod's IPv6 gateway is this side's EUI-64 link-local: make sure IPv6 is on and the
		 * address is derived from the MAC. accept_dad=0 makes it usable at once: with DAD it
		 * stays tentative ~2 s after the pod side comes up, the host ignores the pod's
		 * neighbor solicitations, and the first host->pod IPv6 connection took 2037 ms
		 * (a client with a 1 s timeout would have reported the pod as dropping). */
		if ((err = host_sysctl("ipv6", veth, "disable_ipv6", "0")) ||
		    (err = host_sysctl("ipv6", veth, "addr_gen_mode", "0")) ||
		    (err = host_sysctl("ipv6", veth, "accept_dad", "0")) ||
		    (err = host_sysctl("ipv6", veth, "accept_ra", "0")))
			return err;
	}
	if ((err = host_veth_forwarding(veth)) || (err = RUN("ip", "link", "set", veth, "up")))
		return err;
	if (pod->ipv4[0]) {
		snprintf(addr, sizeof(addr), "%s/32", pod->ipv4);
		if ((err = RUN("ip", "route", "add", addr, "dev", veth)))
			return err;
	}
	if (pod->ipv6[0]) {
		snprintf(addr, sizeof(addr), "%s/128", pod->ipv6);
		if ((err = RUN("ip", "-6", "route", "add", addr, "dev", veth)))
			return err;
	}
	return 0;
}

int network_create(struct testpod *pod)
{
	static const char *const pod_dad_off[] = {
		"/proc/sys/net/ipv6/conf/all/accept_dad", "/proc/sys/net/ipv6/conf/default/accept_dad",
		"/proc/sys/net/ipv6/conf/eth0/accept_dad", NULL,
	};
	int err;

	if (exists(pod->netns_path)) {
		log_error("netns already exists", LOG_STR("netns", pod->netns_path));
		return -EEXIST;
	}
	if (if_nametoindex(pod->host_veth)) {
		log_error("host veth already exists", LOG_STR("veth", pod->host_veth),
			  LOG_STR("pod", pod->name));
		return -EEXIST;
	}
	if ((err = host_install_guard_routes()) || (err = host_allow_pod_to_pod()))
		return err;
	if ((err = RUN("ip", "netns", "add", pod->netns_name)))
		return err;
	pod->netns_created = true;
	if ((err = RUN("ip", "link", "add", pod->host_veth, "address", HOST_VETH_MAC, "type", "veth",
		       "peer", "name", "eth0", "netns", pod->netns_name)))
		return err;
	pod->veth_created = true;
	if (exists("/proc/sys/net/ipv6") && (err = write_in_netns(pod->netns_path, pod_dad_off, "0"))) {
		log_error("cannot disable DAD in the pod netns", LOG_STR("netns", pod->netns_path));
		return err;
	}
	if ((err = setup_host_side(pod)) || (err = setup_pod_side(pod)) || (err = network_identify(pod)))
		return err;
	return cni_record_write(pod); /* like libcni: once the plugin's ADD succeeded */
}

int network_identify(struct testpod *pod)
{
	struct stat st;

	if (stat(pod->netns_path, &st) < 0)
		return -errno;
	pod->netns_ino = st.st_ino; /* the nsfs inode: unique per network namespace */
	pod->veth_ifindex = (int)if_nametoindex(pod->host_veth);
	return pod->veth_ifindex ? 0 : -ENODEV;
}

int network_destroy(struct testpod *pod)
{
	int err = cni_record_remove(pod), e;

	/* Deleting the host end deletes the pair and the host routes through it. */
	if (pod->veth_created && if_nametoindex(pod->host_veth) && (e = RUN("ip", "link", "del", pod->host_veth)))
		err = e;
	pod->veth_created = false;
	if (pod->netns_created && exists(pod->netns_path) &&
	    (e = RUN("ip", "netns", "del", pod->netns_name)) && !err)
		err = e;
	pod->netns_created = false;
	return err;
}
