/* Workqueue and backoff: a key is queued once however often it is added, never handed to two
 * workers at once, re-added keys come back after done, delayed keys come out in due order,
 * failures back off exponentially. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/backoff.h"
#include "controller/workqueue.h"
#include "test/common/tap_main.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(backoff_doubles_caps_and_jitters)
{
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 0, 0, 0), 100);
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 1, 0, 0), 200);
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 3, 0, 0), 800);
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 10, 0, 0), 5000);
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 1000, 0, 0), 5000);
	ck_assert_uint_eq(backoff_delay_ms(100, 5000, 0, 0.5, 0.5), 125);
	ck_assert_uint_le(backoff_delay_ms(100, 5000, 20, 0.5, 0.99), 7500);
	for (int i = 0; i < 100; i++) {
		double r = backoff_random();

		ck_assert(r >= 0 && r < 1);
	}
}
END_TEST

START_TEST(a_key_added_many_times_is_queued_once)
{
	struct workqueue *q = workqueue_new(10, 1000);
	char *k;

	for (int i = 0; i < 100; i++)
		workqueue_add(q, "ns/a");
	workqueue_add(q, "ns/b");
	ck_assert_uint_eq(workqueue_len(q), 2);
	k = workqueue_get(q);
	ck_assert_str_eq(k, "ns/a");
	workqueue_done(q, k);
	free(k);
	k = workqueue_get(q);
	ck_assert_str_eq(k, "ns/b");
	workqueue_done(q, k);
	free(k);
	ck_assert_uint_eq(workqueue_len(q), 0);
	workqueue_free(q);
}
END_TEST

START_TEST(a_key_being_processed_waits_until_done)
{
	struct workqueue *q = workqueue_new(10, 1000);
	char *k = NULL, *again;

	workqueue_add(q, "ns/a");
	k = workqueue_get(q);
	workqueue_add(q, "ns/a");              /* changed while processing */
	ck_assert_uint_eq(workqueue_len(q), 0); /* not handed to a second worker */
	workqueue_done(q, k);
	ck_assert_uint_eq(workqueue_len(q), 1); /* comes back after done */
	again = workqueue_get(q);
	ck_assert_str_eq(again, "ns/a");
	workqueue_done(q, again);
	free(again);
	free(k);
	workqueue_free(q);
}
END_TEST

#define RACE_KEYS 8

struct race {
	struct workqueue *q;
	atomic_int in_flight[RACE_KEYS];  /* per key: workers holding it now */
	atomic_int max_in_flight;
	atomic_int processed[RACE_KEYS];
	atomic_int added[RACE_KEYS];      /* adds so far (bumped right before each add) */
	atomic_int last_seen[RACE_KEYS];  /* `added` as read when a processing of the key began */
};

static size_t delayed(struct workqueue *q)
{
	struct workqueue_counts c;

	workqueue_counts(q, &c);
	return c.delayed;
}

static unsigned waiting(struct workqueue *q)
{
	struct workqueue_counts c;

	workqueue_counts(q, &c);
	return c.waiting;
}

static int key_index(const char *k)
{
	return k[strlen(k) - 1] - '0';
}

static void *worker(void *arg)
{
	struct race *r = arg;
	char *k;

	while ((k = workqueue_get(r->q))) {
		int i = key_index(k), n = atomic_fetch_add(&r->in_flight[i], 1) + 1;

		if (n > atomic_load(&r->max_in_flight))
			atomic_store(&r->max_in_flight, n);
		atomic_store(&r->last_seen[i], atomic_load(&r->added[i]));
		usleep(200);
		atomic_fetch_sub(&r->in_flight[i], 1);
		atomic_fetch_add(&r->processed[i], 1);
		workqueue_done(r->q, k);
		free(k);
	}
	return NULL;
}

/* Eight workers, eight keys added 250 times each: no key is ever held by two workers, adds
 * while a key is processed are merged (fewer processings than adds), and nothing is lost (every
 * key's last processing began after its last add). */
START_TEST(eight_workers_never_share_a_key)
{
	struct race r = { .q = workqueue_new(10, 1000) };
	pthread_t t[8];
	char key[16];

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, &r);
	for (int round = 0; round < 250; round++) {
		for (int i = 0; i < RACE_KEYS; i++) {
			snprintf(key, sizeof(key), "ns/k%d", i);
			atomic_fetch_add(&r.added[i], 1);
			workqueue_add(r.q, key);
		}
		if (round % 25 == 0)
			usleep(300);
	}
	/* Barrier: every worker idle and nothing queued means every add was processed or merged. */
	for (int i = 0; i < 10000 && !(waiting(r.q) == 8 && workqueue_len(r.q) == 0); i++)
		usleep(1000);
	ck_assert_uint_eq(waiting(r.q), 8);
	workqueue_shutdown(r.q);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&r.max_in_flight), 1);
	for (int i = 0; i < RACE_KEYS; i++) {
		ck_assert_int_eq(atomic_load(&r.last_seen[i]), 250);
		ck_assert_int_ge(atomic_load(&r.processed[i]), 1);
		ck_assert_int_lt(atomic_load(&r.processed[i]), 250);
	}
	workqueue_free(r.q);
}
END_TEST

