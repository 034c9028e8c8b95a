/* The Lease loop: one thread that tries to acquire or renew every retry period. Expiry of another
 * holder's lease is measured from when *we* last saw its record change, never from its renewTime,
 * so clock skew between candidates does not matter (client-go's observedTime). */
#include "controller/leader_election.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"

/* The Lease as the log schema names it: its namespace and name. */
#define LOG_LEASE(le) LOG_STR("namespace", (le)->cfg.lock_namespace), LOG_STR("lease", (le)->cfg.lock_name)

struct leader_election {
	struct kube_client *client;
	struct leader_election_config cfg;
	char path[800];               /* the Lease */
	char collection[512];         /* its namespace's leases */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_bool leading;
	atomic_uint_fast64_t renewed_ms; /* monotonic time of the last successful acquire/renew */
	atomic_llong transitions;
	/* Observed record, touched only by the election thread (and stop after the join). */
	char observed_holder[256];
	char observed_renew[64];
	char observed_rv[64];
	long long observed_transitions;
	uint64_t observed_ms;
	char acquire_time[64];
	char logged_holder[256];
	/* A watch on the Lease wakes a waiting candidate the moment the record changes, so a
	 * released Lease is taken over at once and expiry is measured from the real renew. */
	pthread_t watch_thread;
	bool watching;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake_cond;
	bool wake;
	/* Writers wait on this for leadership (broadcast after every acquire, renew, loss, stop). */
	pthread_mutex_t state_lock;
	pthread_cond_t state_cond;
	/* One Lease write at a time: the renew loop and raises of the epoch share observed_*. */
	pthread_mutex_t write_lock;
	long long highest_transitions; /* ever observed: a recreated Lease never goes below it */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* metav1.MicroTime: RFC 3339 with microseconds. */
static void micro_time_now(char out[64])
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 64, "%s.%06ldZ", base, (long)tv.tv_usec);
}

/* A LEADER_ELECTION_* duration in the one duration grammar (common/duration.h); unset keeps *ms. */
static int env_duration(const char *name, unsigned *ms, char *why, size_t why_len)
{
	const char *v = getenv(name);
	int64_t ns;

	if (!v || !*v)
		return 0;
	if (duration_parse(v, &ns) || ns < 1000000 || ns / 1000000 > UINT_MAX) {
		snprintf(why, why_len, "%s=\"%.32s\": not a duration of at least 1ms like 15s or 500ms", name, v);
		return -EINVAL;
	}
	*ms = (unsigned)(ns / 1000000);
	return 0;
}

int leader_election_config_from_env(struct leader_election_config *cfg, const char *default_namespace,
				    char *why, size_t why_len)
{
	const char *enabled = getenv("LEADER_ELECTION_ENABLED");
	const char *name = getenv("LEADER_ELECTION_LOCK_NAME");
	const char *ns = getenv("LEADER_ELECTION_LOCK_NAMESPACE");

	cfg->enabled = true;
	if (enabled && *enabled) {
		if (strcmp(enabled, "false") == 0 || strcmp(enabled, "0") == 0) {
			cfg->enabled = false;
		} else if (strcmp(enabled, "true") != 0 && strcmp(enabled, "1") != 0) {
			snprintf(why, why_len, "LEADER_ELECTION_ENABLED=\"%.32s\": not true or false", enabled);
			return -EINVAL;
		}
	}
	cfg->lease_duration_ms = 15000;
	cfg->renew_deadline_ms = 10000;
	cfg->retry_period_ms = 2000;
	if (env_duration("LEADER_ELECTION_LEASE_DURATION", &cfg->lease_duration_ms, why, why_len) ||
	    env_duration("LEADER_ELECTION_RENEW_DEADLINE", &cfg->renew_deadline_ms, why, why_len) ||
	    env_duration("LEADER_ELECTION_RETRY_PERIOD", &cfg->retry_period_ms, why, why_len))
		return -EINVAL;
	/* client-go's rules: leaseDuration > renewDeadline > retryPeriod * 1.2 */
	if (cfg->lease_duration_ms <= cfg->renew_deadline_ms ||
	    cfg->renew_deadline_ms <= cfg->retry_period_ms * 6 / 5) {
		snprintf(why, why_len,
			 "lease duration %ums, renew deadline %ums, retry period %ums: needs lease duration > "
			 "renew deadline > 1.2 x retry period",
			 cfg->lease_duration_ms, cfg->renew_deadline_ms, cfg->retry_period_ms);
		return -EINVAL;
	}
	cfg->lock_name = name && *name ? name : "pcmc-controller-leader";
	cfg->lock_namespace = ns && *ns ? ns : default_namespace ? default_namespace : "default";
	return 0;
}

