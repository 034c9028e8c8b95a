/* What runs inside the pod: the sandbox's pause process and each container's server, which
 * greets every TCP connection with "pcmc <pod>\n" and echoes every UDP datagram, on [::] (v4+v6). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/pod/internal.h"

static int listen_on(int type, uint16_t port, bool shared)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void greet(int listener, const char *greeting)
{
	for (;;) {
		int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (write(c, greeting, strlen(greeting)) < 0) {
			/* the client went away: nothing to do */
		}
		close(c);
	}
}

static void echo(int fd)
{
	char buf[65536];
	struct sockaddr_storage from;

	for (;;) {
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);

		if (n < 0)
			return;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
	}
}

static int pause_forever(int ready_fd)
{
	if (write(ready_fd, "1", 1) != 1)
		return 1;
	close(ready_fd);
	for (;;)
		pause();
}

int server_main(struct testpod *pod, int index, int ready_fd)
{
	struct pollfd fds[2 * TESTPOD_MAX_PORTS];
	bool serving = index >= 0 && (pod->serve_mask == 0 || (pod->serve_mask & (1u << index)));
	bool shared = pod->serve_mask == 0 && pod->n_containers > 1;
	char greeting[64];
	int n = 0;

	signal(SIGPIPE, SIG_IGN);
	snprintf(greeting, sizeof(greeting), index < 0 ? "pcmc-pause" : "pcmc-server-%d", index);
	prctl(PR_SET_NAME, greeting); /* what ps shows */
	if (index < 0 || !serving)
		return pause_forever(ready_fd);
	snprintf(greeting, sizeof(greeting), "pcmc %s\n", pod->name);
	for (int i = 0; i < pod->n_tcp; i++, n++) {
		fds[n] = (struct pollfd){ .fd = listen_on(SOCK_STREAM, pod->tcp_ports[i], shared), .events = POLLIN };
		if (fds[n].fd < 0)
			return -fds[n].fd;
	}
	for (int i = 0; i < pod->n_udp; i++, n++) {
		fds[n] = (struct pollfd){ .fd = listen_on(SOCK_DGRAM, pod->udp_ports[i], shared), .events = POLLIN };
		if (fds[n].fd < 0)
			return -fds[n].fd;
	}
	if (write(ready_fd, "1", 1) != 1)
		return 1;
	close(ready_fd);
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			if (i < pod->n_tcp)
				greet(fds[i].fd, greeting);
			else
				echo(fds[i].fd);
		}
	}
}
