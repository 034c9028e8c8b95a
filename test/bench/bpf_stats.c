/* bpf_stats readings: run_time_ns / run_cnt from bpf_obj_get_info_by_fd (libbpf 1.1.2 has no
 * bpf_prog_get_info_by_fd), programs found by pinned link or by the process that loaded them. */
#include "test/bench/bpf_stats.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bpf_stats_enable(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : fd;
}

int bpf_stats_read(int prog_fd, struct prog_stats *out)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return -errno;
	out->run_time_ns = info.run_time_ns;
	out->run_cnt = info.run_cnt;
	return 0;
}

double bpf_stats_ns_per_run(const struct prog_stats *before, const struct prog_stats *after)
{
	uint64_t runs = after->run_cnt - before->run_cnt;

	if (after->run_cnt <= before->run_cnt)
		return -1;
	return (double)(after->run_time_ns - before->run_time_ns) / (double)runs;
}

int bpf_stats_prog_of_link(const char *link_pin)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int link_fd, fd;

	link_fd = bpf_obj_get(link_pin);
	if (link_fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len) < 0) {
		fd = -errno;
		close(link_fd);
		return fd;
	}
	close(link_fd);
	fd = bpf_prog_get_fd_by_id(info.prog_id);
	return fd < 0 ? -errno : fd;
}

/* prog_id of one /proc/<pid>/fdinfo entry, 0 if it is no program. */
static uint32_t fdinfo_prog_id(const char *path)
{
	char line[256];
	uint32_t id = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "prog_id: %u", &id) == 1)
			break;
	fclose(f);
	return id;
}

int bpf_stats_prog_of_pid(pid_t pid, uint32_t prog_type)
{
	char dir_path[64], path[PATH_MAX];
	struct dirent *de;
	int found = -ENOENT;
	DIR *dir;

	snprintf(dir_path, sizeof(dir_path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(dir_path);
	if (!dir)
		return -errno;
	while (found < 0 && (de = readdir(dir))) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		uint32_t id;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
		id = fdinfo_prog_id(path);
		if (!id)
			continue;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == prog_type)
			found = fd;
		else
			close(fd);
	}
	closedir(dir);
	return found;
}
