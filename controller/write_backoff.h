/* Per-object backoff for ConfigMap writes the API server keeps refusing: the next attempt of the
 * same content waits base * 2^failures (capped), whatever other events trigger reconciles meanwhile.
 * Other content for the object (the CR or pod changed) may go at once. Thread-safe. */
#ifndef PCMC_CONTROLLER_WRITE_BACKOFF_H
#define PCMC_CONTROLLER_WRITE_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

struct write_backoff;

/* NULL on allocation failure. */
struct write_backoff *write_backoff_new(unsigned base_ms, unsigned max_ms);
void write_backoff_free(struct write_backoff *b);
/* 0 when writing `fingerprint` to `object` ("namespace/name") may go at `now_ms`; -EAGAIN while it
 * waits, with the last failure's kind and message copied to *kind and `last_error` (size `len`). */
int write_backoff_check(struct write_backoff *b, const char *object, uint64_t fingerprint, uint64_t now_ms,
			int *kind, char *last_error, size_t len);
/* A write of `fingerprint` failed at `now_ms`: `kind` (the caller's classification) and `error` are
 * kept for the checks that wait. Returns 0 or -ENOMEM. */
int write_backoff_failed(struct write_backoff *b, const char *object, uint64_t fingerprint, uint64_t now_ms,
			 int kind, const char *error);
/* The object was written or deleted: its next failure starts from base again. */
void write_backoff_succeeded(struct write_backoff *b, const char *object);
/* Objects with a failure on record (tests, metrics). */
size_t write_backoff_count(struct write_backoff *b);

#endif
