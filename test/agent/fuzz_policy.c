/* libFuzzer target: policy_parse is a pure function of bytes; under ASan it must neither crash
 * nor leak, and an accepted body must survive a round trip through desired_state_to_json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service/agent_policy.h"
#include "common/json_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct desired_state *s, *again;
	struct policy_error e;
	cJSON *doc;
	char *text;
	size_t len;

	if (policy_parse((const char *)data, size, &s, &e)) {
		if (!e.path[0] || e.path[0] != '$')
			abort(); /* every refusal names where */
		return 0;
	}
	doc = desired_state_to_json(s);
	text = doc ? json_print(doc, &len) : NULL;
	if (text) {
		if (policy_parse(text, len, &again, &e))
			abort(); /* what we accepted, we can store and read back */
		if (again->n_pods != s->n_pods || again->epoch != s->epoch || again->revision != s->revision)
			abort();
		for (int i = 0; i < s->n_pods; i++)
			if (!policy_same(&s->pods[i].policy, &again->pods[i].policy))
				abort();
		desired_state_free(again);
	}
	free(text);
	cJSON_Delete(doc);
	desired_state_free(s);
	return 0;
}
