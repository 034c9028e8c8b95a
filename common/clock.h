/* Monotonic time in milliseconds, the one clock for timeouts, backoffs and lease observation
 * (never the wall clock, which can jump). */
#ifndef PCMC_COMMON_CLOCK_H
#define PCMC_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
