/* Host-side interface discovery: the CNI result cache (root-only, written by the runtime) names
 * the interfaces; rtnetlink from the host netns confirms each one (veth, peer in the sandbox netns
 * the record names, peer's name and addresses), without entering the pod's netns. */
#include "agent/dataplane/pod_iface.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/rtnl.h"

#define MAX_RECORDS 8

static int fail(char *why, size_t len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

/* Checks the record's pod side of host veth h (peer in nsid): name and every address. */
static int check_peer(int fd, const struct cni_record *r, const struct rtnl_link *h, char *why, size_t len)
{
	struct rtnl_link peer;
	int err = rtnl_get_link(fd, h->link_nsid, h->link, NULL, &peer);

	if (err)
		return fail(why, len, err == -ENODEV ? -EINVAL : err, "peer of %s (CNI record %s) not found: %s",
			    h->name, r->file, strerror(-err));
	if (strcmp(peer.kind, "veth") != 0 || peer.link != h->ifindex)
		return fail(why, len, -EINVAL, "peer of %s (CNI record %s) is not its veth pair", h->name, r->file);
	if (strcmp(peer.name, r->if_name) != 0)
		return fail(why, len, -EINVAL, "peer of %s is named %s, the CNI record %s says %s", h->name,
			    peer.name, r->file, r->if_name);
	for (int i = 0; i < r->n_ips; i++) {
		err = rtnl_has_addr(fd, h->link_nsid, peer.ifindex, r->ips[i].family, r->ips[i].addr);
		if (err < 0)
			return fail(why, len, err, "addresses of %s's peer: %s", h->name, strerror(-err));
		if (!err)
			return fail(why, len, -EINVAL, "peer of %s does not hold address %d of CNI record %s",
				    h->name, i, r->file);
	}
	return 0;
}

static bool listed(const struct pod_iface *out, int n, uint32_t ifindex)
{
	for (int i = 0; i < n; i++)
		if (out[i].ifindex == ifindex)
			return true;
	return false;
}

/* Adds the record's verified host interfaces to out[*n]. 0 (also for a stale record) or -errno. */
static int check_record(int fd, const struct cni_record *r, struct pod_iface *out, int *n, int max,
			char *why, size_t len)
{
	struct rtnl_link links[CNI_MAX_HOST_IFACES];
	bool present[CNI_MAX_HOST_IFACES] = { false };
	int nsfd, nsid, err, found = 0;
	bool any = false;

	/* containerd's own loopback record (cni-loopback-<sandbox>-lo): the pod's lo, nothing on the host.
	 * No other device of a netns can be named lo, so no attachment hides behind this name. */
	if (strcmp(r->if_name, "lo") == 0 && r->n_host_ifnames == 0)
		return 0;
	/* Looking the links up first also makes the kernel give the peer's netns an id. */
	for (int i = 0; i < r->n_host_ifnames; i++) {
		err = rtnl_get_link(fd, -1, 0, r->host_ifnames[i], &links[i]);
		if (err && err != -ENODEV)
			return fail(why, len, err, "looking up %s: %s", r->host_ifnames[i], strerror(-err));
		present[i] = !err;
		any |= present[i];
	}
	nsfd = open(r->sandbox, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		err = -errno;
		if (err == -ENOENT && !any)
			return 0; /* an earlier sandbox's record: interfaces and netns are gone */
		return fail(why, len, err == -ENOENT ? -EINVAL : err, "sandbox netns %s of CNI record %s: %s",
			    r->sandbox, r->file, strerror(-err));
	}
	nsid = rtnl_get_nsid(fd, nsfd);
	close(nsfd);
	if (nsid == -ENOENT) /* no interface of the host links into that netns */
		return fail(why, len, -EINVAL, "CNI record %s names no veth of the host whose peer is in %s",
			    r->file, r->sandbox);
	if (nsid < 0)
		return fail(why, len, nsid == -EINVAL ? -EINVAL : nsid,
			    "sandbox %s of CNI record %s is not a network namespace: %s", r->sandbox, r->file,
			    strerror(-nsid));
	for (int i = 0; i < r->n_host_ifnames; i++) {
		const struct rtnl_link *h = &links[i];

		if (!present[i] || strcmp(h->kind, "veth") != 0 || h->link_nsid < 0)
			continue; /* not the pod's pair: a bridge, or gone */
		if (h->link_nsid != nsid)
			return fail(why, len, -EINVAL, "peer of %s is not in the sandbox %s of CNI record %s",
				    h->name, r->sandbox, r->file);
		err = check_peer(fd, r, h, why, len);
		if (err)
			return err;
		found++;
		if (listed(out, *n, h->ifindex))
			continue;
		if (*n == max)
			return fail(why, len, -E2BIG, "more than %d host interfaces", max);
		out[*n].ifindex = h->ifindex;
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", h->name);
		(*n)++;
	}
	if (!found)
		return fail(why, len, -EINVAL, "CNI record %s names no veth of the host whose peer is in %s",
			    r->file, r->sandbox);
	return 0;
}

int pod_iface_find(struct cni_cache *cache, int rtnl_fd, const char *uid, struct pod_iface *out, int max,
		   char *why, size_t why_len)
{
	const struct cni_record *recs[MAX_RECORDS];
	int n_recs, n = 0, err;

	why[0] = '\0';
	n_recs = cni_cache_find(cache, uid, recs, MAX_RECORDS);
	if (n_recs < 0)
		return fail(why, why_len, n_recs, "reading %s: %s", cni_cache_results_dir(cache), strerror(-n_recs));
	for (int i = 0; i < n_recs; i++) {
		err = check_record(rtnl_fd, recs[i], out, &n, max, why, why_len);
		if (err)
			return err;
	}
	if (!n)
		return fail(why, why_len, -ESRCH, "no CNI result in %s names this pod's interface yet "
			    "(hostNetwork pods have none)", cni_cache_results_dir(cache));
	return n;
}
