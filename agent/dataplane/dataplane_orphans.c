/* Orphans: pods pinned by an earlier run that are no longer wanted, and whole pin trees of other
 * layout versions, removed once the wanted pods run on this run's layout. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/dataplane_pins.h"
#include "common/log.h"

static bool wanted(const char *uid, const char *const *uids, int n)
{
	for (int i = 0; i < n; i++)
		if (uids[i] && strncmp(uids[i], uid, PCMC_POD_UID_LEN) == 0)
			return true;
	return false;
}

/* A pod pinned only by the old layout: detach its filter (only if ours) through a temporary
 * pod state built from the old layout's record prefix and pins. */
static void remove_old_layout_pod(struct dataplane *dp, const char *old_dir, const char *uid,
				  const struct pcmc_pod_record *rec)
{
	struct dp_pod *pod = calloc(1, sizeof(*pod));
	char path[PATH_MAX];

	if (!pod)
		return;
	snprintf(pod->uid, sizeof(pod->uid), "%s", uid);
	snprintf(pod->ref, sizeof(pod->ref), "%s", uid);
	pod->netns_fd = -1;
	pod->netns_ino = rec->netns_ino;
	pod->want_firewall = rec->flags & PCMC_POD_FIREWALL;
	snprintf(path, sizeof(path), "%s/pods/%s/fw", old_dir, uid);
	pod->fw_prog_fd = bpf_obj_get(path);
	if (pod->fw_prog_fd < 0)
		pod->fw_prog_fd = -1;
	if (pod->want_firewall || pod->fw_prog_fd >= 0)
		dp_detach_firewall(dp, pod, old_dir);
	dp_pod_free(pod);
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
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &info_len) == 0 &&
	    info.key_size == sizeof(key) && info.value_size >= sizeof(struct pcmc_pod_record))
		value = calloc(1, info.value_size);
	while (value && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		key.uid[sizeof(key.uid) - 1] = '\0';
		if (bpf_map_lookup_elem(fd, &key, value) < 0)
			continue;
		struct dp_pod *pod = dp_find_pod(dp, key.uid);

		if (pod && (!pod->want_firewall || pod->fw_attached))
			continue; /* runs on this layout: its filter was replaced atomically (or detached) */
		if (wanted(key.uid, uids, n)) {
			/* Its old program must stay pinned: unpinned, a filter running it would look like
			 * another tool's to every later attach. */
			log_warn("keeping the old layout: a wanted pod does not run on the new one yet",
				 LOG_STR("pod_uid", key.uid), LOG_INT("old_layout", version));
			keep = true;
			continue;
		}
		remove_old_layout_pod(dp, dir, key.uid, value);
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