int leader_election_new(struct kube_client *client, const struct leader_election_config *cfg,
			struct leader_election **out)
{
	struct leader_election *le = calloc(1, sizeof(*le));

	if (!le)
		return -ENOMEM;
	le->client = client;
	le->cfg = *cfg;
	snprintf(le->collection, sizeof(le->collection), "/apis/coordination.k8s.io/v1/namespaces/%s/leases",
		 cfg->lock_namespace);
	snprintf(le->path, sizeof(le->path), "%s/%s", le->collection, cfg->lock_name);
	pthread_mutex_init(&le->wake_lock, NULL);
	pthread_mutex_init(&le->state_lock, NULL);
	pthread_mutex_init(&le->write_lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&le->state_cond, &attr);
		pthread_cond_init(&le->wake_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	*out = le;
	return 0;
}

void leader_election_free(struct leader_election *le)
{
	if (!le)
		return;
	pthread_cond_destroy(&le->wake_cond);
	pthread_mutex_destroy(&le->wake_lock);
	pthread_cond_destroy(&le->state_cond);
	pthread_mutex_destroy(&le->state_lock);
	pthread_mutex_destroy(&le->write_lock);
	free(le);
}

bool leader_election_is_leader(struct leader_election *le)
{
	if (!le->cfg.enabled)
		return true;
	return atomic_load(&le->leading) &&
	       mono_ms() < atomic_load(&le->renewed_ms) + le->cfg.renew_deadline_ms;
}

long long leader_election_transitions(struct leader_election *le)
{
	return atomic_load(&le->transitions);
}

static void state_changed(struct leader_election *le)
{
	pthread_mutex_lock(&le->state_lock);
	pthread_cond_broadcast(&le->state_cond);
	pthread_mutex_unlock(&le->state_lock);
}

bool leader_election_wait(struct leader_election *le)
{
	pthread_mutex_lock(&le->state_lock);
	while (!atomic_load(&le->stop) && !leader_election_is_leader(le))
		pthread_cond_wait(&le->state_cond, &le->state_lock);
	pthread_mutex_unlock(&le->state_lock);
	return !atomic_load(&le->stop);
}

static const char *str_at(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static cJSON *lease_body(struct leader_election *le, const char *holder, unsigned duration_s,
			 const char *acquire, const char *renew, long long transitions, const char *rv)
{
	cJSON *lease = cJSON_CreateObject(), *meta, *spec;

	cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(lease, "kind", "Lease");
	meta = cJSON_AddObjectToObject(lease, "metadata");
	cJSON_AddStringToObject(meta, "name", le->cfg.lock_name);
	cJSON_AddStringToObject(meta, "namespace", le->cfg.lock_namespace);
	if (rv)
		cJSON_AddStringToObject(meta, "resourceVersion", rv);
	spec = cJSON_AddObjectToObject(lease, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", holder);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", duration_s);
	cJSON_AddStringToObject(spec, "acquireTime", acquire);
	cJSON_AddStringToObject(spec, "renewTime", renew);
	cJSON_AddNumberToObject(spec, "leaseTransitions", (double)transitions);
	return lease;
}

/* Records what the server returned; restarts the expiry clock when the record changed. */
static void observe(struct leader_election *le, const cJSON *lease)
{
	const cJSON *meta = cJSON_GetObjectItem(lease, "metadata");
	const cJSON *spec = cJSON_GetObjectItem(lease, "spec");
	const char *holder = str_at(spec, "holderIdentity") ? str_at(spec, "holderIdentity") : "";
	const char *renew = str_at(spec, "renewTime") ? str_at(spec, "renewTime") : "";
	const char *rv = str_at(meta, "resourceVersion") ? str_at(meta, "resourceVersion") : "";
	const cJSON *tr = cJSON_GetObjectItem(spec, "leaseTransitions");

	if (strcmp(holder, le->observed_holder) != 0 || strcmp(renew, le->observed_renew) != 0 ||
	    strcmp(rv, le->observed_rv) != 0) {
		snprintf(le->observed_holder, sizeof(le->observed_holder), "%s", holder);
		snprintf(le->observed_renew, sizeof(le->observed_renew), "%s", renew);
		snprintf(le->observed_rv, sizeof(le->observed_rv), "%s", rv);
		le->observed_ms = mono_ms();
	}
	snprintf(le->acquire_time, sizeof(le->acquire_time), "%s",
		 str_at(spec, "acquireTime") ? str_at(spec, "acquireTime") : "");
	le->observed_transitions = cJSON_IsNumber(tr) ? (long long)tr->valuedouble : 0;
	if (le->observed_transitions > le->highest_transitions)
		le->highest_transitions = le->observed_transitions;
	atomic_store(&le->transitions, le->observed_transitions);
}

/* One client-go tryAcquireOrRenew. Returns 1 when we hold the lease now, 0 when another does
 * (*wait_ms: how long until its lease expires), or -errno. */
static int try_acquire_or_renew(struct leader_election *le, uint64_t *wait_ms)
{
	unsigned duration_s = (le->cfg.lease_duration_ms + 999) / 1000;
	long timeout = (long)le->cfg.retry_period_ms;
	struct kube_error kerr;
	cJSON *lease = NULL, *body, *reply = NULL;
	const char *holder;
	char now[64];
	bool ours;
	int err;

	*wait_ms = le->cfg.retry_period_ms;
	micro_time_now(now);
	err = kube_request_timeout(le->client, "GET", le->path, NULL, NULL, &lease, &kerr, timeout);
	if (err == KUBE_ENOTFOUND) {
		/* Deleted (or never made): the epoch must not go back to 0, or every agent holding a
		 * higher one would refuse us. A leader keeps its epoch; anyone else takes the next. */
		long long tr = le->highest_transitions + (atomic_load(&le->leading) || !le->highest_transitions ? 0 : 1);

		if (atomic_load(&le->leading))
			log_warn("lease gone while leading: recreating it", LOG_LEASE(le), LOG_INT("lease_transitions", tr));
		body = lease_body(le, le->cfg.identity, duration_s, now, now, tr, NULL);
		err = kube_request_timeout(le->client, "POST", le->collection, body, NULL, &reply, &kerr, timeout);
		cJSON_Delete(body);
		if (!err)
			observe(le, reply);
		cJSON_Delete(reply);
		return err ? err : 1;
	}
	if (err) {
		log_warn("lease read failed", LOG_LEASE(le), LOG_KUBE_ERROR(kerr));
		return err;
	}
	observe(le, lease);
	cJSON_Delete(lease);
	holder = le->observed_holder;
	ours = strcmp(holder, le->cfg.identity) == 0;
	if (*holder && !ours) {
		uint64_t expires = le->observed_ms + le->cfg.lease_duration_ms, t = mono_ms();

		if (t < expires) {
			/* Wake right at expiry if that is sooner than the next retry. */
			if (expires - t < *wait_ms)
				*wait_ms = expires - t + 1;
			return 0;
		}
	}
	body = lease_body(le, le->cfg.identity, duration_s, ours && le->acquire_time[0] ? le->acquire_time : now,
			  now, ours ? le->observed_transitions : le->observed_transitions + 1, le->observed_rv);
	err = kube_request_timeout(le->client, "PUT", le->path, body, NULL, &reply, &kerr, timeout);
	cJSON_Delete(body);
	if (!err)
		observe(le, reply);
	else if (err != KUBE_ECONFLICT)
		log_warn("lease write failed", LOG_LEASE(le), LOG_KUBE_ERROR(kerr));
	cJSON_Delete(reply);
	return err ? err : 1;
}

static void wake_up(struct leader_election *le)
{
	pthread_mutex_lock(&le->wake_lock);
	le->wake = true;
	pthread_cond_signal(&le->wake_cond);
	pthread_mutex_unlock(&le->wake_lock);
}

/* Sleeps `ms`, or less when the Lease changed or stop was asked. */
static void wait_for_turn(struct leader_election *le, uint64_t ms)
{
	uint64_t until = mono_ms() + ms;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000 };

	pthread_mutex_lock(&le->wake_lock);
	while (!le->wake && !atomic_load(&le->stop) &&
	       pthread_cond_timedwait(&le->wake_cond, &le->wake_lock, &ts) != ETIMEDOUT)
		;
	le->wake = false;
	pthread_mutex_unlock(&le->wake_lock);
}

static int on_lease_event(void *ud, const char *type, cJSON *object)
{
	struct leader_election *le = ud;

	(void)object;
	if (type && strcmp(type, "BOOKMARK") != 0 && !atomic_load(&le->leading))
		wake_up(le);
	return 0;
}

/* Sleeps `ms` or until leader_election_stop (it broadcasts state_cond). */
static void sleep_unless_stopped(struct leader_election *le, uint64_t ms)
{
	uint64_t until = mono_ms() + ms;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000 };

