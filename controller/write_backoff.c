/* A map object -> {content fingerprint, failures, next allowed attempt, last error} under a mutex.
 * Entries go away on success, or when nothing failed for them for twice the longest wait. */
#include "controller/write_backoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/backoff.h"
#include "controller/strmap.h"

struct failure {
	uint64_t fingerprint;
	int kind;
	unsigned failures;
	uint64_t last_ms, next_ms;
	char *error;
};

struct write_backoff {
	pthread_mutex_t lock;
	struct strmap *failures;   /* object -> struct failure */
	unsigned base_ms, max_ms;
	uint64_t swept_ms;
};

static void failure_free(void *p)
{
	struct failure *f = p;

	if (f)
		free(f->error);
	free(f);
}

struct write_backoff *write_backoff_new(unsigned base_ms, unsigned max_ms)
{
	struct write_backoff *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->failures = strmap_new();
	if (!b->failures) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->base_ms = base_ms;
	b->max_ms = max_ms;
	return b;
}

void write_backoff_free(struct write_backoff *b)
{
	if (!b)
		return;
	strmap_free(b->failures, failure_free);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int write_backoff_check(struct write_backoff *b, const char *object, uint64_t fingerprint, uint64_t now_ms,
			int *kind, char *last_error, size_t len)
{
	const struct failure *f;
	int err = 0;

	pthread_mutex_lock(&b->lock);
	f = strmap_get(b->failures, object);
	if (f && f->fingerprint == fingerprint && now_ms < f->next_ms) {
		err = -EAGAIN;
		*kind = f->kind;
		if (len)
			snprintf(last_error, len, "%s", f->error ? f->error : "");
	}
	pthread_mutex_unlock(&b->lock);
	return err;
}

struct sweep_ctx {
	uint64_t before_ms;
	char **stale;
	size_t n, cap;
};

static int collect_stale(void *ud, const char *key, void *value)
{
	struct sweep_ctx *s = ud;
	const struct failure *f = value;

	if (f->last_ms >= s->before_ms)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->stale, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->stale = v;
		s->cap = cap;
	}
	s->stale[s->n++] = strdup(key);
	return 0;
}

/* Objects nobody tried to write for a long time (their pod or CR went away) are forgotten. */
static void sweep_locked(struct write_backoff *b, uint64_t now_ms)
{
	uint64_t keep = 2 * (uint64_t)b->max_ms;
	struct sweep_ctx s = { .before_ms = now_ms > keep ? now_ms - keep : 0 };

	if (now_ms - b->swept_ms < b->max_ms)
		return;
	b->swept_ms = now_ms;
	strmap_each(b->failures, collect_stale, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.stale[i])
			failure_free(strmap_remove(b->failures, s.stale[i]));
		free(s.stale[i]);
	}
	free(s.stale);
}

int write_backoff_failed(struct write_backoff *b, const char *object, uint64_t fingerprint, uint64_t now_ms,
			 int kind, const char *error)
{
	struct failure *f;
	char *msg = strdup(error ? error : "");
	int err = 0;

	if (!msg)
		return -ENOMEM;
	pthread_mutex_lock(&b->lock);
	sweep_locked(b, now_ms);
	f = strmap_get(b->failures, object);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (f)
			strmap_put(b->failures, object, f, &err);
		if (!f || err) {
			free(f);
			free(msg);
			pthread_mutex_unlock(&b->lock);
			return -ENOMEM;
		}
	}
	if (f->fingerprint != fingerprint)
		f->failures = 0;
	f->fingerprint = fingerprint;
	f->kind = kind;
	f->last_ms = now_ms;
	f->next_ms = now_ms + backoff_delay_ms(b->base_ms, b->max_ms, f->failures, 0.1, backoff_random());
	if (f->failures < 64)
		f->failures++;
	free(f->error);
	f->error = msg;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void write_backoff_succeeded(struct write_backoff *b, const char *object)
{
	pthread_mutex_lock(&b->lock);
	failure_free(strmap_remove(b->failures, object));
	pthread_mutex_unlock(&b->lock);
}

size_t write_backoff_count(struct write_backoff *b)
{
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = strmap_count(b->failures);
	pthread_mutex_unlock(&b->lock);
	return n;
}
