/* Durations in integer nanoseconds: a strict parser for the CRD's grammar (no strtod: "1e3s",
 * "inf" and "0x10s" are errors) and Go's canonical printing. */
#include "common/duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct { const char *name; int64_t ns; } units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000LL }, { "m", 60000000000LL },
	{ "h", 3600000000000LL },
};

/* Longest unit name at s ("ms" before "m"): its length, or 0. */
static size_t match_unit(const char *s, int64_t *ns)
{
	size_t best = 0;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t l = strlen(units[i].name);

		if (l > best && !strncmp(s, units[i].name, l)) {
			best = l;
			*ns = units[i].ns;
		}
	}
	return best;
}

int duration_parse(const char *s, int64_t *ns)
{
	unsigned __int128 total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		unsigned __int128 whole = 0, frac = 0, scale = 1;
		int64_t unit;
		size_t ul;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			whole = whole * 10 + (unsigned)(*s - '0');
			if (whole > INT64_MAX)
				return -EINVAL;
		}
		if (*s == '.') {
			s++;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			for (; *s >= '0' && *s <= '9'; s++)
				if (scale <= 1000000000000000000ULL) { /* digits past 1e-18 of a unit change nothing */
					frac = frac * 10 + (unsigned)(*s - '0');
					scale *= 10;
				}
		}
		ul = match_unit(s, &unit);
		if (!ul)
			return -EINVAL;
		s += ul;
		total += whole * (uint64_t)unit + frac * (uint64_t)unit / scale;
		if (total > INT64_MAX)
			return -EINVAL;
	}
	*ns = (int64_t)total;
	return 0;
}

/* "<whole>[.<frac without trailing zeros>]" of v / unit. */
static int format_fixed(char *buf, size_t len, int64_t v, int64_t unit, const char *suffix)
{
	int64_t whole = v / unit, rest = v % unit, digits = 0;
	char frac[24] = "";
	int n;

	for (int64_t u = unit; u > 1; u /= 10)
		digits++;
	if (rest) {
		snprintf(frac, sizeof(frac), ".%0*lld", (int)digits, (long long)rest);
		for (n = (int)strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	return snprintf(buf, len, "%lld%s%s", (long long)whole, frac, suffix);
}

void duration_format(int64_t ns, char *buf, size_t len)
{
	int64_t h, m;

	if (!len)
		return;
	if (ns <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (ns < 1000)
		format_fixed(buf, len, ns, 1, "ns");
	else if (ns < 1000000)
		format_fixed(buf, len, ns, 1000, "us");
	else if (ns < 1000000000LL)
		format_fixed(buf, len, ns, 1000000, "ms");
	else {
		h = ns / 3600000000000LL;
		m = ns / 60000000000LL % 60;
		ns %= 60000000000LL;
		if (h) {
			int n = snprintf(buf, len, "%lldh%lldm", (long long)h, (long long)m);

			if (n > 0 && (size_t)n < len)
				format_fixed(buf + n, len - (size_t)n, ns, 1000000000LL, "s");
		} else if (m) {
			int n = snprintf(buf, len, "%lldm", (long long)m);

			if (n > 0 && (size_t)n < len)
				format_fixed(buf + n, len - (size_t)n, ns, 1000000000LL, "s");
		} else {
			format_fixed(buf, len, ns, 1000000000LL, "s");
		}
	}
}