	pthread_mutex_lock(&le->state_lock);
	while (!atomic_load(&le->stop) && pthread_cond_timedwait(&le->state_cond, &le->state_lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&le->state_lock);
}

static void *lease_watch_run(void *arg)
{
	struct leader_election *le = arg;
	char path[1200];

	snprintf(path, sizeof(path), "%s?watch=1&timeoutSeconds=300&fieldSelector=metadata.name%%3D%s",
		 le->collection, le->cfg.lock_name);
	while (!atomic_load(&le->stop)) {
		struct kube_error kerr;
		int err = kube_watch(le->client, path, on_lease_event, le, &le->stop, 330, &kerr);

		if (err == -ECANCELED || atomic_load(&le->stop))
			break;
		/* Polling every retry period still works meanwhile; just do not spin. */
		sleep_unless_stopped(le, 1000);
	}
	return NULL;
}

static void lose(struct leader_election *le, const char *reason, const char *why)
{
	atomic_store(&le->leading, false);
	log_warn("leadership lost", LOG_STR("identity", le->cfg.identity), LOG_LEASE(le), LOG_STR("reason", reason),
		 LOG_ERROR_TEXT(why));
	if (le->cfg.on_stopped_leading)
		le->cfg.on_stopped_leading(le->cfg.ud);
	state_changed(le);
}

void leader_election_step_down(struct leader_election *le, const char *reason, const char *why)
{
	if (le->cfg.enabled && atomic_load(&le->leading))
		lose(le, reason, why);
}

/* GET, check we hold it, PUT with leaseTransitions raised, conditioned on the resourceVersion we
 * read; a conflict (a renew of ours raced it) reads again. Caller holds write_lock. */
static int raise_locked(struct leader_election *le, long long min, long long *out)
{
	unsigned duration_s = (le->cfg.lease_duration_ms + 999) / 1000;
	long timeout = (long)le->cfg.retry_period_ms;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct kube_error kerr;
		cJSON *lease = NULL, *body, *reply = NULL;
		char now[64];
		int err;

		err = kube_request_timeout(le->client, "GET", le->path, NULL, NULL, &lease, &kerr, timeout);
		if (err == KUBE_ENOTFOUND)
			return RAISE_ENOTHOLDER;
		if (err)
			return err;
		observe(le, lease);
		cJSON_Delete(lease);
		if (strcmp(le->observed_holder, le->cfg.identity) != 0)
			return RAISE_ENOTHOLDER;
		if (le->observed_transitions >= min) {
			*out = le->observed_transitions;
			return 0;
		}
		micro_time_now(now);
		body = lease_body(le, le->cfg.identity, duration_s, le->acquire_time[0] ? le->acquire_time : now, now, min,
				  le->observed_rv);
		err = kube_request_timeout(le->client, "PUT", le->path, body, NULL, &reply, &kerr, timeout);
		cJSON_Delete(body);
		if (!err)
			observe(le, reply);
		cJSON_Delete(reply);
		if (err == KUBE_ECONFLICT)
			continue;
		if (err) {
			log_warn("lease write failed", LOG_LEASE(le), LOG_KUBE_ERROR(kerr));
			return err;
		}
		*out = le->observed_transitions;
		return 1;
	}
	return KUBE_ECONFLICT;
}

