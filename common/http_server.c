/* The HTTP server's sockets: one epoll loop on the service thread accepts (refusing past
 * max_connections), reads what each connection's engine (http_conn.c) has room for, writes what it
 * queued, enforces timeouts, and takes deferred answers from other threads through an eventfd. */
#include "common/http_server.h"

#include "common/http_conn.h"
#include "common/clock.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY        (1u << 20)
#define DEFAULT_MAX_CONNECTIONS 256
#define MAX_CONNECTIONS_LIMIT   65535      /* slot numbers live in 16 bits of an exchange id */
#define HEAD_TIMEOUT_MS         10000      /* default: a started head must be complete by then (408) */
#define IDLE_TIMEOUT_MS         30000      /* keep-alive idle, a stalled body or a stalled reader */
#define LISTEN_PAUSE_MS         100        /* out of file descriptors: stop accepting this long */
#define TAG_LISTEN              0xffffffffu
#define TAG_WAKE                0xfffffffeu

struct slot {
	struct http_conn conn;
	int fd;
	bool used;
	uint32_t events;           /* registered with epoll */
	int64_t last_write_ms;
};

/* A deferred answer on its way from another thread to the service thread. */
struct answer {
	struct answer *next;
	uint64_t exchange;
	bool admission;
	struct http_response resp;
};

struct http_server {
	struct http_routes routes;
	int listen_fd, epoll_fd, wake_fd;
	int port;
	int max_connections;
	int head_timeout_ms;
	struct slot *slots;
	int open;
	uint64_t seq;
	atomic_bool stopping;
	pthread_t thread;
	bool thread_started;
	int64_t listen_paused_until;
	int64_t last_sweep_ms;
	pthread_mutex_t lock;      /* answers, stats */
	struct answer *answers, **answers_tail;
	int stat_open;
	unsigned long stat_refused;
};

static void wake(struct http_server *s)
{
	uint64_t one = 1;
	ssize_t n = write(s->wake_fd, &one, sizeof(one));

	(void)n; /* a full counter already wakes the loop */
}

/* --- listening --------------------------------------------------------------------------- */

/* The address to bind: a literal, every address (NULL, "::"), or an interface's first address. */
static int resolve_bind(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	struct ifaddrs *ifs, *i;
	int err = -EADDRNOTAVAIL;

	memset(ss, 0, sizeof(*ss));
	if (!addr || !*addr || !strcmp(addr, "::")) {
		v6->sin6_family = AF_INET6;
		v6->sin6_addr = in6addr_any;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	if (getifaddrs(&ifs))
		return -errno;
	for (i = ifs; i && err; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, addr))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			memcpy(v4, i->ifa_addr, sizeof(*v4));
			v4->sin_port = htons((uint16_t)port);
			*len = sizeof(*v4);
			err = 0;
		}
	}
	freeifaddrs(ifs);
	return err;
}

static int open_listener(struct http_server *s, const struct http_server_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, zero = 0, err = resolve_bind(o->bind_address, o->port, &ss, &len);

	if (err)
		return err;
	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(s->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(s->listen_fd, (struct sockaddr *)&ss, len) || listen(s->listen_fd, 512))
		return -errno;
	len = sizeof(ss);
	if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &len))
		return -errno;
	s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int epoll_set(struct http_server *s, int op, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(s->epoll_fd, op, fd, &ev) ? -errno : 0;
}

int http_server_new(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server *s;
	int err;

	*out = NULL;
	if (!o || (o->port < 0 && o->port != HTTP_NO_LISTEN) || o->port > 65535 || o->max_connections < 0 ||
	    o->max_connections > MAX_CONNECTIONS_LIMIT)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = s->epoll_fd = s->wake_fd = -1;
	s->routes.max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
	s->max_connections = o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
	s->head_timeout_ms = o->head_timeout_ms > 0 ? o->head_timeout_ms : HEAD_TIMEOUT_MS;
	s->answers_tail = &s->answers;
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->stopping, false);
	s->slots = calloc((size_t)s->max_connections, sizeof(*s->slots));
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	err = !s->slots ? -ENOMEM : s->epoll_fd < 0 || s->wake_fd < 0 ? -errno : 0;
	err = err ?: epoll_set(s, EPOLL_CTL_ADD, s->wake_fd, EPOLLIN, TAG_WAKE);
	if (!err && o->port != HTTP_NO_LISTEN) {
		err = open_listener(s, o);
		err = err ?: epoll_set(s, EPOLL_CTL_ADD, s->listen_fd, EPOLLIN, TAG_LISTEN);
		if (err)
			log_error("HTTP server cannot listen", LOG_STR("addr", o->bind_address ? o->bind_address : "::"),
				  LOG_INT("port", o->port), LOG_ERRNO(err));
	}
	if (err) {
		http_server_free(s);
		return err;
	}
	*out = s;
	return 0;
}

