/* Go-style duration parsing (time.ParseDuration's grammar, without signs) in integer nanoseconds,
 * and Go's canonical printing, for metricsExport.updateInterval. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/service/agent_duration.h"

static const struct { const char *name; int64_t ns; } units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 }, { "ms", 1000000 },
	{ "s", 1000000000LL }, { "m", 60000000000LL }, { "h", 3600000000000LL },
};

/* Longest unit name matching at s: "ms" before "m". */
static int match_unit(const char *s, int64_t *ns)
{
	int best = -1;
	size_t best_len = 0;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t l = strlen(units[i].name);

		if (l > best_len && !strncmp(s, units[i].name, l)) {
			best = (int)i;
			best_len = l;
		}
	}
	if (best < 0)
		return -EINVAL;
	*ns = units[best].ns;
	return (int)best_len;
}

int duration_parse_ns(const char *s, int64_t *ns)
{
	const int64_t max = INT64_MAX;
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		int64_t whole = 0, frac = 0, scale = 1, unit, v;
		bool digits = false;
		int ul;

		for (; *s >= '0' && *s <= '9'; s++, digits = true) {
			if (whole > (max - (*s - '0')) / 10)
				return -EINVAL;
			whole = whole * 10 + (*s - '0');
		}
		if (*s == '.') {
			s++;
			for (; *s >= '0' && *s <= '9'; s++, digits = true) {
				if (scale > max / 10)
					continue; /* digits past 1e-18 cannot change the result */
				frac = frac * 10 + (*s - '0');
				scale *= 10;
			}
		}
		if (!digits)
			return -EINVAL;
		ul = match_unit(s, &unit);
		if (ul < 0)
			return -EINVAL;
		s += ul;
		if (whole > max / unit)
			return -EINVAL;
		v = whole * unit;
		/* frac/scale of a unit, computed without overflow: unit <= 3.6e12, frac < scale <= 1e18. */
		v += (int64_t)((long double)frac * (long double)unit / (long double)scale);
		if (v < 0 || total > max - v)
			return -EINVAL;
		total += v;
	}
	*ns = total;
	return 0;
}

void duration_format_ms(int64_t ms, char *buf, size_t len)
{
	int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
	char sec[32];

	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%lldms", (long long)ms);
		return;
	}
	if (rest) {
		int n = snprintf(sec, sizeof(sec), "%lld.%03lld", (long long)s, (long long)rest);

		while (n > 0 && sec[n - 1] == '0')
			sec[--n] = '\0';
	} else {
		snprintf(sec, sizeof(sec), "%lld", (long long)s);
	}
	if (h)
		snprintf(buf, len, "%lldh%lldm%ss", (long long)h, (long long)m, sec);
	else if (m)
		snprintf(buf, len, "%lldm%ss", (long long)m, sec);
	else
		snprintf(buf, len, "%ss", sec);
}
