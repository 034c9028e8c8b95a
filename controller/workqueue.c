/* Workqueue: FIFO + dirty set + processing set (client-go's Type), plus delayed adds in a min-heap
 * (client-go's delaying queue: O(log n) per add, however many keys wait) and per-key failure
 * counts (client-go's rate-limiting queue), under one mutex and condvar. */
#include "controller/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/backoff.h"
#include "controller/strmap.h"

struct delayed_key {
	uint64_t due;               /* ms, monotonic */
	char *key;                  /* owned */
};

struct workqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char **fifo;                /* ring buffer of owned keys */
	size_t head, len, cap;
	struct strmap *dirty;       /* waiting to be processed (value unused) */
	struct strmap *processing;  /* handed to a worker */
	struct delayed_key *heap;   /* min-heap on due time */
	size_t nheap, heap_cap;
	struct strmap *delayed;     /* key -> (uintptr_t) heap index + 1 */
	struct strmap *failures;    /* key -> (uintptr_t) count */
	unsigned retry_base_ms, retry_max_ms;
	unsigned waiting;           /* workers blocked in workqueue_get */
	bool shutting_down;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct workqueue *workqueue_new(unsigned retry_base_ms, unsigned retry_max_ms)
{
	struct workqueue *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	q->dirty = strmap_new();
	q->processing = strmap_new();
	q->delayed = strmap_new();
	q->failures = strmap_new();
	q->retry_base_ms = retry_base_ms;
	q->retry_max_ms = retry_max_ms;
	if (!q->dirty || !q->processing || !q->delayed || !q->failures) {
		workqueue_free(q);
		return NULL;
	}
	return q;
}

void workqueue_free(struct workqueue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->len; i++)
		free(q->fifo[(q->head + i) % q->cap]);
	free(q->fifo);
	for (size_t i = 0; i < q->nheap; i++)
		free(q->heap[i].key);
	free(q->heap);
	strmap_free(q->dirty, NULL);
	strmap_free(q->processing, NULL);
	strmap_free(q->delayed, NULL);
	strmap_free(q->failures, NULL);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static int fifo_push(struct workqueue *q, const char *key)
{
	char *k = strdup(key);

	if (!k)
		return -ENOMEM;
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		char **n = malloc(cap * sizeof(*n));

		if (!n) {
			free(k);
			return -ENOMEM;
		}
		for (size_t i = 0; i < q->len; i++)
			n[i] = q->fifo[(q->head + i) % q->cap];
		free(q->fifo);
		q->fifo = n;
		q->head = 0;
		q->cap = cap;
	}
	q->fifo[(q->head + q->len) % q->cap] = k;
	q->len++;
	return 0;
}

static char *fifo_pop(struct workqueue *q)
{
	char *k = q->fifo[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return k;
}

static int add_locked(struct workqueue *q, const char *key)
{
	int err = 0;

	if (strmap_contains(q->dirty, key))
		return 0;
	strmap_put(q->dirty, key, NULL, &err);
	if (err)
		return err;
	if (strmap_contains(q->processing, key))
		return 0; /* workqueue_done queues it again */
	err = fifo_push(q, key);
	if (err) {
		strmap_remove(q->dirty, key);
		return err;
	}
	pthread_cond_signal(&q->cond);
	return 0;
}

int workqueue_add(struct workqueue *q, const char *key)
{
	int err;

	pthread_mutex_lock(&q->lock);
	err = q->shutting_down ? -ESHUTDOWN : add_locked(q, key);
	pthread_mutex_unlock(&q->lock);
	return err;
}

/* Heap slot i now holds its entry: record where, for decrease-key. */
static void heap_place(struct workqueue *q, size_t i)
{
	int err = 0;

	strmap_put(q->delayed, q->heap[i].key, (void *)(uintptr_t)(i + 1), &err);
}

static void heap_swap(struct workqueue *q, size_t a, size_t b)
{
	struct delayed_key t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	heap_place(q, a);
	heap_place(q, b);
}

static void heap_up(struct workqueue *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2].due > q->heap[i].due) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct workqueue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->nheap && q->heap[l].due < q->heap[m].due)
			m = l;
		if (r < q->nheap && q->heap[r].due < q->heap[m].due)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

/* Removes the earliest delayed key and returns it (caller frees). */
static char *heap_pop(struct workqueue *q)
{
	char *key = q->heap[0].key;

	strmap_remove(q->delayed, key);
	q->heap[0] = q->heap[--q->nheap];
	if (q->nheap > 0) {
		heap_place(q, 0);
		heap_down(q, 0);
	}
	return key;
}

