/* Processes inside the pod: start them in a container cgroup + the pod netns (pause, servers,
 * spawned test functions, exec'd commands), wait for them, kill them by pid + start time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

/* Fields of /proc/<pid>/stat after the command name: [0] state ... [19] starttime. */
static int read_stat(pid_t pid, char *state, unsigned long long *start_time)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	*state = *p;
	for (int field = 0; field < 19 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	*start_time = p ? strtoull(p, NULL, 10) : 0;
	return 0;
}

unsigned long long process_start_time(pid_t pid)
{
	unsigned long long start = 0;
	char state;

	return read_stat(pid, &state, &start) == 0 ? start : 0;
}

bool testpod_pid_alive(pid_t pid)
{
	unsigned long long start;
	char state;

	if (pid <= 0 || read_stat(pid, &state, &start) < 0)
		return false;
	return state != 'Z' && state != 'X';
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int process_kill(struct pod_process *p)
{
	int err = 0;

	if (p->pid <= 0)
		return 0;
	/* A recycled pid belongs to someone else now: never signal it. */
	if (!p->start_time || process_start_time(p->pid) == p->start_time)
		kill(p->pid, SIGKILL);
	if (p->is_child) {
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		int i;

		for (i = 0; i < 500 && testpod_pid_alive(p->pid) &&
			    (!p->start_time || process_start_time(p->pid) == p->start_time); i++)
			sleep_ms(10);
		if (i == 500) {
			err = -EBUSY;
			log_error("process survived SIGKILL", LOG_INT("pid", p->pid));
		}
	}
	p->pid = 0;
	p->start_time = 0;
	return err;
}

static int join_pod(struct testpod *pod, const char *cgroup_dir)
{
	int err = cgroup_join(cgroup_dir);

	if (err)
		return err;
	err = netns_enter(pod->netns_path);
	if (err)
		log_error("cannot enter pod netns", LOG_STR("netns", pod->netns_path), LOG_ERRNO(err));
	return err;
}

int process_start(struct testpod *pod, const char *cgroup_dir,
		  int (*fn)(struct testpod *pod, int index, int ready_fd), int index,
		  struct pod_process *out)
{
	int fds[2], status, err;
	char byte;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[0]);
		if (!pod->daemonize)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		err = join_pod(pod, cgroup_dir);
		if (err)
			_exit(-err);
		if (pod->daemonize) {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);

			setsid();
			/* stdout must not stay open: `$(pcmc-testpod create ...)` waits for its EOF. */
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
		}
		if (dup2(fds[1], 3) < 0)
			_exit(EBADF);
		syscall(SYS_close_range, 4U, ~0U, 0U); /* nothing of the caller's stays open */
		_exit(fn(pod, index, 3));
	}
	close(fds[1]);
	while ((n = read(fds[0], &byte, 1)) < 0 && errno == EINTR)
		;
	close(fds[0]);
	if (n == 1) {
		out->pid = pid;
		out->start_time = process_start_time(pid);
		out->is_child = true;
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	err = WIFEXITED(status) && WEXITSTATUS(status) ? -WEXITSTATUS(status) : -EIO;
	log_error("pod process died while starting", LOG_STR("pod", pod->name),
		  LOG_STR("cgroup", cgroup_dir), LOG_INT("index", index), LOG_ERRNO(err));
	return err;
}

static const char *container_cgroup(const struct testpod *pod, int container)
{
	if (container == -1)
		return pod->sandbox.cgroup;
	if (container < 0 || container >= pod->n_containers)
		return NULL;
	return pod->containers[container].cgroup;
}

pid_t testpod_spawn(struct testpod *pod, int container, int (*fn)(void *arg), void *arg)
{
	const char *cgroup_dir;
	int fds[2], err = 0;
	ssize_t n;
	pid_t pid;

	if (!pod || !fn || !(cgroup_dir = container_cgroup(pod, container)))
		return -EINVAL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL); /* else a child that flushes stdio prints the caller's pending output again */
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		err = join_pod(pod, cgroup_dir);
		if (err) {
			if (write(fds[1], &err, sizeof(err)) < 0)
				_exit(126);
			_exit(126);
		}
		close(fds[1]); /* EOF tells the parent we are in */
		_exit(fn(arg) & 0xff);
	}
	close(fds[1]);
	while ((n = read(fds[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	close(fds[0]);
	if (n == 0)
		return pid;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return n == sizeof(err) && err < 0 ? err : -EIO;
}

static int status_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int testpod_wait(pid_t pid, int timeout_ms)
{
	int status, pidfd, ready;

	if (pid <= 0)
		return -EINVAL;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		while ((ready = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		close(pidfd);
	} else {
		/* No pidfd (old kernel): poll waitpid. */
		ready = 0;
		for (int waited = 0; timeout_ms < 0 || waited < timeout_ms; waited += 5) {
			pid_t r = waitpid(pid, &status, WNOHANG);

			if (r == pid)
				return status_code(status);
			if (r < 0)
				return -errno;
			sleep_ms(5);
		}
	}
	if (ready == 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -ETIMEDOUT;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status_code(status);
}

static int exec_argv(void *arg)
{
	char *const *argv = arg;

	execvp(argv[0], argv);
	fprintf(stderr, "pcmc-testpod: cannot exec %s: %s\n", argv[0], strerror(errno));
	return 127;
}

int testpod_exec(struct testpod *pod, int container, char *const argv[])
{
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	pid = testpod_spawn(pod, container, exec_argv, (void *)argv);
	if (pid < 0)
		return pid;
	return testpod_wait(pid, -1);
}