static int add_route(struct http_server *s, const char *method, const char *path, http_handler_fn admit,
		     http_handler_fn fn, void *ctx)
{
	struct route *routes;
	char *p;

	if (!method || !path || !fn || strlen(method) >= sizeof(routes->method))
		return -EINVAL;
	for (size_t i = 0; i < s->routes.n; i++)
		if (!strcmp(s->routes.items[i].method, method) && !strcmp(s->routes.items[i].path, path))
			return -EEXIST;
	p = strdup(path);
	routes = p ? realloc(s->routes.items, (s->routes.n + 1) * sizeof(*routes)) : NULL;
	if (!routes) {
		free(p);
		return -ENOMEM;
	}
	s->routes.items = routes;
	routes[s->routes.n] = (struct route){ .path = p, .admit = admit, .fn = fn, .ctx = ctx };
	snprintf(routes[s->routes.n].method, sizeof(routes->method), "%s", method);
	s->routes.n++;
	return 0;
}

int http_server_route(struct http_server *s, const char *method, const char *path, http_handler_fn fn, void *ctx)
{
	return add_route(s, method, path, NULL, fn, ctx);
}

int http_server_route_admitted(struct http_server *s, const char *method, const char *path, http_handler_fn admit,
			       http_handler_fn fn, void *ctx)
{
	return admit ? add_route(s, method, path, admit, fn, ctx) : -EINVAL;
}

/* --- connections ------------------------------------------------------------------------- */

static uint64_t next_exchange(void *owner, struct http_conn *c)
{
	struct http_server *s = owner;
	struct slot *sl = (struct slot *)((char *)c - offsetof(struct slot, conn));

	return ++s->seq << 16 | (uint64_t)(sl - s->slots);
}

static void close_slot(struct http_server *s, struct slot *sl)
{
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, sl->fd, NULL);
	close(sl->fd);
	http_conn_free(&sl->conn);
	sl->used = false;
	s->open--;
	pthread_mutex_lock(&s->lock);
	s->stat_open = s->open;
	pthread_mutex_unlock(&s->lock);
}

/* Sends what is queued, closes a finished connection, and registers what it waits for next. */
static void settle(struct http_server *s, struct slot *sl, int64_t now)
{
	const char *data;
	size_t n;
	uint32_t want = 0;

	while ((n = http_conn_pending(&sl->conn, &data)) > 0) {
		ssize_t w = send(sl->fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			close_slot(s, sl);
			return;
		}
		http_conn_sent(&sl->conn, (size_t)w);
		sl->last_write_ms = now;
	}
	if (http_conn_finished(&sl->conn)) {
		close_slot(s, sl);
		return;
	}
	if (http_conn_room(&sl->conn))
		want |= EPOLLIN;
	if (http_conn_pending(&sl->conn, &data))
		want |= EPOLLOUT;
	/* A paused connection does not watch for the peer's FIN: level-triggered, it would spin. */
	if (want & EPOLLIN)
		want |= EPOLLRDHUP;
	if (want != sl->events && !epoll_set(s, EPOLL_CTL_MOD, sl->fd, want, (uint32_t)(sl - s->slots)))
		sl->events = want;
}

