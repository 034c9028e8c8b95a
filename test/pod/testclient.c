/* Test clients: TCP connect that reads the pod's greeting, UDP echo round trip, UDP blast.
 * Non-blocking sockets + poll so a dropped flow ends in -ETIMEDOUT, never a hang. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test/pod/testclient.h"

static int make_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip && inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*len = sizeof(*v4);
		return 0;
	}
	if (ip && inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(long long deadline)
{
	long long left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

/* poll one fd until events or the deadline; 0 ready, -ETIMEDOUT, -errno */
static int wait_for(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&pfd, 1, left_ms(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int testclient_tcp_greeting(const char *ip, uint16_t port, int timeout_ms, char *buf, size_t len)
{
	long long deadline = now_ms() + timeout_ms;
	struct sockaddr_storage ss;
	char greeting[128];
	size_t got = 0;
	socklen_t alen;
	int fd, err = 0, soerr;
	socklen_t elen = sizeof(soerr);

	if (make_addr(ip, port, &ss, &alen))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, alen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto out;
		}
		if ((err = wait_for(fd, POLLOUT, deadline)))
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr) {
			err = soerr ? -soerr : -errno;
			goto out;
		}
	}
	/* The server writes its greeting and closes: read to the newline or EOF. */
	while (got < sizeof(greeting) - 1 && !memchr(greeting, '\n', got)) {
		ssize_t n = read(fd, greeting + got, sizeof(greeting) - 1 - got);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			err = -errno;
			goto out;
		}
		if ((err = wait_for(fd, POLLIN, deadline)))
			goto out;
	}
	greeting[got] = '\0';
	/* Wait for the server's FIN too, so our close() is the last packet towards the pod and
	 * it is on the wire before we return: no ACK of a late FIN trickles in afterwards and
	 * lands in the caller's next counter window. A greeting already read is success. */
	for (char sink[64];;) {
		ssize_t n = read(fd, sink, sizeof(sink));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n < 0 && wait_for(fd, POLLIN, deadline))
			break;
	}
	if (got < 5 || strncmp(greeting, "pcmc ", 5) != 0) {
		err = -EPROTO; /* connected, but not to a test pod server */
		goto out;
	}
	if (buf && len) {
		greeting[strcspn(greeting, "\n")] = '\0';
		snprintf(buf, len, "%s", greeting);
	}
out:
	close(fd);
	return err;
}

int testclient_tcp_connect(const char *ip, uint16_t port, int timeout_ms)
{
	return testclient_tcp_greeting(ip, port, timeout_ms, NULL, 0);
}

int testclient_udp_echo(const char *ip, uint16_t port, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct sockaddr_storage ss;
	char msg[32], reply[64];
	unsigned int nonce = 0;
	socklen_t alen;
	int fd, err;

	if (make_addr(ip, port, &ss, &alen))
		return -EINVAL;
	if (getrandom(&nonce, sizeof(nonce), 0) < 0)
		nonce = (unsigned int)now_ms();
	snprintf(msg, sizeof(msg), "pcmc-echo %08x", nonce);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* connected: an ICMP port unreachable comes back as ECONNREFUSED */
	if (connect(fd, (struct sockaddr *)&ss, alen) < 0 || send(fd, msg, strlen(msg), 0) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if ((err = wait_for(fd, POLLIN, deadline)))
			goto out;
		n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if ((size_t)n == strlen(msg) && memcmp(reply, msg, (size_t)n) == 0) {
			err = 0;
			goto out;
		}
	}
out:
	close(fd);
	return err;
}

int testclient_udp_send(const char *ip, uint16_t port, int count)
{
	struct sockaddr_storage ss;
	socklen_t alen;
	int fd, sent = 0;

	if (count < 0 || make_addr(ip, port, &ss, &alen))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* unconnected sendto: earlier ICMP errors must not abort the blast */
	while (sent < count) {
		if (sendto(fd, "pcmc-blast", 10, 0, (struct sockaddr *)&ss, alen) < 0) {
			if (errno == EINTR)
				continue;
			if (sent == 0) {
				int err = -errno;

				close(fd);
				return err;
			}
			break;
		}
		sent++;
	}
	close(fd);
	return sent;
}
