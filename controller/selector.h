/* metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist),
 * parsed once from the CR and matched against pod labels. */
#ifndef PCMC_CONTROLLER_SELECTOR_H
#define PCMC_CONTROLLER_SELECTOR_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "controller/kv.h"

enum selector_op { SELECTOR_IN, SELECTOR_NOT_IN, SELECTOR_EXISTS, SELECTOR_DOES_NOT_EXIST };

struct selector_requirement {
	char *key;
	enum selector_op op;
	char **values;
	size_t nvalues;
};

struct label_selector {
	struct selector_requirement *reqs;
	size_t nreqs;
};

/* Parses a podSelector. A NULL or JSON-null selector, and an empty one, match every pod.
 * Returns 0, or -EINVAL with `why` (may be NULL, size `why_len`) explaining what is wrong. */
int label_selector_parse(const cJSON *json, struct label_selector **out, char *why, size_t why_len);
bool label_selector_matches(const struct label_selector *sel, const struct kv_list *labels);
void label_selector_free(struct label_selector *sel);

#endif
