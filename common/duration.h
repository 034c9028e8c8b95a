/* The one duration grammar of pcmc (metricsExport.updateInterval): the CRD's pattern
 * ([0-9]+(.[0-9]+)?(ns|us|ms|s|m|h))+, parsed exactly in integer nanoseconds, and printed back. */
#ifndef PCMC_COMMON_DURATION_H
#define PCMC_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s (NUL-terminated): one or more <digits>[.<digits>]<unit>, unit ns, us, ms, s, m or h; no
 * sign, space, exponent, "inf" or "µs". Fractions below a nanosecond are truncated.
 * 0 and *ns, or -EINVAL (also past INT64_MAX ns, ~292 years). */
int duration_parse(const char *s, int64_t *ns);
/* Go's time.Duration.String() for ns >= 1s ("30s", "1m30s", "1h0m0s", "1.5s"); below a second
 * "500ms", "1.5ms", "20us", "7ns" (so the result always parses back to ns). ns < 0 prints "0s".
 * Writes at most len bytes (NUL included); 32 bytes always suffice. */
void duration_format(int64_t ns, char *buf, size_t len);

#endif
