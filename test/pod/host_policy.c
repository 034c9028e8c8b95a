/* Host-wide rules the test pods share, like a CNI node agent's: guard routes so pod-range traffic
 * never leaves the machine, and forwarding between pod veths (and only between them). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

#define GUARD_V4 "10.244.0.0/16"
#define GUARD_V6 "fd00:10:244::/48"

int host_install_guard_routes(void)
{
	/* If a pod route is ever missing, traffic for the pod ranges dies here instead of following
	 * the default route off the machine. Left in place on purpose. */
	int err = RUN("ip", "route", "replace", "unreachable", GUARD_V4);

	return err ? err : RUN("ip", "-6", "route", "replace", "unreachable", GUARD_V6);
}

/* Replaced as a whole in one nft transaction, so concurrent creates never duplicate it. */
static const char nft_ruleset[] =
	"table inet pcmc_testpod {}\n"
	"delete table inet pcmc_testpod\n"
	"table inet pcmc_testpod {\n"
	"  chain forward {\n"
	"    type filter hook forward priority -5; policy accept;\n"
	"    iifname \"pcmc*\" oifname != \"pcmc*\" counter drop comment \"test pod traffic never leaves the machine\"\n"
	"  }\n"
	"}\n";

static int accept_between_pods(const char *iptables)
{
	int rc = RUN_STATUS(NULL, iptables, "-w", "-C", "FORWARD", "-i", "pcmc+", "-o", "pcmc+", "-j", "ACCEPT");

	if (rc == -ENOENT)
		return 0; /* no iptables at all: nothing can drop forwarded packets there */
	if (rc == 0)
		return 0;
	return RUN(iptables, "-w", "-I", "FORWARD", "1", "-i", "pcmc+", "-o", "pcmc+", "-j", "ACCEPT");
}

int host_allow_pod_to_pod(void)
{
	int rc, err;

	/* First the drop of everything from a pod to a non-pod interface: forwarding must never
	 * become a way off the machine. */
	rc = RUN_STATUS(nft_ruleset, "nft", "-f", "-");
	if (rc != 0) {
		log_error("cannot install the test pod forward guard (nft -f)", LOG_INT("exit", rc));
		return rc < 0 ? rc : -EIO;
	}
	/* Docker (and others) set the iptables FORWARD policy to DROP; a verdict in another nft
	 * base chain cannot override that, so accept pod<->pod inside that chain, like Calico. */
	if ((err = accept_between_pods("iptables")) || (err = accept_between_pods("ip6tables")))
		return err;
	return 0;
}

int host_veth_forwarding(const char *veth)
{
	char path[128];
	struct stat st;
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", veth);
	if ((err = write_file(path, "1")))
		return err;
	/* IPv6 forwarding is host-wide (net.ipv6.conf.all.forwarding, which also stops accepting
	 * router advertisements everywhere). Kernels >= 6.17 can enable it for one ingress device. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/force_forwarding", veth);
	if (stat(path, &st) == 0)
		return write_file(path, "1");
	log_warn("pod-to-pod IPv6 needs net.ipv6.conf.all.forwarding=1 on this kernel (no force_forwarding)",
		 LOG_STR("veth", veth));
	return 0;
}
