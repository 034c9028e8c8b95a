/* Recovering from earlier runs: remove what a pod left behind when nobody could destroy it
 * (by name and uid), and serialize runs of a suite that reuses fixed pod names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test/pod/internal.h"

static void keep_first(int *err, int e)
{
	if (e && !*err)
		*err = e;
}

int testpod_suite_lock(const char *suite)
{
	char path[PATH_MAX];
	int fd;

	if (!suite || !*suite || strchr(suite, '/'))
		return -EINVAL;
	mkdir("/run/lock", 0755);
	snprintf(path, sizeof(path), "/run/lock/pcmc-%s.lock", suite);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

int testpod_purge(const char *cgroup_root, const char *name, const char *uid)
{
	struct testpod *pod;
	int err = 0;

	if (!pod_valid_name(name) || (uid && !pod_valid_uid(uid)))
		return -EINVAL;
	if ((err = janitor_wait_for(name, 10000)))
		return err;
	pod = calloc(1, sizeof(*pod));
	if (!pod)
		return -ENOMEM;
	snprintf(pod->name, sizeof(pod->name), "%s", name);
	snprintf(pod->netns_name, sizeof(pod->netns_name), "pcmc-%s", name);
	snprintf(pod->netns_path, sizeof(pod->netns_path), "/run/netns/%s", pod->netns_name);
	host_veth_name(name, pod->host_veth);
	if (uid) {
		snprintf(pod->uid, sizeof(pod->uid), "%s", uid);
		err = cgroup_resolve_root(cgroup_root, pod->cgroup_root, sizeof(pod->cgroup_root));
		for (int d = TESTPOD_CGROUPFS; !err && d <= TESTPOD_SYSTEMD; d++) {
			for (int q = TESTPOD_GUARANTEED; q <= TESTPOD_BESTEFFORT; q++) {
				char dir[PATH_MAX];

				pod->driver = (enum testpod_driver)d;
				pod->qos = (enum testpod_qos)q;
				if (cgroup_pod_path(pod, dir, sizeof(dir)) == 0)
					keep_first(&err, cgroup_remove(dir));
			}
		}
	}
	/* The names are ours by construction (pcmc-<name>, pcmc<hash of name>). */
	pod->veth_created = pod->netns_created = true;
	keep_first(&err, network_destroy(pod));
	free(pod);
	return err;
}
