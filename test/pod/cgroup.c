/* Pod and container cgroups in kubelet's layout (cgroupfs and systemd drivers, three QoS
 * classes) under the cgroup v2 root: create with parents, join, kill-and-remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

static bool is_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

int testpod_detect_cgroup_root(char *buf, size_t len)
{
	/* Hybrid hosts (systemd "hybrid" mode) mount v2 at .../unified; unified hosts at the top. */
	static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (is_cgroup2(candidates[i])) {
			if ((size_t)snprintf(buf, len, "%s", candidates[i]) >= len)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	return -ENOENT;
}

int cgroup_resolve_root(const char *requested, char *root, size_t len)
{
	int err;

	if (!requested) {
		err = testpod_detect_cgroup_root(root, len);
		if (err)
			log_error("no cgroup2 mount at /sys/fs/cgroup/unified or /sys/fs/cgroup", LOG_ERRNO(err));
		return err;
	}
	if (!is_cgroup2(requested)) {
		log_error("cgroup root is not a cgroup2 directory", LOG_STR("cgroup_root", requested));
		return -EINVAL;
	}
	if ((size_t)snprintf(root, len, "%s", requested) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* kubelet's names: cgroupfs "kubepods/burstable/pod<uid>", systemd
 * "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice". */
static int pod_path_parts(const struct testpod *pod, char parts[3][128], int *n)
{
	static const char *const qos_name[] = { "", "burstable", "besteffort" };
	const char *qos = qos_name[pod->qos];
	char uid[sizeof(pod->uid)];

	*n = 0;
	if (pod->driver == TESTPOD_CGROUPFS) {
		snprintf(parts[(*n)++], 128, "kubepods");
		if (*qos)
			snprintf(parts[(*n)++], 128, "%s", qos);
		snprintf(parts[(*n)++], 128, "pod%s", pod->uid);
		return 0;
	}
	snprintf(uid, sizeof(uid), "%s", pod->uid);
	for (char *p = uid; *p; p++)
		if (*p == '-')
			*p = '_';
	snprintf(parts[(*n)++], 128, "kubepods.slice");
	if (*qos) {
		snprintf(parts[(*n)++], 128, "kubepods-%s.slice", qos);
		snprintf(parts[(*n)++], 128, "kubepods-%s-pod%s.slice", qos, uid);
	} else {
		snprintf(parts[(*n)++], 128, "kubepods-pod%s.slice", uid);
	}
	return 0;
}

int cgroup_pod_path(const struct testpod *pod, char *buf, size_t len)
{
	char parts[3][128];
	size_t off;
	int n;

	pod_path_parts(pod, parts, &n);
	off = (size_t)snprintf(buf, len, "%s", pod->cgroup_root);
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "/%s", parts[i]);
	return off >= len ? -ENAMETOOLONG : 0;
}

static int try_make_pod(struct testpod *pod)
{
	char parts[3][128], path[PATH_MAX];
	int n, err;
	size_t off;

	pod_path_parts(pod, parts, &n);
	off = (size_t)snprintf(path, sizeof(path), "%s", pod->cgroup_root);
	for (int i = 0; i < n; i++) {
		bool last = i == n - 1;

		off += (size_t)snprintf(path + off, sizeof(path) - off, "/%s", parts[i]);
		if (off >= sizeof(path))
			return -ENAMETOOLONG;
		if (mkdir(path, 0755) == 0) {
			if (last) {
				snprintf(pod->pod_cgroup, sizeof(pod->pod_cgroup), "%s", path);
				pod->pod_cgroup_created = true;
			} else if (pod->n_created_parents < MAX_CREATED_PARENTS) {
				snprintf(pod->created_parents[pod->n_created_parents++], PATH_MAX, "%s", path);
			}
			continue;
		}
		err = -errno;
		if (err == -EEXIST && !last)
			continue;
		if (err == -EEXIST)
			log_error("pod cgroup already exists (pod uid in use?)", LOG_STR("cgroup", path));
		else if (err != -ENOENT)
			log_error("cannot create cgroup", LOG_STR("cgroup", path), LOG_ERRNO(err));
		return err;
	}
	return 0;
}

int cgroup_make_pod(struct testpod *pod)
{
	int err = -ENOENT;

	/* ENOENT: another pod's destroy removed a shared parent between our mkdirs; go again. */
	for (int attempt = 0; attempt < 10 && err == -ENOENT; attempt++)
		err = try_make_pod(pod);
	if (err == -ENOENT)
		log_error("cannot create pod cgroup: parents keep disappearing",
			  LOG_STR("cgroup_root", pod->cgroup_root));
	return err;
}

int cgroup_container_path(const struct testpod *pod, const char *id, char *buf, size_t len)
{
	int n;

	if (pod->driver == TESTPOD_SYSTEMD)
		n = snprintf(buf, len, "%s/cri-containerd-%s.scope", pod->pod_cgroup, id);
	else
		n = snprintf(buf, len, "%s/%s", pod->pod_cgroup, id);
	return (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cgroup_make_container(struct testpod *pod, struct pod_container *c)
{
	int err = random_hex(c->id, CONTAINER_ID_LEN);

	if (err)
		return err;
	err = cgroup_container_path(pod, c->id, c->cgroup, sizeof(c->cgroup));
	if (err)
		return err;
	if (mkdir(c->cgroup, 0755) < 0) {
		err = -errno;
		log_error("cannot create container cgroup", LOG_STR("cgroup", c->cgroup), LOG_ERRNO(err));
		return err;
	}
	c->cgroup_created = true;
	return 0;
}

int cgroup_join(const char *dir)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	return write_file(path, "0");
}

/* Kills every process listed in dir/cgroup.procs; returns how many were listed (or -errno). */
static int kill_members(const char *dir)
{
	char path[PATH_MAX];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%d", &pid) == 1) {
		if (pid > 0 && pid != getpid())
			kill(pid, SIGKILL);
		n++;
	}
	fclose(f);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int cgroup_remove(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (!dir[0])
		return 0;
	/* Sub-cgroups someone made inside ours go first. */
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue;
		int e = cgroup_remove(sub);

		if (e && !err)
			err = e;
	}
	closedir(d);

	/* cgroup.kill (5.14+) kills the whole subtree at once, also children forked meanwhile. */
	{
		char kill_path[PATH_MAX];
		int fd;

		snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", dir);
		fd = open(kill_path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) < 0) {
				/* fall back to killing pid by pid below */
			}
			close(fd);
		}
	}
	/* Up to 10 s: SIGKILL members, wait until cgroup.procs is empty, rmdir. */
	for (int i = 0; i < 1000; i++) {
		int n = kill_members(dir);

		if (n == -ENOENT)
			return err;
		if (n == 0) {
			if (rmdir(dir) == 0 || errno == ENOENT)
				return err;
			if (errno != EBUSY) {
				int e = -errno;

				log_error("cannot remove cgroup", LOG_STR("cgroup", dir), LOG_ERRNO(e));
				return e;
			}
		}
		sleep_ms(10);
	}
	log_error("cgroup still busy after killing its processes", LOG_STR("cgroup", dir));
	return -EBUSY;
}

void cgroup_remove_parents(struct testpod *pod)
{
	/* Only the parents we made, innermost first; another pod still inside keeps them (EBUSY). */
	for (int i = pod->n_created_parents - 1; i >= 0; i--) {
		if (rmdir(pod->created_parents[i]) < 0 && errno != ENOENT && errno != EBUSY &&
		    errno != ENOTEMPTY)
			log_warn("cannot remove kubepods parent cgroup",
				 LOG_STR("cgroup", pod->created_parents[i]), LOG_ERRNO(errno));
	}
	pod->n_created_parents = 0;
}

uint64_t testpod_cgroup_id(const char *cgroup_dir)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	struct stat st;
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, cgroup_dir, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(uint64_t))
		return h.id;
	return stat(cgroup_dir, &st) == 0 ? (uint64_t)st.st_ino : 0;
}
