/* Exponential backoff with jitter, shared by watch reconnects and workqueue retries. */
#ifndef PCMC_CONTROLLER_BACKOFF_H
#define PCMC_CONTROLLER_BACKOFF_H

/* min(max_ms, base_ms * 2^attempt), then stretched by up to `jitter` (0.5 = +50%) using
 * rnd01 in [0,1), never above max_ms * (1 + jitter). */
unsigned backoff_delay_ms(unsigned base_ms, unsigned max_ms, unsigned attempt, double jitter, double rnd01);
/* A thread-safe random number in [0,1) for rnd01. */
double backoff_random(void);

#endif