int leader_election_raise_transitions(struct leader_election *le, long long min, long long *out)
{
	int err;

	if (!le->cfg.enabled) {
		*out = min;
		return 0;
	}
	if (!leader_election_is_leader(le))
		return RAISE_ENOTHOLDER;
	pthread_mutex_lock(&le->write_lock);
	err = raise_locked(le, min, out);
	pthread_mutex_unlock(&le->write_lock);
	if (err == 1)
		log_info("lease transitions raised", LOG_LEASE(le), LOG_INT("lease_transitions", *out));
	return err;
}

static void *election_run(void *arg)
{
	struct leader_election *le = arg;

	while (!atomic_load(&le->stop)) {
		uint64_t started = mono_ms(), wait_ms;
		int rc;

		pthread_mutex_lock(&le->write_lock);
		rc = try_acquire_or_renew(le, &wait_ms);
		pthread_mutex_unlock(&le->write_lock);

		if (rc == 1) {
			atomic_store(&le->renewed_ms, started);
			if (!atomic_load(&le->leading)) {
				atomic_store(&le->leading, true);
				log_info("became leader", LOG_STR("identity", le->cfg.identity), LOG_LEASE(le),
					 LOG_INT("lease_transitions", le->observed_transitions));
				if (le->cfg.on_started_leading)
					le->cfg.on_started_leading(le->cfg.ud);
			}
			state_changed(le);
		} else if (atomic_load(&le->leading)) {
			if (rc == 0)
				lose(le, "LeaseTaken", "another candidate holds the lease");
			else if (mono_ms() >= atomic_load(&le->renewed_ms) + le->cfg.renew_deadline_ms)
				lose(le, "RenewDeadline", "no renew succeeded within the renew deadline");
		} else if (rc == 0 && strcmp(le->logged_holder, le->observed_holder) != 0) {
			snprintf(le->logged_holder, sizeof(le->logged_holder), "%s", le->observed_holder);
			log_info("lease held by another candidate", LOG_STR("holder", le->observed_holder),
				 LOG_LEASE(le));
		}
		/* Renew every retry period, measured from the start of this attempt. */
		uint64_t spent = mono_ms() - started;

		if (rc == 1 || rc < 0)
			wait_ms = le->cfg.retry_period_ms;
		wait_for_turn(le, wait_ms > spent ? wait_ms - spent : 0);
	}
	return NULL;
}

