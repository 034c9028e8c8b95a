/* Pod cgroups: the kubelet's cgroup layouts (cgroupfs and systemd drivers, three QoS classes)
 * mapped from a pod UID to a directory, plus walking the container cgroups below it. */
#include "agent/dataplane/pod_cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static int is_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

int pod_cgroups_detect_root(char *buf, size_t len)
{
	static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (is_cgroup2(candidates[i])) {
			snprintf(buf, len, "%s", candidates[i]);
			return 0;
		}
	}
	return -ENOENT;
}

int pod_cgroups_find(const char *root, const char *uid, char *dir, size_t len)
{
	static const char *const qos[] = { NULL, "burstable", "besteffort" };
	char uid_systemd[64];
	struct stat st;

	if (strlen(uid) >= sizeof(uid_systemd) || strchr(uid, '/'))
		return -EINVAL;
	snprintf(uid_systemd, sizeof(uid_systemd), "%s", uid);
	for (char *c = uid_systemd; *c; c++)
		if (*c == '-')
			*c = '_';

	for (size_t i = 0; i < sizeof(qos) / sizeof(qos[0]); i++) {
		int n;

		if (qos[i])
			n = snprintf(dir, len, "%s/kubepods/%s/pod%s", root, qos[i], uid);
		else
			n = snprintf(dir, len, "%s/kubepods/pod%s", root, uid);
		if (n > 0 && (size_t)n < len && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;

		if (qos[i])
			n = snprintf(dir, len, "%s/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
				     root, qos[i], qos[i], uid_systemd);
		else
			n = snprintf(dir, len, "%s/kubepods.slice/kubepods-pod%s.slice", root, uid_systemd);
		if (n > 0 && (size_t)n < len && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	dir[0] = '\0';
	return -ENOENT;
}

int pod_cgroups_walk(const char *dir, int (*fn)(const char *path, void *arg), void *arg)
{
	struct dirent *de;
	DIR *d;
	int err;

	err = fn(dir, arg);
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		err = pod_cgroups_walk(path, fn, arg);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

static int first_pid_in(const char *dir, void *arg)
{
	char path[PATH_MAX];
	pid_t *pid = arg;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", pid) != 1)
		*pid = 0;
	fclose(f);
	return *pid > 0 ? 1 : 0;
}

pid_t pod_cgroups_any_pid(const char *dir)
{
	pid_t pid = 0;

	pod_cgroups_walk(dir, first_pid_in, &pid);
	return pid > 0 ? pid : 0;
}
