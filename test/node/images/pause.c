/* The node's pause image: holds a pod's namespaces for the sandbox. Waits for signals, reaps
 * children (it is PID 1 when pods share a PID namespace), exits on TERM or INT. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = { .sa_handler = stop }, child = { .sa_handler = reap, .sa_flags = SA_NOCLDSTOP };

	sigaction(SIGTERM, &term, NULL);
	sigaction(SIGINT, &term, NULL);
	sigaction(SIGCHLD, &child, NULL);
	for (;;)
		pause();
}
