/* state.json under --state-dir: the last accepted push, re-read at start; and the fencing rule
 * that compares a push with it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/service/agent_state.h"
#include "common/log.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int state_save(const char *dir, const struct policy_push *s)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t len = 0;
	char *text;
	int fd = -1, err = policy_push_encode(s, &text, &len);

	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", dir);
	err = mkdir_p(dir);
	if (!err) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		err = fd < 0 ? -errno : 0;
	}
	err = err ?: write_all(fd, text, len);
	err = err ?: write_all(fd, "\n", 1);
	if (!err && fsync(fd))
		err = -errno;
	if (fd >= 0 && close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	} else {
		unlink(tmp);
		log_error("writing state file failed", LOG_STR("path", path), LOG_ERRNO(err));
	}
	free(text);
	return err;
}

int state_load(const char *dir, const char *arch, struct policy_push **out)
{
	struct policy_decode_opts opts = { .arch = arch };
	char path[PATH_MAX];
	struct json_error perr;
	struct stat st;
	char *text;
	FILE *f;
	int err;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fileno(f), &st) || st.st_size > 64 * 1024 * 1024) {
		fclose(f);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	size_t len = fread(text, 1, (size_t)st.st_size, f);
	fclose(f);
	err = policy_push_decode(text, len, &opts, out, &perr);
	free(text);
	if (err)
		log_error("state file unreadable", LOG_STR("path", path), LOG_STR("json_path", perr.path),
			  LOG_STR("reason", perr.message));
	return err;
}

enum fence_reason fence_check(const struct policy_push *held, const struct policy_push *push)
{
	if (!held)
		return FENCE_NONE;
	if (push->sender.epoch < held->sender.epoch)
		return FENCE_OLDER_EPOCH;
	if (push->sender.epoch > held->sender.epoch)
		return FENCE_NONE;
	if (push->revision < held->revision)
		return FENCE_OLDER_REVISION;
	if (push->revision == held->revision && !policy_push_equal(held, push))
		return FENCE_DIFFERENT_BODY;
	return FENCE_NONE;
}
