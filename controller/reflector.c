/* Reflector: the list+watch loop of client-go's Reflector in one thread per resource. Watch
 * events update the cache first, then the event handler enqueues reconcile keys. */
#include "controller/reflector.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "controller/backoff.h"
#include "controller/strmap.h"

#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS  5000
#define PATH_MAX_LEN    2048

struct reflector {
	struct kube_client *client;
	struct reflector_config cfg;
	const struct object_kind *kind;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_bool synced;
	pthread_mutex_t wake_lock;   /* with wake_cond: synced or stop changed (waits, backoff sleeps) */
	pthread_cond_t wake_cond;
	atomic_ulong relists;
	char rv[64];                 /* last resourceVersion seen */
	unsigned long watch_events;  /* events in the current watch */
	char gone_detail[256];
};

int reflector_new(struct kube_client *client, const struct reflector_config *cfg, struct reflector **out)
{
	struct reflector *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->client = client;
	r->cfg = *cfg;
	pthread_mutex_init(&r->wake_lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&r->wake_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	r->kind = object_cache_kind(cfg->cache);
	if (!r->cfg.watch_timeout_s)
		r->cfg.watch_timeout_s = 300;
	if (!r->cfg.page_size)
		r->cfg.page_size = 500;
	*out = r;
	return 0;
}

void reflector_free(struct reflector *r)
{
	if (!r)
		return;
	pthread_cond_destroy(&r->wake_cond);
	pthread_mutex_destroy(&r->wake_lock);
	free(r);
}

/* Sets `flag` and wakes every waiter (reflector_wait_synced, sleep_unless_stopped). */
static void set_and_wake(struct reflector *r, atomic_bool *flag)
{
	pthread_mutex_lock(&r->wake_lock);
	atomic_store(flag, true);
	pthread_cond_broadcast(&r->wake_cond);
	pthread_mutex_unlock(&r->wake_lock);
}

int reflector_wait_synced(struct reflector *r)
{
	pthread_mutex_lock(&r->wake_lock);
	while (!atomic_load(&r->synced) && !atomic_load(&r->stop))
		pthread_cond_wait(&r->wake_cond, &r->wake_lock);
	pthread_mutex_unlock(&r->wake_lock);
	return atomic_load(&r->synced) ? 0 : -ECANCELED;
}

bool reflector_synced(struct reflector *r)
{
	return atomic_load(&r->synced);
}

unsigned long reflector_relists(struct reflector *r)
{
	return atomic_load(&r->relists);
}

static void sleep_unless_stopped(struct reflector *r, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->wake_lock);
	while (!atomic_load(&r->stop) && pthread_cond_timedwait(&r->wake_cond, &r->wake_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&r->wake_lock);
}

/* Stores obj (owned) in the cache and tells the handler. */
static void apply_upsert(struct reflector *r, void *obj)
{
	int err;
	void *old = object_cache_upsert(r->cfg.cache, obj, &err);

	if (err)
		return;
	r->cfg.on_event(r->cfg.ud, old ? OBJECT_UPDATED : OBJECT_ADDED, old, obj);
	r->kind->free(old);
}

static void apply_delete(struct reflector *r, const char *namespace, const char *name)
{
	void *old = object_cache_remove(r->cfg.cache, namespace, name);

	if (!old)
		return;
	r->cfg.on_event(r->cfg.ud, OBJECT_DELETED, old, NULL);
	r->kind->free(old);
}

static void remember_rv(struct reflector *r, const cJSON *obj)
{
	const char *rv = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "resourceVersion"));

	if (rv && *rv)
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
}

static void build_path(struct reflector *r, char *path, bool watch, const char *cont)
{
	char num[96];

	snprintf(path, PATH_MAX_LEN, "%s?", r->cfg.resource_path);
	if (r->cfg.label_selector) {
		strncat(path, "labelSelector=", PATH_MAX_LEN - strlen(path) - 1);
		kube_url_escape(path, PATH_MAX_LEN, r->cfg.label_selector);
		strncat(path, "&", PATH_MAX_LEN - strlen(path) - 1);
	}
	if (watch) {
		/* Like client-go: a random timeout in [T, 2T) spreads reconnects out. */
		int t = r->cfg.watch_timeout_s + (int)(backoff_random() * r->cfg.watch_timeout_s);

		snprintf(num, sizeof(num), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=", t);
		strncat(path, num, PATH_MAX_LEN - strlen(path) - 1);
		kube_url_escape(path, PATH_MAX_LEN, r->rv);
	} else {
		snprintf(num, sizeof(num), "limit=%u", r->cfg.page_size);
		strncat(path, num, PATH_MAX_LEN - strlen(path) - 1);
		if (cont) {
			strncat(path, "&continue=", PATH_MAX_LEN - strlen(path) - 1);
			kube_url_escape(path, PATH_MAX_LEN, cont);
		}
	}
}

struct stale_scan {
	struct strmap *seen;
	char **stale;
	size_t n, cap;
};

static int collect_stale(void *ud, const void *obj)
{
	struct stale_scan *s = ud;
	const struct object_meta *m = object_meta_of(obj);
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", m->namespace, m->name);
	if (strmap_contains(s->seen, key))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **n = realloc(s->stale, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->stale = n;
		s->cap = cap;
	}
	s->stale[s->n++] = strdup(key);
	return 0;
}

/* Lists every page into the cache, then drops cached objects the list no longer has (deleted
 * while we were not watching). Leaves r->rv at the list's resourceVersion. */
static int list_all(struct reflector *r)
{
	struct strmap *seen = strmap_new();
	struct stale_scan scan = { .seen = seen };
	char *cont = NULL, path[PATH_MAX_LEN];
	struct kube_error kerr;
	size_t total = 0;
	int err = 0;

	if (!seen)
		return -ENOMEM;
	do {
		cJSON *list = NULL, *item;
		const cJSON *meta;

		build_path(r, path, false, cont);
		err = kube_request(r->client, "GET", path, NULL, NULL, &list, &kerr);
		if (err) {
			log_warn("list failed", LOG_STR("resource", r->kind->name), LOG_KUBE_ERROR(kerr));
			break;
		}
		meta = cJSON_GetObjectItem(list, "metadata");
		free(cont);
		cont = NULL;
		if (cJSON_GetStringValue(cJSON_GetObjectItem(meta, "continue")) &&
		    *cJSON_GetStringValue(cJSON_GetObjectItem(meta, "continue")))
			cont = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "continue")));
		remember_rv(r, list);
		cJSON_ArrayForEach(item, cJSON_GetObjectItem(list, "items")) {
			void *obj = r->kind->decode(item);
			char key[512];

			if (!obj)
				continue;
			snprintf(key, sizeof(key), "%s/%s", object_meta_of(obj)->namespace, object_meta_of(obj)->name);
			strmap_put(seen, key, NULL, &err);
			apply_upsert(r, obj);
			total++;
		}
		cJSON_Delete(list);
	} while (cont && !err && !atomic_load(&r->stop));
	free(cont);
	if (!err) {
		object_cache_read_lock(r->cfg.cache);
		err = object_cache_each_locked(r->cfg.cache, NULL, collect_stale, &scan);
		object_cache_unlock(r->cfg.cache);
		for (size_t i = 0; i < scan.n; i++) {
			char *slash = scan.stale[i] ? strchr(scan.stale[i], '/') : NULL;

			if (slash) {
				*slash = '\0';
				apply_delete(r, scan.stale[i], slash + 1);
			}
			free(scan.stale[i]);
		}
		free(scan.stale);
		log_info("listed", LOG_STR("resource", r->kind->name), LOG_INT("objects", total),
			 LOG_STR("resource_version", r->rv));
	}
	strmap_free(seen, NULL);
	return err;
}

