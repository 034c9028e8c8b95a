/* Backoff arithmetic kept pure (the random factor is a parameter) so tests can pin it. */
#include "controller/backoff.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

unsigned backoff_delay_ms(unsigned base_ms, unsigned max_ms, unsigned attempt, double jitter, double rnd01)
{
	uint64_t d = base_ms;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (rnd01 < 0)
		rnd01 = 0;
	if (rnd01 >= 1)
		rnd01 = 0.999999;
	return (unsigned)((double)d * (1.0 + jitter * rnd01));
}

double backoff_random(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)random();
	return (double)r / 4294967296.0;
}
