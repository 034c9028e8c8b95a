/* Status computation, kept free of I/O so unit tests cover the condition rules; the reconciler
 * sends the result with a merge patch to the /status subresource. */
#include "controller/status.h"

#include <stdio.h>
#include <string.h>

static const char *str_at(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static bool set_string(cJSON *obj, const char *key, const char *value)
{
	const char *cur = str_at(obj, key);

	if (cur && strcmp(cur, value) == 0)
		return false;
	if (cJSON_GetObjectItem(obj, key))
		cJSON_ReplaceItemInObject(obj, key, cJSON_CreateString(value));
	else
		cJSON_AddStringToObject(obj, key, value);
	return true;
}

static bool set_number(cJSON *obj, const char *key, long long value)
{
	cJSON *cur = cJSON_GetObjectItem(obj, key);

	if (cJSON_IsNumber(cur) && (long long)cur->valuedouble == value)
		return false;
	if (cur)
		cJSON_ReplaceItemInObject(obj, key, cJSON_CreateNumber((double)value));
	else
		cJSON_AddNumberToObject(obj, key, (double)value);
	return true;
}

bool condition_set(cJSON *conditions, const char *type, const char *status, const char *reason,
		   const char *message, long long observed_generation, const char *now)
{
	cJSON *c, *found = NULL;
	bool changed = false;

	cJSON_ArrayForEach(c, conditions) {
		const char *t = str_at(c, "type");

		if (t && strcmp(t, type) == 0) {
			found = c;
			break;
		}
	}
	if (!found) {
		found = cJSON_CreateObject();
		cJSON_AddItemToArray(conditions, found);
		cJSON_AddStringToObject(found, "type", type);
		changed = true;
	}
	if (set_string(found, "status", status)) {
		set_string(found, "lastTransitionTime", now);
		changed = true;
	} else if (!str_at(found, "lastTransitionTime")) {
		changed |= set_string(found, "lastTransitionTime", now);
	}
	changed |= set_string(found, "reason", reason);
	changed |= set_string(found, "message", message);
	changed |= set_number(found, "observedGeneration", observed_generation);
	return changed;
}

cJSON *status_desired(const cJSON *current, const struct status_outcome *o, const char *now, bool *changed)
{
	cJSON *st = current && cJSON_IsObject(current) ? cJSON_Duplicate(current, 1) : cJSON_CreateObject();
	cJSON *conds;

	*changed = false;
	if (!st)
		return NULL;
	conds = cJSON_GetObjectItem(st, "conditions");
	if (!cJSON_IsArray(conds)) {
		cJSON_DeleteItemFromObject(st, "conditions");
		conds = cJSON_AddArrayToObject(st, "conditions");
	}
	*changed |= set_number(st, "observedGeneration", o->generation);
	*changed |= set_number(st, "matchedPods", o->matched_pods);
	*changed |= condition_set(conds, "Ready", o->ready ? "True" : "False", o->reason, o->message,
				  o->generation, now);
	return st;
}

void status_format_time(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
