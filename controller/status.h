/* The PodConfigMapConfig status the reconciler wants: observedGeneration, matchedPods and a
 * metav1.Condition "Ready" whose lastTransitionTime changes only when its status changes. */
#ifndef PCMC_CONTROLLER_STATUS_H
#define PCMC_CONTROLLER_STATUS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <time.h>

struct status_outcome {
	long long generation;
	int matched_pods;
	bool ready;
	const char *reason;   /* CamelCase, e.g. "ConfigMapsSynced" */
	const char *message;
};

/* Sets (or adds) condition `type` in the conditions array: lastTransitionTime = now only when
 * the status string changes. Returns true when anything in the array changed. */
bool condition_set(cJSON *conditions, const char *type, const char *status, const char *reason,
		   const char *message, long long observed_generation, const char *now);
/* Builds the new status from the current one (may be NULL). *changed tells whether it differs
 * from `current`, i.e. whether it must be written. NULL on allocation failure. */
cJSON *status_desired(const cJSON *current, const struct status_outcome *o, const char *now, bool *changed);
/* RFC 3339 UTC timestamp with seconds precision (metav1.Time). */
void status_format_time(char out[32], time_t t);

#endif