/* Two thousand delayed keys added in shuffled order come out in due order; a key added again
 * with a shorter delay moves forward, one added with a longer delay keeps its earlier time. Each
 * key's due time is only known to lie in [before add, after add] + delay, so the order check
 * fails only when a key came out although another was certainly due earlier. */
START_TEST(delayed_keys_come_out_in_due_order)
{
	static double due_lo[2000], due_hi[2000];
	struct workqueue *q = workqueue_new(10, 1000);
	char key[32], *k;
	int prev = -1;

	for (int i = 0; i < 2000; i++) {
		int d = (i * 7919) % 2000; /* a permutation of 0..1999 */
		unsigned delay = 30 + (unsigned)d / 10;

		snprintf(key, sizeof(key), "n/%04d", d);
		due_lo[d] = now_s() * 1000 + delay - 1; /* the queue's clock has whole milliseconds */
		workqueue_add_after(q, key, delay);
		due_hi[d] = now_s() * 1000 + delay + 1;
	}
	ck_assert_uint_eq(delayed(q), 2000);
	workqueue_add_after(q, "n/1999", 1);    /* forward: now the first */
	workqueue_add_after(q, "n/0000", 5000); /* keeps its 30 ms */
	ck_assert_uint_eq(delayed(q), 2000);
	k = workqueue_get(q);
	ck_assert_str_eq(k, "n/1999");
	workqueue_done(q, k);
	free(k);
	for (int i = 0; i < 1999; i++) {
		int n;

		k = workqueue_get(q);
		n = atoi(k + 2);
		ck_assert_msg(prev < 0 || due_hi[n] >= due_lo[prev], "%s came after n/%04d, due earlier", k, prev);
		prev = n;
		workqueue_done(q, k);
		free(k);
	}
	ck_assert_uint_eq(delayed(q), 0);
	ck_assert_uint_eq(workqueue_len(q), 0);
	workqueue_free(q);
}
END_TEST

START_TEST(failures_back_off_per_key_and_forget_resets)
{
	struct workqueue *q = workqueue_new(50, 10000);
	double t0, waited;
	char *k;

	ck_assert_uint_eq(workqueue_failures(q, "ns/a"), 0);
	for (int attempt = 0; attempt < 3; attempt++) {
		t0 = now_s();
		workqueue_add_rate_limited(q, "ns/a", NULL);
		k = workqueue_get(q);
		waited = now_s() - t0;
		/* 50ms, 100ms, 200ms (+ up to 10% jitter) */
		ck_assert_msg(waited >= 0.05 * (1 << attempt) * 0.95, "attempt %d came after %.3fs", attempt, waited);
		ck_assert_msg(waited < 0.05 * (1 << attempt) * 1.1 + 0.1, "attempt %d came after %.3fs", attempt, waited);
		workqueue_done(q, k);
		free(k);
	}
	ck_assert_uint_eq(workqueue_failures(q, "ns/a"), 3);
	ck_assert_uint_eq(workqueue_failures(q, "ns/b"), 0);
	workqueue_forget(q, "ns/a");
	ck_assert_uint_eq(workqueue_failures(q, "ns/a"), 0);
	workqueue_free(q);
}
END_TEST

START_TEST(shutdown_wakes_waiting_workers)
{
	struct workqueue *q = workqueue_new(10, 1000);
	struct race r = { .q = q };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, &r);
	/* Barrier: both workers are blocked in workqueue_get before the shutdown. */
	for (int i = 0; i < 5000 && waiting(q) < 2; i++)
		usleep(1000);
	ck_assert_uint_eq(waiting(q), 2);
	workqueue_shutdown(q);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(waiting(q), 0);
	ck_assert_int_eq(atomic_load(&r.processed[0]), 0);
	ck_assert_int_eq(workqueue_add(q, "x/y"), -ESHUTDOWN);
	workqueue_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workqueue");
	TCase *tc = tcase_create("workqueue");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, backoff_doubles_caps_and_jitters);
	tcase_add_test(tc, a_key_added_many_times_is_queued_once);
	tcase_add_test(tc, a_key_being_processed_waits_until_done);
	tcase_add_test(tc, eight_workers_never_share_a_key);
	tcase_add_test(tc, delayed_keys_come_out_in_due_order);
	tcase_add_test(tc, failures_back_off_per_key_and_forget_resets);
	tcase_add_test(tc, shutdown_wakes_waiting_workers);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