static int on_watch_event(void *ud, const char *type, cJSON *object)
{
	struct reflector *r = ud;
	void *obj;

	if (!type)
		return 0;
	if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItem(object, "code");
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(object, "message"));

		if (cJSON_IsNumber(code) && code->valueint == 410) {
			snprintf(r->gone_detail, sizeof(r->gone_detail), "%s", msg ? msg : "");
			return KUBE_EGONE;
		}
		log_warn("watch error event", LOG_STR("resource", r->kind->name), LOG_ERROR_TEXT(msg ? msg : ""));
		return -EIO;
	}
	r->watch_events++;
	if (strcmp(type, "BOOKMARK") == 0) {
		remember_rv(r, object);
		return 0;
	}
	obj = r->kind->decode(object);
	if (!obj)
		return 0;
	if (strcmp(type, "DELETED") == 0) {
		apply_delete(r, object_meta_of(obj)->namespace, object_meta_of(obj)->name);
		r->kind->free(obj);
	} else {
		apply_upsert(r, obj);
	}
	remember_rv(r, object);
	return 0;
}

static void *reflector_run(void *arg)
{
	struct reflector *r = arg;
	bool need_list = true;
	unsigned attempt = 0;
	char path[PATH_MAX_LEN];

	while (!atomic_load(&r->stop)) {
		struct kube_error kerr;
		time_t started;
		int err;

		if (need_list) {
			err = list_all(r);
			if (err) {
				sleep_unless_stopped(r, backoff_delay_ms(BACKOFF_BASE_MS, BACKOFF_MAX_MS, attempt++, 0.5,
									 backoff_random()));
				continue;
			}
			atomic_fetch_add(&r->relists, 1);
			set_and_wake(r, &r->synced);
			need_list = false;
			attempt = 0;
		}
		build_path(r, path, true, NULL);
		r->watch_events = 0;
		started = time(NULL);
		err = kube_watch(r->client, path, on_watch_event, r, &r->stop, 2 * r->cfg.watch_timeout_s + 30, &kerr);
		if (err == -ECANCELED || atomic_load(&r->stop))
			break;
		if (err == KUBE_EGONE) {
			log_info("watch expired, relisting", LOG_STR("resource", r->kind->name),
				 LOG_STR("resource_version", r->rv),
				 LOG_ERROR_TEXT(r->gone_detail[0] ? r->gone_detail : kerr.message));
			r->gone_detail[0] = '\0';
			need_list = true;
			continue;
		}
		if (r->watch_events > 0 || time(NULL) - started >= 5)
			attempt = 0;
		if (err == 0 && time(NULL) - started >= 1)
			continue; /* the server ended the watch at timeoutSeconds: resume at once */
		if (err)
			log_warn("watch dropped, resuming", LOG_STR("resource", r->kind->name),
				 LOG_STR("resource_version", r->rv), LOG_INT("http_status", kerr.http_status),
				 LOG_STR("reason", kerr.reason), LOG_ERROR_TEXT(kerr.message[0] ? kerr.message : log_strerror(err)));
		sleep_unless_stopped(r, backoff_delay_ms(BACKOFF_BASE_MS, BACKOFF_MAX_MS, attempt++, 0.5,
							 backoff_random()));
	}
	return NULL;
}

int reflector_start(struct reflector *r)
{
	int err = pthread_create(&r->thread, NULL, reflector_run, r);

	if (err)
		return -err;
	r->started = true;
	return 0;
}

void reflector_signal_stop(struct reflector *r)
{
	if (r)
		set_and_wake(r, &r->stop);
}

void reflector_stop(struct reflector *r)
{
	if (!r || !r->started)
		return;
	set_and_wake(r, &r->stop);
	pthread_join(r->thread, NULL);
	r->started = false;
}