static void read_slot(struct http_server *s, struct slot *sl, int64_t now)
{
	char buf[65536];
	size_t room;

	while ((room = http_conn_room(&sl->conn)) > 0) {
		ssize_t n = recv(sl->fd, buf, room < sizeof(buf) ? room : sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			http_conn_eof(&sl->conn);
			break;
		}
		if (http_conn_feed(&sl->conn, buf, (size_t)n, now)) {
			http_conn_refuse(&sl->conn, 503, "out of memory");
			break;
		}
	}
	settle(s, sl, now);
}

static void refuse_connection(struct http_server *s, int fd)
{
#define FULL_BODY "{\"error\":\"too many connections\"}\n"
	static const char full[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
				   "Content-Length: 33\r\nConnection: close\r\n\r\n" FULL_BODY;
	_Static_assert(sizeof(FULL_BODY) - 1 == 33, "Content-Length of the canned 503");
	ssize_t n = send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)n;
	close(fd);
	pthread_mutex_lock(&s->lock);
	s->stat_refused++;
	pthread_mutex_unlock(&s->lock);
}

static void accept_all(struct http_server *s, int64_t now)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Established connections go on; new ones wait in the backlog a moment. */
				epoll_set(s, EPOLL_CTL_MOD, s->listen_fd, 0, TAG_LISTEN);
				s->listen_paused_until = now + LISTEN_PAUSE_MS;
			}
			return;
		}
		if (s->open == s->max_connections) {
			refuse_connection(s, fd);
			continue;
		}
		for (i = 0; s->slots[i].used; i++)
			;
		struct slot *sl = &s->slots[i];

		*sl = (struct slot){ .fd = fd, .used = true, .last_write_ms = now };
		http_conn_init(&sl->conn, &s->routes);
		sl->conn.owner = s;
		sl->conn.next_exchange = next_exchange;
		sl->conn.last_input_ms = now;
		if (epoll_set(s, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, (uint32_t)i)) {
			close(fd);
			sl->used = false;
			continue;
		}
		sl->events = EPOLLIN | EPOLLRDHUP;
		s->open++;
		pthread_mutex_lock(&s->lock);
		s->stat_open = s->open;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Heads that do not complete, idle keep-alive connections, stalled bodies and readers. */
static void sweep(struct http_server *s, int64_t now)
{
	for (int i = 0; i < s->max_connections; i++) {
		struct slot *sl = &s->slots[i];
		struct http_conn *c = &sl->conn;
		const char *data;

		if (!sl->used)
			continue;
		if (http_conn_pending(c, &data)) {
			if (now - sl->last_write_ms > IDLE_TIMEOUT_MS)
				close_slot(s, sl);
			continue;
		}
		if (c->state == CONN_HEAD && c->head_started_ms && now - c->head_started_ms > s->head_timeout_ms) {
			http_conn_refuse(c, 408, "request head not complete in time");
			settle(s, sl, now);
		} else if ((c->state == CONN_HEAD || c->state == CONN_BODY) &&
			   now - (c->last_input_ms > sl->last_write_ms ? c->last_input_ms : sl->last_write_ms) > IDLE_TIMEOUT_MS) {
			close_slot(s, sl);
		}
	}
}

static void take_answers(struct http_server *s, int64_t now)
{
	struct answer *a, *next;
	uint64_t count;
	ssize_t n = read(s->wake_fd, &count, sizeof(count));

	(void)n;
	pthread_mutex_lock(&s->lock);
	a = s->answers;
	s->answers = NULL;
	s->answers_tail = &s->answers;
	pthread_mutex_unlock(&s->lock);
	for (; a; a = next) {
		size_t slot = (size_t)(a->exchange & 0xffff);
		struct slot *sl = slot < (size_t)s->max_connections ? &s->slots[slot] : NULL;

		next = a->next;
		if (sl && sl->used && sl->conn.exchange == a->exchange) {
			if (a->admission)
				http_conn_admitted(&sl->conn, &a->resp, now);
			else
				http_conn_answered(&sl->conn, &a->resp, now);
			settle(s, sl, now);
		}
		free(a->resp.body);
		free(a);
	}
}

