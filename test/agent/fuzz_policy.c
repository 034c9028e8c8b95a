/* libFuzzer target: policy_push_decode is a pure function of bytes; under ASan it must neither
 * crash nor leak, every refusal names where, and an accepted push must survive a round trip
 * through the encoder (the state file) unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_decode_opts o = { .arch = "x86_64" };
	struct policy_push *p, *again;
	struct json_error e;
	char *text;
	size_t len;

	if (policy_push_decode((const char *)data, size, &o, &p, &e)) {
		if (e.path[0] != '$' || !e.message[0])
			abort(); /* every refusal names where and why */
		return 0;
	}
	if (policy_push_encode(p, &text, &len))
		abort(); /* what we accepted, we can store */
	if (policy_push_decode(text, len, &o, &again, &e) || !policy_push_equal(p, again))
		abort(); /* and read back as it was */
	for (size_t i = 0; i < p->n_pods; i++)
		if (p->pods[i].state != again->pods[i].state)
			abort();
	free(text);
	policy_push_free(again);
	policy_push_free(p);
	return 0;
}
