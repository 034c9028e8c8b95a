/* Layout-1 filters inside pod netns: found by the netns inode the record kept (in /run/netns or
 * /proc/<pid>/ns/net), detached from a short-lived thread that joined that netns with setns. */
#include "agent/dataplane/fw_legacy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/dataplane/dataplane_pins.h"
#include "agent/dataplane/dataplane_tc.h"

static int open_if_ino(const char *path, uint64_t ino)
{
	struct stat st;

	if (stat(path, &st) < 0 || st.st_ino != ino)
		return -ENOENT;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* fd of the network namespace with this inode, or -ENOENT when none is reachable (it is gone). */
static int open_netns_ino(uint64_t ino)
{
	static const char *const dirs[] = { "/run/netns", "/var/run/netns", "/proc" };
	struct dirent *de;
	char path[PATH_MAX];
	int fd = -ENOENT;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && fd < 0; i++) {
		DIR *d = opendir(dirs[i]);
		bool proc = i == 2;

		while (d && fd < 0 && (de = readdir(d))) {
			if (de->d_name[0] == '.' || (proc && (de->d_name[0] < '1' || de->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), proc ? "%s/%s/ns/net" : "%s/%s", dirs[i], de->d_name);
			fd = open_if_ino(path, ino);
		}
		if (d)
			closedir(d);
	}
	return fd < 0 ? -ENOENT : fd;
}

struct in_netns {
	int netns_fd;
	struct tc_filter filter;
	int ret;
};

static void *detach_in_netns(void *arg)
{
	struct in_netns *call = arg;

	call->ret = setns(call->netns_fd, CLONE_NEWNET) < 0 ? -errno : tc_filter_detach(&call->filter);
	return NULL;
}

int fw_legacy_detach(const char *old_dir, const char *uid, const struct pcmc_pod_record *rec,
		     uint32_t tc_handle, uint16_t tc_priority)
{
	char path[PATH_MAX];
	uint32_t id;
	pthread_t thread;
	struct in_netns call = {
		.filter = {
			.ifindex = rec->ifindex, .hook = BPF_TC_INGRESS, .handle = tc_handle,
			.priority = tc_priority, .prog_name = "pcmc_l4_fw", .our_prog_ids = &id,
			.n_our_prog_ids = 1,
		},
		.ret = -EINVAL,
	};
	int err;

	snprintf(path, sizeof(path), "%s/pods/%s/fw", old_dir, uid);
	id = pins_prog_id(path);
	if (!id || !rec->netns_ino || !rec->ifindex)
		return 0; /* nothing pinned: nothing of ours can be attached */
	call.netns_fd = open_netns_ino(rec->netns_ino);
	if (call.netns_fd < 0)
		return 0; /* the pod's netns, and our filter with it, is gone */
	err = pthread_create(&thread, NULL, detach_in_netns, &call);
	if (!err)
		pthread_join(thread, NULL);
	close(call.netns_fd);
	return err ? -err : call.ret;
}
