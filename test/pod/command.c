/* Small system helpers for the test pod: run a program (ip) with its output captured for the
 * error log, write a file (sysctl, cgroup.procs), random hex ids. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

extern char **environ;

static void join_argv(const char *const argv[], char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; argv[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? " " : "", argv[i]);
}

/* Runs argv with stdin from input (or /dev/null) and stdout+stderr captured into output. */
static int spawn_capture(const char *const argv[], const char *input, char *output, size_t len,
			 int *status)
{
	posix_spawn_file_actions_t fa;
	int out[2], in[2] = { -1, -1 }, err;
	size_t got = 0;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (input && pipe2(in, O_CLOEXEC) < 0) {
		err = -errno;
		close(out[0]);
		close(out[1]);
		return err;
	}
	posix_spawn_file_actions_init(&fa);
	if (input)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	if (input) {
		close(in[0]);
		/* small inputs (an nft ruleset) fit in the pipe buffer */
		if (!err && write(in[1], input, strlen(input)) < 0)
			err = errno;
		close(in[1]);
	}
	if (err) {
		close(out[0]);
		return -err;
	}
	for (;;) {
		char sink[512];
		ssize_t n = got < len - 1 ? read(out[0], output + got, len - 1 - got)
					  : read(out[0], sink, sizeof(sink)); /* keep draining */

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < len - 1)
			got += (size_t)n;
	}
	output[got] = '\0';
	while (got && output[got - 1] == '\n')
		output[--got] = '\0';
	close(out[0]);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int run_command(const char *const argv[])
{
	char cmdline[512], output[2048];
	int status, err;

	join_argv(argv, cmdline, sizeof(cmdline));
	err = spawn_capture(argv, NULL, output, sizeof(output), &status);
	if (err) {
		log_error("cannot run command", LOG_STR("cmd", cmdline), LOG_ERRNO(err));
		return err;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_error("command failed", LOG_STR("cmd", cmdline),
		  LOG_INT("exit", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)),
		  LOG_STR("output", output));
	return -EIO;
}

int run_command_status(const char *const argv[], const char *input)
{
	char output[2048];
	int status, err = spawn_capture(argv, input, output, sizeof(output), &status);

	if (err)
		return err;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int write_file(const char *path, const char *value)
{
	size_t len = strlen(value);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0) {
		err = -errno;
		log_error("cannot open for writing", LOG_STR("path", path), LOG_ERRNO(err));
		return err;
	}
	if (write(fd, value, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	if (err)
		log_error("write failed", LOG_STR("path", path), LOG_STR("value", value), LOG_ERRNO(err));
	return err;
}

int random_hex(char *buf, size_t n_hex)
{
	unsigned char raw[64];
	size_t n = (n_hex + 1) / 2;

	if (n > sizeof(raw))
		return -EINVAL;
	if (getrandom(raw, n, 0) != (ssize_t)n)
		return -errno;
	for (size_t i = 0; i < n_hex; i++)
		buf[i] = "0123456789abcdef"[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
	buf[n_hex] = '\0';
	return 0;
}