/* A key already waiting keeps the earlier of its two due times. */
static int add_after_locked(struct workqueue *q, const char *key, unsigned delay_ms)
{
	uint64_t due = now_ms() + delay_ms;
	uintptr_t slot;
	int err = 0;

	if (delay_ms == 0)
		return add_locked(q, key);
	slot = (uintptr_t)strmap_get(q->delayed, key);
	if (slot) {
		if (due < q->heap[slot - 1].due) {
			q->heap[slot - 1].due = due;
			heap_up(q, slot - 1);
		}
	} else {
		char *k;

		if (q->nheap == q->heap_cap) {
			size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
			struct delayed_key *n = realloc(q->heap, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			q->heap = n;
			q->heap_cap = cap;
		}
		k = strdup(key);
		if (!k)
			return -ENOMEM;
		strmap_put(q->delayed, k, (void *)(uintptr_t)(q->nheap + 1), &err);
		if (err) {
			free(k);
			return err;
		}
		q->heap[q->nheap] = (struct delayed_key){ due, k };
		heap_up(q, q->nheap++);
	}
	pthread_cond_broadcast(&q->cond); /* a waiter may need a shorter timeout */
	return 0;
}

int workqueue_add_after(struct workqueue *q, const char *key, unsigned delay_ms)
{
	int err;

	pthread_mutex_lock(&q->lock);
	err = q->shutting_down ? -ESHUTDOWN : add_after_locked(q, key, delay_ms);
	pthread_mutex_unlock(&q->lock);
	return err;
}

int workqueue_add_rate_limited(struct workqueue *q, const char *key, unsigned *delay_ms)
{
	unsigned delay;
	uintptr_t n;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	if (q->shutting_down) {
		pthread_mutex_unlock(&q->lock);
		return -ESHUTDOWN;
	}
	n = (uintptr_t)strmap_get(q->failures, key);
	strmap_put(q->failures, key, (void *)(n + 1), &err);
	delay = backoff_delay_ms(q->retry_base_ms, q->retry_max_ms, (unsigned)n, 0.1, backoff_random());
	err = add_after_locked(q, key, delay);
	pthread_mutex_unlock(&q->lock);
	if (delay_ms)
		*delay_ms = delay;
	return err;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	strmap_remove(q->failures, key);
	pthread_mutex_unlock(&q->lock);
}

unsigned workqueue_failures(struct workqueue *q, const char *key)
{
	uintptr_t n;

	pthread_mutex_lock(&q->lock);
	n = (uintptr_t)strmap_get(q->failures, key);
	pthread_mutex_unlock(&q->lock);
	return (unsigned)n;
}

/* Moves due delayed keys into the FIFO; returns the next due time (0 if none). */
static uint64_t promote_delayed(struct workqueue *q)
{
	uint64_t now;

	if (q->nheap == 0)
		return 0;
	now = now_ms();
	while (q->nheap > 0 && q->heap[0].due <= now) {
		char *key = heap_pop(q);

		add_locked(q, key);
		free(key);
	}
	return q->nheap ? q->heap[0].due : 0;
}

char *workqueue_get(struct workqueue *q)
{
	char *key = NULL;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t next = promote_delayed(q);

		if (q->shutting_down)
			break;
		if (q->len > 0) {
			key = fifo_pop(q);
			strmap_remove(q->dirty, key);
			strmap_put(q->processing, key, NULL, &err);
			break;
		}
		q->waiting++;
		if (next) {
			struct timespec ts = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000 };

			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		} else {
			pthread_cond_wait(&q->cond, &q->lock);
		}
		q->waiting--;
	}
	pthread_mutex_unlock(&q->lock);
	return key;
}

void workqueue_done(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->lock);
	strmap_remove(q->processing, key);
	if (strmap_contains(q->dirty, key) && !q->shutting_down) {
		if (fifo_push(q, key) == 0)
			pthread_cond_signal(&q->cond);
		else
			strmap_remove(q->dirty, key);
	}
	pthread_mutex_unlock(&q->lock);
}

size_t workqueue_len(struct workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void workqueue_counts(struct workqueue *q, struct workqueue_counts *out)
{
	pthread_mutex_lock(&q->lock);
	out->ready = q->len;
	out->delayed = q->nheap;
	out->waiting = q->waiting;
	pthread_mutex_unlock(&q->lock);
}

void workqueue_shutdown(struct workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}
