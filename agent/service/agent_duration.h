/* Go-style durations ("1s", "500ms", "1m30s", "1.5h") as the policy's metricsExport.updateInterval
 * uses them: parsed into milliseconds and printed back in Go's canonical form. */
#ifndef PCMC_AGENT_DURATION_H
#define PCMC_AGENT_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into nanoseconds: one or more <number>[.<fraction>]<unit> with unit ns, us, µs, ms, s,
 * m or h; no sign, no spaces. 0 or -EINVAL (also on overflow past ~292 years). */
int duration_parse_ns(const char *s, int64_t *ns);
/* Go's time.Duration.String() of a whole number of milliseconds: "30s", "1m30s", "1.5s", "1h0m0s". */
void duration_format_ms(int64_t ms, char *buf, size_t len);

#endif
