/* The policy service's HTTP thread: admission of PUT /v1/policy (the token, before any body byte
 * is read), hand-over of the body to the worker, and answers that never wait for it: GET from the
 * node's published snapshot, health, readiness, metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/service/agent_service.h"
#include "common/http_server.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/metrics.h"

#define QUEUE_MAX_JOBS  16
#define QUEUE_MAX_BYTES (64u << 20)

static const char not_ready[] = "not ready: the agent is starting (dataplane, state file)";

/* At every scrape: what the auth module and the HTTP server counted. */
static void collect(void *ctx)
{
	struct agent_service *svc = ctx;
	struct agent_auth_stats st;
	unsigned long refused;
	int open;

	agent_auth_stats(svc->auth, &st);
	agent_metrics_auth(svc->metrics, &st);
	http_server_stats(svc->server, &open, &refused);
	agent_metrics_http(svc->metrics, open, refused);
}

int agent_service_init(struct agent_service *svc, struct http_server *server, struct agent_auth *auth,
		       struct metrics_registry *registry, struct agent_metrics *metrics, struct agent_node **nodes,
		       size_t n_nodes, const char *arch)
{
	memset(svc, 0, sizeof(*svc));
	svc->server = server;
	svc->auth = auth;
	svc->registry = registry;
	svc->metrics = metrics;
	svc->nodes = nodes;
	svc->n_nodes = n_nodes;
	svc->arch = arch;
	atomic_init(&svc->ready, false);
	pthread_mutex_init(&svc->lock, NULL);
	svc->queue_tail = &svc->queue;
	svc->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (svc->queue_fd < 0)
		return -errno;
	return registry && metrics ? metrics_registry_add_collector(registry, collect, svc, NULL) : 0;
}

void agent_service_clear(struct agent_service *svc)
{
	struct push_job *j, *next;

	for (j = svc->queue; j; j = next) {
		next = j->next;
		free(j->body);
		free(j);
	}
	if (svc->queue_fd >= 0)
		close(svc->queue_fd);
	pthread_mutex_destroy(&svc->lock);
	memset(svc, 0, sizeof(*svc));
	svc->queue_fd = -1;
}

static int cmp_node(const void *a, const void *b)
{
	const struct agent_node *x = *(const struct agent_node *const *)a, *y = *(const struct agent_node *const *)b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

void agent_service_sort_nodes(struct agent_node **nodes, size_t n)
{
	qsort(nodes, n, sizeof(*nodes), cmp_node);
}

struct agent_node *agent_service_node(const struct agent_service *svc, const char *name)
{
	struct agent_node key = { .name = (char *)name }, *k = &key, **hit;

	if (svc->n_nodes == 1 && (!svc->nodes[0]->name || !name))
		return svc->nodes[0];
	if (!name)
		return NULL;
	hit = bsearch(&k, svc->nodes, svc->n_nodes, sizeof(*svc->nodes), cmp_node);
	return hit ? *hit : NULL;
}

int agent_service_queue(struct agent_service *svc, struct push_job *job)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&svc->lock);
	if (svc->queued >= QUEUE_MAX_JOBS || svc->queued_bytes + job->len > QUEUE_MAX_BYTES) {
		pthread_mutex_unlock(&svc->lock);
		return -EBUSY;
	}
	job->next = NULL;
	*svc->queue_tail = job;
	svc->queue_tail = &job->next;
	svc->queued++;
	svc->queued_bytes += job->len;
	pthread_mutex_unlock(&svc->lock);
	n = write(svc->queue_fd, &one, sizeof(one));
	(void)n;
	return 0;
}

int agent_service_queue_fd(const struct agent_service *svc)
{
	return svc->queue_fd;
}

/* PUT /v1/policy, the head: readiness and the token decide before the body is read. */
static void admit_push(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent_service *svc = ctx;

	if (!atomic_load(&svc->ready)) {
		/* The state file is being re-applied: a push now would race with it. The controller retries. */
		json_respond_error(resp, 503, not_ready);
		return;
	}
	agent_auth_admit(svc->auth, svc->server, req, resp);
}

/* PUT /v1/policy, the body: handed to the worker, which answers. */
static void take_push(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent_service *svc = ctx;
	struct push_job *job = calloc(1, sizeof(*job));
	int err;

	if (!job || !(job->body = malloc(req->body_len + 1))) {
		free(job);
		json_respond_error(resp, 503, "out of memory");
		return;
	}
	memcpy(job->body, req->body ? req->body : "", req->body_len);
	job->body[req->body_len] = '\0';
	job->len = req->body_len;
	job->exchange = req->exchange;
	job->received_ms = monotonic_ms();
	err = agent_auth_reviewed(svc->auth, req->authorization, job->pod_name);
	if (agent_auth_disabled(svc->auth))
		log_warn("policy push accepted without authentication");
	if (!err)
		err = agent_service_queue(svc, job);
	if (err) {
		json_respond_error(resp, err == -EACCES ? 401 : 503,
				   err == -EBUSY ? "too many pushes queued, retry later" :
				   err == -ENOENT ? "the token's review expired before the body arrived, retry" :
						    "bearer token no longer accepted");
		free(job->body);
		free(job);
		return;
	}
	resp->deferred = true;
}

/* The value of `node=` in a query, into buf; NULL when absent. */
static const char *query_node(const char *query, char *buf, size_t len)
{
	for (const char *q = query; q && *q; q = strchr(q, '&') ? strchr(q, '&') + 1 : NULL)
		if (!strncmp(q, "node=", 5)) {
			snprintf(buf, len, "%.*s", (int)strcspn(q + 5, "&"), q + 5);
			return buf;
		}
	return NULL;
}

/* GET /v1/policy[?node=NAME]: the node's published state; never waits for an apply. */
static void get_policy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent_service *svc = ctx;
	char name[POLICY_NAME_MAX + 2];
	const char *want = query_node(req->query, name, sizeof(name));
	struct agent_node *n;

	if (!atomic_load(&svc->ready)) {
		json_respond_error(resp, 503, not_ready);
		return;
	}
	n = agent_service_node(svc, want);
	if (!n || (want && n->name && strcmp(n->name, want))) {
		json_respond_error(resp, 404, want ? "no such node here" : "name the node: ?node=NAME");
		return;
	}
	if (agent_node_snapshot(n, &resp->body, &resp->body_len)) {
		json_respond_error(resp, 500, "out of memory");
		return;
	}
	resp->content_type = "application/json";
}

static void text(struct http_response *resp, int status, const char *body)
{
	resp->status = status;
	resp->body = strdup(body);
	resp->body_len = resp->body ? strlen(body) : 0;
}

static void healthz(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	text(resp, 200, "ok");
}

static void readyz(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent_service *svc = ctx;

	(void)req;
	if (atomic_load(&svc->ready))
		text(resp, 200, "ok");
	else
		text(resp, 503, "not ready: dataplane opening or state file being re-applied");
}

int agent_api_routes(struct agent_service *svc)
{
	int err = http_server_route_admitted(svc->server, "PUT", "/v1/policy", admit_push, take_push, svc);

	return err ?: http_server_route(svc->server, "GET", "/v1/policy", get_policy, svc);
}

int agent_metrics_routes(struct agent_service *svc, struct http_server *s)
{
	int err = http_server_route(s, "GET", "/metrics", metrics_http_handler, svc->registry);

	err = err ?: http_server_route(s, "GET", "/healthz", healthz, svc);
	return err ?: http_server_route(s, "GET", "/readyz", readyz, svc);
}