int leader_election_start(struct leader_election *le)
{
	int err;

	if (!le->cfg.enabled) {
		atomic_store(&le->leading, true);
		if (le->cfg.on_started_leading)
			le->cfg.on_started_leading(le->cfg.ud);
		state_changed(le);
		return 0;
	}
	err = pthread_create(&le->thread, NULL, election_run, le);
	if (err)
		return -err;
	le->started = true;
	le->watching = pthread_create(&le->watch_thread, NULL, lease_watch_run, le) == 0;
	return 0;
}

/* Hands the Lease back like client-go's ReleaseOnCancel: empty holder, 1 s duration. */
static void release_lease(struct leader_election *le)
{
	struct kube_error kerr;
	char now[64];
	cJSON *body;
	int err;

	micro_time_now(now);
	body = lease_body(le, "", 1, now, now, le->observed_transitions, le->observed_rv);
	err = kube_request_timeout(le->client, "PUT", le->path, body, NULL, NULL, &kerr, 2000);
	cJSON_Delete(body);
	if (err)
		log_warn("lease release failed", LOG_LEASE(le), LOG_KUBE_ERROR(kerr));
	else
		log_info("lease released", LOG_STR("identity", le->cfg.identity), LOG_LEASE(le));
}

void leader_election_stop(struct leader_election *le, bool release)
{
	bool was_leading;

	if (!le)
		return;
	atomic_store(&le->stop, true);
	state_changed(le);
	if (le->started) {
		wake_up(le);
		pthread_join(le->thread, NULL);
		le->started = false;
	}
	/* Writes stop here; the release comes after, so no write can follow it. */
	was_leading = atomic_exchange(&le->leading, false);
	if (le->cfg.enabled && was_leading && release)
		release_lease(le);
	if (le->watching) {
		pthread_join(le->watch_thread, NULL);
		le->watching = false;
	}
}
