/* The PodConfigMapConfig status the reconciler wants: observedGeneration, matchedPods, conditions
 * Ready and SettingsIgnored whose lastTransitionTime changes only when their status changes, and
 * which condition changes deserve an Event. */
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
	unsigned ignored;     /* enum ignored_setting bits of the CR (objects.h): condition SettingsIgnored */
};

#define SETTINGS_IGNORED_MESSAGE_MAX 512
/* "l4Firewall.blockedPorts is set but l4Firewall.enabled is not true; ...: these settings do nothing
 * until their feature has enabled: true" for the bits set; "" for none. */
void settings_ignored_message(unsigned ignored, char out[SETTINGS_IGNORED_MESSAGE_MAX]);

/* A condition whose status or reason differs between two statuses (absent before counts as a change). */
struct condition_change {
	const char *type, *status, *reason, *message; /* point into the new status */
	bool existed;                                  /* the old status had this condition */
};
#define CONDITION_CHANGES_MAX 8
/* Fills `out` with the conditions of `now` whose status or reason differ from `before` (may be NULL).
 * Returns how many (at most CONDITION_CHANGES_MAX). */
size_t condition_changes(const cJSON *before, const cJSON *now, struct condition_change out[CONDITION_CHANGES_MAX]);
/* The Event a change deserves: "Normal", "Warning", or NULL for none (e.g. a pending push, or a
 * condition first written in its quiet state). */
const char *condition_change_event_type(const struct condition_change *c);

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
