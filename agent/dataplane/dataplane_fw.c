/* A pod's firewall placement: its host-side interfaces found (pod_iface) when they changed, each
 * claimed for the pod's slot and given our filters; interfaces it no longer has let go. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/fw_loader.h"
#include "agent/dataplane/rtnl.h"
#include "common/log.h"

static bool has_iface(const struct pod_iface *ifaces, int n, uint32_t ifindex)
{
	for (int i = 0; i < n; i++)
		if (ifaces[i].ifindex == ifindex)
			return true;
	return false;
}

/* The interfaces we attached to still exist under the same name: nothing to find again. */
static bool ifaces_unchanged(struct dataplane *dp, const struct dp_pod *pod)
{
	struct rtnl_link link;

	if (!pod->n_ifaces)
		return false;
	for (int i = 0; i < pod->n_ifaces; i++)
		if (rtnl_get_link(dp->rtnl_fd, -1, pod->ifaces[i].ifindex, NULL, &link) ||
		    strcmp(link.name, pod->ifaces[i].name) != 0)
			return false;
	return true;
}

/* The pod in another slot that has our filter on ifindex, or NULL. */
static const struct dp_pod *iface_owner(const struct dataplane *dp, const struct dp_pod *pod, uint32_t ifindex)
{
	for (int i = 0; i < PCMC_MAX_PODS; i++)
		if (dp->pods[i] && dp->pods[i] != pod && has_iface(dp->pods[i]->ifaces, dp->pods[i]->n_ifaces, ifindex))
			return dp->pods[i];
	return NULL;
}

static int fail_iface(struct dp_pod *pod, int err, const char *what, const struct pod_iface *iface)
{
	char text[128];

	snprintf(text, sizeof(text), "%s (host interface %s)", what, iface->name);
	return dp_pod_fail(pod, err, text);
}

int dp_ensure_firewall(struct dataplane *dp, struct dp_pod *pod, bool *attached)
{
	struct pod_iface found[PCMC_MAX_POD_IFACES];
	char why[320];
	int n, err;

	if (attached)
		*attached = false;
	if (!pod->want_firewall)
		return 0;
	if (pod->fw_attached && ifaces_unchanged(dp, pod))
		return 0;
	dp_watch_cni(dp);
	n = pod_iface_find(dp->cni, dp->rtnl_fd, pod->uid, found, PCMC_MAX_POD_IFACES, why, sizeof(why));
	if (n < 0) {
		pod->fw_attached = false;
		return dp_pod_fail(pod, n, why);
	}
	for (int i = 0; i < n; i++) {
		const struct dp_pod *owner = iface_owner(dp, pod, found[i].ifindex);

		if (owner) {
			snprintf(why, sizeof(why), "host interface %s is already the interface of pod %s", found[i].name,
				 owner->ref);
			pod->fw_attached = false;
			return dp_pod_fail(pod, -EBUSY, why);
		}
	}
	/* New interfaces first, then the ones the pod no longer has: no moment without a filter. */
	for (int i = 0; i < n; i++) {
		err = fw_attach_iface(dp, pod->slot, pod->gen, found[i].ifindex);
		if (err) {
			pod->fw_attached = false;
			return fail_iface(pod, err, err == -EEXIST ? "another tool's TC filter holds pcmc's handle/priority" :
					  err == -ENODEV ? "interface gone while attaching" : "attaching TC filters", &found[i]);
		}
	}
	for (int i = 0; i < pod->n_ifaces; i++) {
		if (has_iface(found, n, pod->ifaces[i].ifindex))
			continue;
		err = fw_detach_iface(dp, pod->slot, pod->ifaces[i].ifindex);
		if (err)
			log_warn("could not take pcmc's filter off a pod's former interface", LOG_DP_POD(pod),
				 LOG_INT("ifindex", pod->ifaces[i].ifindex), LOG_ERRNO(err));
	}
	memcpy(pod->ifaces, found, sizeof(found[0]) * (size_t)n);
	pod->n_ifaces = n;
	pod->fw_attached = true;
	pod->error[0] = '\0';
	err = dp_write_record(dp, pod);
	if (err)
		return dp_pod_fail(pod, err, "writing pod record");
	if (attached)
		*attached = true; /* the caller's line says so */
	else
		log_info("pod firewall attached", LOG_DP_POD(pod),
			 LOG_STR("host_interface", found[0].name), LOG_INT("interfaces", n));
	return 0;
}

int dp_detach_firewall(struct dataplane *dp, struct dp_pod *pod)
{
	int err = 0;

	for (int i = 0; i < pod->n_ifaces; i++) {
		int e = fw_detach_iface(dp, pod->slot, pod->ifaces[i].ifindex);

		if (e == -EEXIST)
			log_warn("TC filter at pcmc's handle/priority is not ours, left in place",
				 LOG_DP_POD(pod), LOG_STR("host_interface", pod->ifaces[i].name));
		else if (e)
			err = err ?: e;
	}
	if (err)
		return dp_pod_fail(pod, err, "detaching TC filters");
	pod->n_ifaces = 0;
	pod->fw_attached = false;
	return 0;
}
