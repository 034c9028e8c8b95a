/* The Lease view: a watch thread observes every change of the record (a new resourceVersion marks
 * a renewal), the worker evaluates pushes against it and re-reads the Lease with a GET when the
 * view says no. The API server's clock is never compared with ours. */
#include "agent/service/agent_lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/kube_client.h"
#include "common/log.h"

#define READ_TIMEOUT_MS        3000
#define DEFAULT_DURATION_S     15     /* a Lease without leaseDurationSeconds */

struct agent_lease {
	struct kube_client *client;
	char name[320];               /* namespace/name */
	char namespace[160], lease[160];
	char path[600], watch_path[800];
	pthread_mutex_t lock;         /* the view */
	bool known;                   /* read at least once (present or absent) */
	bool exists;
	char holder[POLICY_IDENTITY_MAX + 1];
	char rv[64];
	int64_t transitions, duration_ms, observed_ms;
	atomic_bool stop;
	pthread_t thread;
	bool thread_started;
};

static const char *str_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t int_at(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int64_t)v->valuedouble : dflt;
}

/* A record as read or watched (NULL: there is none). Caller holds no lock. */
static void observe(struct agent_lease *l, const cJSON *lease)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(lease, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	const char *rv = str_at(meta, "resourceVersion"), *holder = str_at(spec, "holderIdentity");
	int64_t now = monotonic_ms();

	pthread_mutex_lock(&l->lock);
	l->known = true;
	if (!lease) {
		l->exists = false;
		l->holder[0] = l->rv[0] = '\0';
		l->transitions = 0;
		pthread_mutex_unlock(&l->lock);
		return;
	}
	if (!l->exists || strcmp(l->rv, rv ? rv : ""))
		l->observed_ms = now; /* the record changed: a renewal (or a new holder) seen now */
	l->exists = true;
	snprintf(l->rv, sizeof(l->rv), "%s", rv ? rv : "");
	snprintf(l->holder, sizeof(l->holder), "%s", holder ? holder : "");
	l->transitions = int_at(spec, "leaseTransitions", 0);
	l->duration_ms = int_at(spec, "leaseDurationSeconds", DEFAULT_DURATION_S) * 1000;
	pthread_mutex_unlock(&l->lock);
}

static int on_event(void *ud, const char *type, cJSON *object)
{
	struct agent_lease *l = ud;

	if (!type || !strcmp(type, "BOOKMARK") || !strcmp(type, "ERROR"))
		return 0;
	observe(l, strcmp(type, "DELETED") ? object : NULL);
	return 0;
}

static void *watch_thread(void *arg)
{
	struct agent_lease *l = arg;
	bool logged = false;

	while (!atomic_load(&l->stop)) {
		struct kube_error kerr = { 0 };
		int err = kube_watch(l->client, l->watch_path, on_event, l, &l->stop, 330, &kerr);

		if (err == -ECANCELED || atomic_load(&l->stop))
			break;
		if (err && !logged)
			log_warn("watching the controller's Lease failed", LOG_STR("namespace", l->namespace),
				 LOG_STR("lease", l->lease), LOG_KUBE_ERROR(kerr));
		logged = err != 0;
		for (int i = 0; i < 10 && !atomic_load(&l->stop); i++)
			usleep(100000);
	}
	return NULL;
}

/* One GET: 0 (the view is updated, also when there is no Lease) or -EIO. */
static int read_lease(struct agent_lease *l)
{
	struct kube_error kerr = { 0 };
	cJSON *reply = NULL;
	int err = kube_request_timeout(l->client, "GET", l->path, NULL, NULL, &reply, &kerr, READ_TIMEOUT_MS);

	if (err == KUBE_ENOTFOUND) {
		observe(l, NULL);
		return 0;
	}
	if (err) {
		log_warn("reading the controller's Lease failed", LOG_STR("namespace", l->namespace), LOG_STR("lease", l->lease),
			 LOG_KUBE_ERROR(kerr));
		return -EIO;
	}
	observe(l, reply);
	cJSON_Delete(reply);
	return 0;
}

static enum fence_reason evaluate(struct agent_lease *l, const char *identity, int64_t epoch, struct lease_seen *seen)
{
	int64_t now = monotonic_ms();
	enum fence_reason r = FENCE_NONE;

	pthread_mutex_lock(&l->lock);
	*seen = (struct lease_seen){ .exists = l->exists, .transitions = l->transitions, .duration_ms = l->duration_ms,
				     .since_renew_ms = now - l->observed_ms };
	snprintf(seen->holder, sizeof(seen->holder), "%s", l->holder);
	if (!l->exists || strcmp(l->holder, identity))
		r = FENCE_NOT_LEASE_HOLDER;
	else if (now - l->observed_ms > l->duration_ms)
		r = FENCE_LEASE_EXPIRED;
	else if (epoch > l->transitions)
		r = FENCE_EPOCH_ABOVE_LEASE;
	pthread_mutex_unlock(&l->lock);
	return r;
}

int agent_lease_check(struct agent_lease *l, const char *identity, int64_t epoch, enum fence_reason *reason,
		      struct lease_seen *seen)
{
	bool known;

	pthread_mutex_lock(&l->lock);
	known = l->known;
	pthread_mutex_unlock(&l->lock);
	if (!known && read_lease(l))
		return -EIO;
	*reason = evaluate(l, identity, epoch, seen);
	if (*reason == FENCE_NONE)
		return 0;
	/* The view may be behind (a watch event not yet seen): read the Lease once before refusing. */
	if (read_lease(l))
		return -EIO;
	*reason = evaluate(l, identity, epoch, seen);
	return 0;
}

const char *agent_lease_name(const struct agent_lease *l)
{
	return l->name;
}

int agent_lease_new(struct kube_client *client, const char *namespace, const char *name, struct agent_lease **out)
{
	struct agent_lease *l;
	char ns_esc[200], name_esc[200];
	int err;

	*out = NULL;
	if (!client || !namespace || !*namespace || !name || !*name)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	atomic_init(&l->stop, false);
	l->client = client;
	ns_esc[0] = name_esc[0] = '\0';
	kube_url_escape(ns_esc, sizeof(ns_esc), namespace);
	kube_url_escape(name_esc, sizeof(name_esc), name);
	snprintf(l->name, sizeof(l->name), "%.150s/%.150s", namespace, name);
	snprintf(l->namespace, sizeof(l->namespace), "%s", namespace);
	snprintf(l->lease, sizeof(l->lease), "%s", name);
	snprintf(l->path, sizeof(l->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", ns_esc, name_esc);
	snprintf(l->watch_path, sizeof(l->watch_path),
		 "/apis/coordination.k8s.io/v1/namespaces/%s/leases?watch=1&timeoutSeconds=300&fieldSelector=metadata.name%%3D%s",
		 ns_esc, name_esc);
	err = -pthread_create(&l->thread, NULL, watch_thread, l);
	if (err) {
		agent_lease_free(l);
		return err;
	}
	l->thread_started = true;
	*out = l;
	return 0;
}

void agent_lease_free(struct agent_lease *l)
{
	if (!l)
		return;
	atomic_store(&l->stop, true);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
