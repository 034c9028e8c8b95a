/* A pod's host-side interfaces: named by the runtime's CNI result cache for the pod's UID, and
 * checked against the kernel. Nothing a process in the pod does can change the answer. */
#ifndef PCMC_AGENT_POD_IFACE_H
#define PCMC_AGENT_POD_IFACE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/dataplane/cni_cache.h"

struct pod_iface {
	uint32_t ifindex; /* in the host netns */
	char name[IFNAMSIZ];
};

/* The pod's host-side interfaces (at most max), each checked: it exists in the host netns and
 * is a veth, its peer is in the sandbox netns the record names, carries the record's pod-side
 * name and every address of the record. Records whose interface and sandbox are both gone are
 * left over from an earlier sandbox and ignored. Returns the count (>= 1) or -errno with the
 * reason in why: -ESRCH no record of the pod (yet), -EINVAL a record that does not check out,
 * -E2BIG more interfaces than max, other -errno from the kernel. rtnl_fd: rtnl_open(). */
int pod_iface_find(struct cni_cache *cache, int rtnl_fd, const char *uid, struct pod_iface *out, int max,
		   char *why, size_t why_len);

#endif
