/* Pod network namespaces: the attaching thread joins the pod's netns with setns(CLONE_NEWNET);
 * only that thread moves, so the agent's own namespace never changes. */
#include "agent/dataplane/pod_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pod_netns_open_pid(pid_t pid, uint64_t *ino)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (ino)
		*ino = st.st_ino;
	return fd;
}

uint64_t pod_netns_self_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

static int open_if_ino(const char *path, uint64_t ino)
{
	struct stat st;

	if (stat(path, &st) < 0 || st.st_ino != ino)
		return -ENOENT;
	return open(path, O_RDONLY | O_CLOEXEC);
}

int pod_netns_open_ino(uint64_t ino)
{
	static const char *const dirs[] = { "/run/netns", "/var/run/netns" };
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d;
	int fd = -ENOENT;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && fd < 0; i++) {
		d = opendir(dirs[i]);
		while (d && fd < 0 && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			fd = open_if_ino(path, ino);
		}
		if (d)
			closedir(d);
	}
	d = opendir("/proc");
	while (d && fd < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		fd = open_if_ino(path, ino);
	}
	if (d)
		closedir(d);
	return fd < 0 ? -ENOENT : fd;
}

struct netns_call {
	int netns_fd;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void *netns_thread(void *p)
{
	struct netns_call *call = p;

	if (setns(call->netns_fd, CLONE_NEWNET) < 0) {
		call->ret = -errno;
		return NULL;
	}
	call->ret = call->fn(call->arg);
	return NULL;
}

int pod_netns_run(int netns_fd, int (*fn)(void *arg), void *arg)
{
	struct netns_call call = { .netns_fd = netns_fd, .fn = fn, .arg = arg, .ret = -EINVAL };
	pthread_t thread;
	int err;

	err = pthread_create(&thread, NULL, netns_thread, &call);
	if (err)
		return -err;
	pthread_join(thread, NULL);
	return call.ret;
}
