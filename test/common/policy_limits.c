/* test/common/crd-limits.sh's view of the C side: common/policy_limits.h as JSON, and the C
 * grammars' verdict on sample strings ("policy-limits duration S..." / "syscall-name S..."). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"
#include "common/ebpf_config.h"
#include "common/policy_limits.h"

/* A JSON string of s (the patterns hold backslashes). */
static const char *quoted(const char *s)
{
	static char out[2][256];
	static int which;
	char *o = out[which ^= 1];
	size_t n = 0;

	o[n++] = '"';
	for (; *s && n < sizeof(out[0]) - 3; s++) {
		if (*s == '\\' || *s == '"')
			o[n++] = '\\';
		o[n++] = *s;
	}
	o[n++] = '"';
	o[n] = '\0';
	return o;
}

static void print_limits(void)
{
	printf("{\"syscallNamesMaxItems\":%d,\"syscallNameMaxLength\":%d,\"syscallNamePattern\":%s,"
	       "\"portsMaxItems\":%d,\"portMinimum\":%d,\"portMaximum\":%d,\"durationMaxLength\":%d,"
	       "\"durationPattern\":%s,\"intervalMinSeconds\":%lld,\"intervalMaxSeconds\":%lld,"
	       "\"intervalDefault\":\"%llds\"}\n",
	       POLICY_MAX_SYSCALL_NAMES, POLICY_SYSCALL_NAME_MAX, quoted(POLICY_SYSCALL_NAME_PATTERN), POLICY_MAX_PORTS,
	       POLICY_PORT_MIN, POLICY_PORT_MAX, POLICY_DURATION_TEXT_MAX, quoted(POLICY_DURATION_PATTERN),
	       POLICY_INTERVAL_MIN_NS / 1000000000LL, POLICY_INTERVAL_MAX_NS / 1000000000LL,
	       POLICY_INTERVAL_DEFAULT_NS / 1000000000LL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_limits();
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		int64_t ns;
		int ok = !strcmp(argv[1], "duration") ? !duration_parse(argv[i], &ns) : syscall_name_valid(argv[i]);

		printf("%s %s\n", ok ? "ok" : "bad", argv[i]);
	}
	return 0;
}
