/* What runs inside the pod: the sandbox's pause process and each container's server, which
 * greets every TCP connection with "pcmc <pod>\n" and echoes every UDP datagram, on [::] (v4+v6). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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

/* After the greeting we shut down our side and wait for the client's FIN before closing: closing
 * with the client's bytes unread (`echo | nc`, an HTTP probe) would send a RST that can destroy
 * the greeting before the client reads it. */
#define MAX_CLOSING 256
#define CLOSING_MS 2000

struct closing {
	int fd;
	long long deadline;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void greet(int listener, const char *greeting, struct closing *closing, int *n_closing)
{
	for (;;) {
		int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (c < 0)
			return;
		if (write(c, greeting, strlen(greeting)) < 0 || shutdown(c, SHUT_WR) < 0 ||
		    *n_closing == MAX_CLOSING) {
			close(c);
			continue;
		}
		closing[(*n_closing)++] = (struct closing){ .fd = c, .deadline = now_ms() + CLOSING_MS };
	}
}

/* Reads what the client sent; closes on its EOF, an error or the deadline. */
static void drain(struct closing *closing, int *n_closing, const struct pollfd *ready, int n_ready)
{
	long long now = now_ms();

	for (int i = 0; i < *n_closing;) {
		bool done = closing[i].deadline <= now;

		for (int j = 0; j < n_ready && !done; j++) {
			char sink[4096];
			ssize_t n;

			if (ready[j].fd != closing[i].fd || !ready[j].revents)
				continue;
			while ((n = read(closing[i].fd, sink, sizeof(sink))) > 0)
				;
			done = n == 0 || (errno != EAGAIN && errno != EINTR);
		}
		if (done) {
			close(closing[i].fd);
			closing[i] = closing[--*n_closing];
		} else {
			i++;
		}
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
	struct pollfd fds[2 * TESTPOD_MAX_PORTS + MAX_CLOSING];
	struct closing closing[MAX_CLOSING];
	bool serving = index >= 0 && (pod->serve_mask == 0 || (pod->serve_mask & (1u << index)));
	bool shared = pod->serve_mask == 0 && pod->n_containers > 1;
	int n = 0, n_closing = 0;
	char greeting[64];

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
		int timeout = -1;

		for (int i = 0; i < n_closing; i++) {
			long long left = closing[i].deadline - now_ms();

			fds[n + i] = (struct pollfd){ .fd = closing[i].fd, .events = POLLIN };
			if (timeout < 0 || left < timeout)
				timeout = left > 0 ? (int)left : 0;
		}
		if (poll(fds, (nfds_t)(n + n_closing), timeout) < 0 && errno != EINTR)
			return 1;
		drain(closing, &n_closing, fds + n, n_closing);
		for (int i = 0; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			if (i < pod->n_tcp)
				greet(fds[i].fd, greeting, closing, &n_closing);
			else
				echo(fds[i].fd);
		}
	}
}
