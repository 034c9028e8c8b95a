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

/* One open per directory (a child's relative to its parent's fd: one path component to look up),
 * listed with getdents64 on that fd: a pod has a handful of cgroups, each walked at every apply
 * and refresh. */
static int walk_at(int parent_fd, const char *name, const char *dir,
		   int (*fn)(const char *path, int fd, void *arg), void *arg)
{
	char buf[2048] __attribute__((aligned(__alignof__(struct dirent64))));
	ssize_t len = 0;
	struct stat st;
	int fd, err;

	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* removed meanwhile */
	err = fn(dir, fd, arg);
	/* cgroup2 (kernfs) counts a directory's subdirectories in its link count: 2 is a leaf (a
	 * container), whose twenty-odd control files need not be listed. */
	if (!err && fstat(fd, &st) == 0 && st.st_nlink == 2) {
		close(fd);
		return 0;
	}
	while (!err && (len = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < len && !err;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + off);
			char path[PATH_MAX];

			off += de->d_reclen;
			if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
			    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
				continue;
			err = walk_at(fd, de->d_name, path, fn, arg);
		}
	}
	if (!err && len < 0 && errno != ENOENT)
		err = -errno;
	close(fd);
	return err;
}

int pod_cgroups_walk(const char *dir, int (*fn)(const char *path, int fd, void *arg), void *arg)
{
	return walk_at(AT_FDCWD, dir, dir, fn, arg);
}

static int first_pid_in(const char *dir, int dir_fd, void *arg)
{
	pid_t *pid = arg;
	FILE *f;
	int fd;

	(void)dir;
	fd = openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	f = fd >= 0 ? fdopen(fd, "re") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
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
