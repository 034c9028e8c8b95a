/* A client-go style workqueue of keys (a CR's "namespace/name", a node's name): a key waiting is
 * queued once however often it is added, a key being processed is never handed to a second
 * worker (re-added keys wait until done), failed keys come back after a per-key exponential
 * backoff, delayed keys wait in a heap. */
#ifndef PCMC_CONTROLLER_WORKQUEUE_H
#define PCMC_CONTROLLER_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct workqueue;

struct workqueue *workqueue_new(unsigned retry_base_ms, unsigned retry_max_ms);
void workqueue_free(struct workqueue *q);
/* Returns 0 or -ENOMEM; -ESHUTDOWN after workqueue_shutdown. */
int workqueue_add(struct workqueue *q, const char *key);
int workqueue_add_after(struct workqueue *q, const char *key, unsigned delay_ms);
/* Adds after the key's next backoff delay (base * 2^failures), stored in *delay_ms (may be NULL). */
int workqueue_add_rate_limited(struct workqueue *q, const char *key, unsigned *delay_ms);
/* Resets the key's failure count (after a successful reconcile). */
void workqueue_forget(struct workqueue *q, const char *key);
unsigned workqueue_failures(struct workqueue *q, const char *key);
/* Blocks until a key is ready; returns a copy the caller frees after workqueue_done, or NULL once
 * the queue is shut down. */
char *workqueue_get(struct workqueue *q);
void workqueue_done(struct workqueue *q, const char *key);
/* Keys ready to be handed out (the queue depth metric). */
size_t workqueue_len(struct workqueue *q);
struct workqueue_counts {
	size_t ready;      /* = workqueue_len */
	size_t delayed;    /* waiting for their delay (add_after, rate-limited retries) */
	unsigned waiting;  /* workers blocked in workqueue_get right now (tests use it as a barrier) */
};
void workqueue_counts(struct workqueue *q, struct workqueue_counts *out);
/* Wakes every waiting worker; workqueue_get returns NULL from then on. */
void workqueue_shutdown(struct workqueue *q);

#endif