static int queue_answer(struct http_server *s, uint64_t exchange, struct http_response *resp, bool admission)
{
	struct answer *a = calloc(1, sizeof(*a));

	if (!a) {
		free(resp->body);
		resp->body = NULL;
		return -ENOMEM;
	}
	a->exchange = exchange;
	a->admission = admission;
	a->resp = *resp;
	a->resp.deferred = false;
	resp->body = NULL;
	pthread_mutex_lock(&s->lock);
	*s->answers_tail = a;
	s->answers_tail = &a->next;
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return 0;
}

int http_server_respond(struct http_server *s, uint64_t exchange, struct http_response *resp)
{
	return queue_answer(s, exchange, resp, false);
}

int http_server_admit(struct http_server *s, uint64_t exchange, struct http_response *resp)
{
	return queue_answer(s, exchange, resp, true);
}

int http_server_run(struct http_server *s)
{
	struct epoll_event ev[64];

	while (!atomic_load(&s->stopping)) {
		int n = epoll_wait(s->epoll_fd, ev, 64, 500);
		int64_t now = monotonic_ms();

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint32_t tag = ev[i].data.u32;

			if (tag == TAG_LISTEN)
				accept_all(s, now);
			else if (tag == TAG_WAKE)
				take_answers(s, now);
			else if (s->slots[tag].used && ev[i].events & (EPOLLHUP | EPOLLERR))
				close_slot(s, &s->slots[tag]);
			else if (s->slots[tag].used && ev[i].events & (EPOLLIN | EPOLLRDHUP))
				read_slot(s, &s->slots[tag], now);
			else if (s->slots[tag].used)
				settle(s, &s->slots[tag], now);
		}
		if (s->listen_paused_until && now >= s->listen_paused_until) {
			s->listen_paused_until = 0;
			epoll_set(s, EPOLL_CTL_MOD, s->listen_fd, EPOLLIN, TAG_LISTEN);
		}
		if (now - s->last_sweep_ms >= 100) {
			s->last_sweep_ms = now;
			sweep(s, now);
		}
	}
	return 0;
}

static void *service_thread(void *arg)
{
	struct http_server *s = arg;
	int err = http_server_run(s);

	if (err)
		log_error("http server stopped serving", LOG_ERRNO(err));
	return NULL;
}

int http_server_start_thread(struct http_server *s)
{
	int err;

	if (s->thread_started)
		return -EALREADY;
	err = pthread_create(&s->thread, NULL, service_thread, s);
	if (err)
		return -err;
	s->thread_started = true;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	atomic_store(&s->stopping, true);
	wake(s);
}

void http_server_shutdown(struct http_server *s)
{
	if (s && s->thread_started) {
		http_server_stop(s);
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
}

void http_server_free(struct http_server *s)
{
	struct answer *a, *next;

	if (!s)
		return;
	http_server_shutdown(s);
	for (int i = 0; s->slots && i < s->max_connections; i++)
		if (s->slots[i].used)
			close_slot(s, &s->slots[i]);
	for (a = s->answers; a; a = next) {
		next = a->next;
		free(a->resp.body);
		free(a);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	for (size_t i = 0; i < s->routes.n; i++)
		free(s->routes.items[i].path);
	free(s->routes.items);
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stats(struct http_server *s, int *open, unsigned long *refused)
{
	pthread_mutex_lock(&s->lock);
	*open = s->stat_open;
	*refused = s->stat_refused;
	pthread_mutex_unlock(&s->lock);
}

int http_split_listen(const char *listen, char *addr, size_t len, int *port)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	char *end;
	long p;

	if (!colon)
		return -EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	if (listen[0] == '[' && colon > listen && colon[-1] == ']')
		snprintf(addr, len, "%.*s", (int)(colon - listen - 2), listen + 1);
	else
		snprintf(addr, len, "%.*s", (int)(colon - listen), listen);
	*port = (int)p;
	return 0;
}

bool http_request_has_bearer(const struct http_request *req, const char *token)
{
	const char *given = req->authorization;
	size_t n, want;
	unsigned char diff = 0;

	if (!given || !token || !*token || strncasecmp(given, "Bearer ", 7) != 0)
		return false;
	given += 7;
	while (*given == ' ')
		given++;
	n = strlen(given);
	want = strlen(token);
	/* Only the length can leak through timing, not the position of the first wrong byte. */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)token[i % want];
	return diff == 0 && n == want;
}
