/* Orphans: pods pinned by an earlier run that are no longer wanted, and whole pin trees of other
 * layout versions, removed once the wanted pods run on this run's layout. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/dataplane_pins.h"
#include "agent/dataplane/fw_legacy.h"
#include "agent/dataplane/fw_loader.h"
#include "common/log.h"

static bool wanted(const char *uid, const char *const *uids, int n)
{
	for (int i = 0; i < n; i++)
		if (uids[i] && strncmp(uids[i], uid, PCMC_POD_UID_LEN) == 0)
			return true;
	return false;
}

static bool pod_has_iface(const struct dp_pod *pod, uint32_t ifindex)
{
	for (int i = 0; pod && i < pod->n_ifaces; i++)
		if (pod->ifaces[i].ifindex == ifindex)
			return true;
	return false;
}

/* A pod's filters placed by an older layout: layout 1 inside the pod's netns, later layouts on
 * the host-side interfaces the record lists (detached only if they run one of our programs).
 * Where the pod (NULL: unknown here) has our filter now, ours replaced the old one atomically. */
static void remove_old_layout_filters(struct dataplane *dp, const char *old_dir, const char *uid,
				      const struct pcmc_pod_record *rec, const struct dp_pod *pod)
{
	int err = 0;

	if (!(rec->flags & PCMC_POD_FW_HOST)) {
		err = fw_legacy_detach(old_dir, uid, rec, dp->tc_handle, dp->tc_priority);
	} else {
		for (int i = 0; i < PCMC_MAX_POD_IFACES; i++)
			if (rec->host_ifindex[i] && !pod_has_iface(pod, rec->host_ifindex[i]))
				err = fw_detach_iface(dp, rec->slot, rec->host_ifindex[i]) ?: err;
	}
	if (err)
		log_warn("could not take an older layout's filter off a pod", LOG_STR("pod_uid", uid),
			 LOG_STR("pin_dir", old_dir), LOG_ERRNO(err));
}

static int retire_layout(struct dataplane *dp, int version, const char *const *uids, int n)
{
	struct bpf_map_info info;
	uint32_t info_len = sizeof(info);
	struct pcmc_pod_key key, next;
	char dir[300], path[PATH_MAX];
	void *prev = NULL, *value = NULL;
	bool keep = false;
	int fd;

	snprintf(dir, sizeof(dir), "%s/v%d", dp->root, version);
	snprintf(path, sizeof(path), "%s/pod_records", dir);
	fd = bpf_obj_get(path);
	memset(&info, 0, sizeof(info));
	/* Layout 1 records end before host_ifindex; the buffer is zeroed to our full size. */
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &info_len) == 0 && info.key_size == sizeof(key) &&
	    info.value_size >= offsetof(struct pcmc_pod_record, host_ifindex))
		value = calloc(1, info.value_size > sizeof(struct pcmc_pod_record) ? info.value_size :
				  sizeof(struct pcmc_pod_record));
	while (value && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		key.uid[sizeof(key.uid) - 1] = '\0';
		if (bpf_map_lookup_elem(fd, &key, value) < 0)
			continue;
		struct dp_pod *pod = dp_find_pod(dp, key.uid);
		const struct pcmc_pod_record *rec = value;

		bool on_this_layout = pod && (!pod->want_firewall || pod->fw_attached);

		if (!on_this_layout && wanted(key.uid, uids, n)) {
			/* Its old filter must stay, and its program pinned: unpinned, a filter running it
			 * would look like another tool's to every later attach. */
			log_warn("keeping the old layout: a wanted pod does not run on the new one yet",
				 LOG_STR("pod_uid", key.uid), LOG_INT("old_layout", version));
			keep = true;
			continue;
		}
		remove_old_layout_filters(dp, dir, key.uid, rec, pod);
	}
	free(value);
	if (fd >= 0)
		close(fd);
	if (keep)
		return 0;
	/* Unpinning the old sys_enter link detaches the old counter: the new one already runs. */
	log_info("retiring pinned layout", LOG_STR("pin_dir", dir), LOG_INT("layout", dp->layout));
	return pins_remove_tree(dir);
}

int dataplane_remove_orphans(struct dataplane *dp, const char *const *uids, int n)
{
	int versions[PINS_MAX_VERSIONS];
	int removed = 0, n_versions, err = 0;

	for (int i = 0; i < PCMC_MAX_PODS; i++) {
		struct dp_pod *pod = dp->pods[i];

		if (!pod || wanted(pod->uid, uids, n))
			continue;
		log_info("removing orphan pod", LOG_STR("pod_uid", pod->uid));
		if (dp_remove_pod(dp, pod) == 0)
			removed++;
		else
			err = -EBUSY;
	}
	n_versions = pins_list_versions(dp->root, versions, PINS_MAX_VERSIONS);
	for (int i = 0; i < n_versions; i++)
		if (versions[i] != dp->layout)
			err = retire_layout(dp, versions[i], uids, n) ?: err;
	return err ? err : removed;
}
