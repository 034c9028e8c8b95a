/* Delivery oracle: a child in the pod (testpod_spawn) polls its sockets and adds up, per port,
 * connections/datagrams and bytes in a MAP_SHARED page the test reads without any exchange. */
#include "test/dataplane/listener.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

struct shared_counts {
	_Atomic uint64_t hits[LISTENER_MAX];
	_Atomic uint64_t bytes[LISTENER_MAX];
	_Atomic int ready; /* 1 bound, -1 failed */
};

struct listener {
	struct shared_counts *shared;
	struct listen_port ports[LISTENER_MAX];
	int n;
	pid_t pid;
};

static int bind_one(const struct listen_port *p)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(p->port), .sin6_addr = IN6ADDR_ANY_INIT };
	int tcp = p->proto == IPPROTO_TCP, zero = 0, one = 1;
	int fd = socket(AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
			tcp ? 0 : p->proto);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (tcp && listen(fd, 128) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The pod side: sockets 0..n-1 are the listeners, later ones accepted connections (owner[]). */
static int serve(void *arg)
{
	struct listener *l = arg;
	struct pollfd pfd[LISTENER_MAX + 256];
	int owner[LISTENER_MAX + 256], n = 0;
	char buf[65536];

	for (int i = 0; i < l->n; i++) {
		int fd = bind_one(&l->ports[i]);

		if (fd < 0) {
			atomic_store(&l->shared->ready, -1);
			return 1;
		}
		pfd[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		owner[n++] = i;
	}
	atomic_store(&l->shared->ready, 1);
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		for (int k = 0; k < n; k++) {
			int i = owner[k];
			ssize_t got;

			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (k < l->n && l->ports[i].proto == IPPROTO_TCP) {
				int c = accept4(pfd[k].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (c < 0)
					continue;
				atomic_fetch_add(&l->shared->hits[i], 1);
				if (n < (int)(sizeof(pfd) / sizeof(pfd[0]))) {
					pfd[n] = (struct pollfd){ .fd = c, .events = POLLIN };
					owner[n++] = i;
				} else {
					close(c);
				}
			} else if (k < l->n) {
				struct sockaddr_storage from;
				socklen_t flen = sizeof(from);

				got = recvfrom(pfd[k].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
				if (got < 0)
					continue;
				atomic_fetch_add(&l->shared->hits[i], 1);
				atomic_fetch_add(&l->shared->bytes[i], (uint64_t)got);
				sendto(pfd[k].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, flen);
			} else {
				got = read(pfd[k].fd, buf, sizeof(buf));
				if (got > 0) {
					atomic_fetch_add(&l->shared->bytes[i], (uint64_t)got);
					continue;
				}
				close(pfd[k].fd);
				pfd[k--] = pfd[--n];
				owner[k + 1] = owner[n];
			}
		}
	}
	return 0;
}

struct listener *listener_start(struct testpod *pod, const struct listen_port *ports, int n)
{
	struct listener *l = calloc(1, sizeof(*l));

	ck_assert_ptr_nonnull(l);
	ck_assert_int_le(n, LISTENER_MAX);
	l->shared = mmap(NULL, sizeof(*l->shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(l->shared != MAP_FAILED);
	memcpy(l->ports, ports, sizeof(*ports) * (size_t)n);
	l->n = n;
	l->pid = testpod_spawn(pod, 0, serve, l);
	ck_assert_int_gt(l->pid, 0);
	for (int i = 0; i < 5000 && !atomic_load(&l->shared->ready); i++)
		usleep(1000);
	ck_assert_msg(atomic_load(&l->shared->ready) == 1, "listeners in the pod could not bind");
	return l;
}

uint64_t listener_hits(const struct listener *l, int i)
{
	return atomic_load(&l->shared->hits[i]);
}

uint64_t listener_bytes(const struct listener *l, int i)
{
	return atomic_load(&l->shared->bytes[i]);
}

void listener_stop(struct listener *l)
{
	if (!l)
		return;
	kill(l->pid, SIGKILL);
	testpod_wait(l->pid, 5000);
	munmap(l->shared, sizeof(*l->shared));
	free(l);
}
