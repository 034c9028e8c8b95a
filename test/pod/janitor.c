/* The pod's janitor: a small process per library-made pod that waits for its creator to exit and
 * then removes whatever the creator did not (Check's failed ck_assert _exits; timeouts SIGKILL). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

#define MARKER_DIR "/run/pcmc-testpod"

/* /run/pcmc-testpod/janitor-<name>: "<janitor pid> <start> <creator pid> <start>", there while
 * the janitor lives. A new pod of that name waits for a janitor whose creator is dead. */
static void marker_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, MARKER_DIR "/janitor-%s", name);
}

static bool still_running(pid_t pid, unsigned long long start)
{
	return testpod_pid_alive(pid) && process_start_time(pid) == start;
}

int janitor_wait_for(const char *name, int timeout_ms)
{
	char path[128];

	marker_path(name, path, sizeof(path));
	for (int waited = 0;; waited += 20) {
		unsigned long long jstart, cstart;
		int janitor, creator, n;
		FILE *f = fopen(path, "re");

		if (!f)
			return 0;
		n = fscanf(f, "%d %llu %d %llu", &janitor, &jstart, &creator, &cstart);
		fclose(f);
		if (n != 4 || !still_running(janitor, jstart) || still_running(creator, cstart))
			return 0; /* stale marker, or a live pod: create will tell EEXIST */
		if (waited >= timeout_ms) {
			log_error("janitor of an earlier pod with this name is still cleaning up",
				  LOG_STR("pod", name), LOG_INT("janitor_pid", janitor));
			return -EBUSY;
		}
		usleep(20 * 1000);
	}
}

/* Removes only what is still this pod's: by the time we run, a later test may have made a new
 * pod with the same name (same netns and veth names) or uid (same cgroup path). */
static void clean_up_after(struct testpod *pod)
{
	struct stat st;

	if (pod->pod_cgroup_id && testpod_cgroup_id(pod->pod_cgroup) == pod->pod_cgroup_id)
		cgroup_remove(pod->pod_cgroup); /* kills everything inside, containers included */
	cgroup_remove_parents(pod);
	pod->veth_created = (int)if_nametoindex(pod->host_veth) == pod->veth_ifindex;
	pod->netns_created = stat(pod->netns_path, &st) == 0 && st.st_ino == pod->netns_ino;
	if (pod->veth_created || pod->netns_created)
		log_warn("test pod removed after its creator exited without destroying it",
			 LOG_STR("pod", pod->name));
	network_destroy(pod);
}

int janitor_start(struct testpod *pod)
{
	pid_t creator = getpid(), pid;
	char marker[128];
	int null, ready[2];
	char byte;

	marker_path(pod->name, marker, sizeof(marker));
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(ready[0]);
		close(ready[1]);
		return -errno;
	}
	if (pid == 0) {
		struct pollfd pfd = { .events = POLLIN };

		/* Its own session: a ^C to the test's process group must not kill the cleanup too. */
		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		prctl(PR_SET_NAME, "pcmc-janitor");
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1); /* stderr stays: cleanup errors are logged there */
		}
		close(ready[0]);
		mkdir(MARKER_DIR, 0755);
		null = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (null >= 0) {
			dprintf(null, "%d %llu %d %llu\n", (int)getpid(), process_start_time(getpid()),
				(int)creator, process_start_time(creator));
			close(null);
		}
		if (write(ready[1], "1", 1) != 1)
			_exit(1);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		/* pidfd, not PDEATHSIG: it fires when the whole process exits, not one thread */
		pfd.fd = (int)syscall(SYS_pidfd_open, creator, 0);
		if (pfd.fd >= 0 && getppid() == creator)
			while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
				;
		clean_up_after(pod);
		unlink(marker);
		_exit(0);
	}
	close(ready[1]);
	/* the marker exists before create returns */
	while (read(ready[0], &byte, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	pod->janitor = (struct pod_process){ .pid = pid, .start_time = process_start_time(pid),
					     .is_child = true };
	return 0;
}

void janitor_stop(struct testpod *pod)
{
	/* Only the creator can stop it (a fork of the creator gets ECHILD and leaves it alone:
	 * then it runs once the creator exits, finds nothing of this pod left and does nothing). */
	if (pod->janitor.pid > 0 && waitpid(pod->janitor.pid, NULL, WNOHANG) == 0) {
		char marker[128];

		process_kill(&pod->janitor);
		marker_path(pod->name, marker, sizeof(marker));
		unlink(marker);
	}
	pod->janitor.pid = 0;
}
