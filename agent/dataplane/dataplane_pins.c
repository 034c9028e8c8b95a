/* Pinned layout on bpffs: directory handling for <root>/v<N>/. Objects are pinned by libbpf
 * (maps: pin_root_path) and by the dataplane (links, per-pod programs). */
#include "agent/dataplane/dataplane_pins.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int pins_mkdir(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int pins_prepare_root(const char *root)
{
	char parent[PATH_MAX];
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", root) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf") != 0)
			return -ENOTSUP;
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
			return -errno;
	}
	return pins_mkdir(root);
}

int pins_remove_tree(const char *path)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (lstat(child, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			err = pins_remove_tree(child) ?: err;
		else if (unlink(child) < 0 && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int pins_list_versions(const char *root, int *versions, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < max) {
		char *end;
		long v;

		if (de->d_name[0] != 'v')
			continue;
		v = strtol(de->d_name + 1, &end, 10);
		if (*end || v <= 0 || v > 1000000)
			continue;
		versions[n++] = (int)v;
	}
	closedir(d);
	qsort(versions, n, sizeof(int), cmp_int);
	return n;
}

uint32_t pins_prog_id(const char *path)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	uint32_t id = 0;
	int fd;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		id = info.id;
	close(fd);
	return id;
}
