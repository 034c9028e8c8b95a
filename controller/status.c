/* Status computation, kept free of I/O so unit tests cover the condition rules; the reconciler
 * sends the result with a merge patch to the /status subresource. */
#include "controller/status.h"

#include "controller/objects.h"

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
	if (o->ignored) {
		char msg[SETTINGS_IGNORED_MESSAGE_MAX];

		settings_ignored_message(o->ignored, msg);
		*changed |= condition_set(conds, "SettingsIgnored", "True", "FeatureNotEnabled", msg, o->generation, now);
	} else {
		*changed |= condition_set(conds, "SettingsIgnored", "False", "NoIgnoredSettings",
					  "every setting belongs to an enabled feature", o->generation, now);
	}
	return st;
}

void settings_ignored_message(unsigned ignored, char out[SETTINGS_IGNORED_MESSAGE_MAX])
{
	static const struct {
		const char *feature;
		unsigned bits[3];
		const char *fields[3];
	} features[] = {
		{ "syscallMonitoring", { IGNORED_SYSCALL_NAMES }, { "syscallNames" } },
		{ "l4Firewall", { IGNORED_ALLOWED_PORTS, IGNORED_BLOCKED_PORTS, IGNORED_DEFAULT_BLOCK },
		  { "allowedPorts", "blockedPorts", "defaultAction block" } },
		{ "metricsExport", { IGNORED_UPDATE_INTERVAL }, { "updateInterval" } },
	};
	size_t used = 0;

	out[0] = '\0';
	for (size_t f = 0; f < sizeof(features) / sizeof(features[0]); f++) {
		size_t n = 0;

		for (size_t i = 0; i < 3; i++) {
			if (!features[f].bits[i] || !(ignored & features[f].bits[i]))
				continue;
			used += (size_t)snprintf(out + used, SETTINGS_IGNORED_MESSAGE_MAX - used, "%s%s.%s",
						 n ? ", " : used ? "; " : "", features[f].feature, features[f].fields[i]);
			n++;
		}
		if (n)
			used += (size_t)snprintf(out + used, SETTINGS_IGNORED_MESSAGE_MAX - used,
						 " %s set but %s.enabled is not true", n > 1 ? "are" : "is",
						 features[f].feature);
	}
	if (used)
		snprintf(out + used, SETTINGS_IGNORED_MESSAGE_MAX - used,
			 ": these settings do nothing until their feature has enabled: true");
}

static const cJSON *condition_of(const cJSON *st, const char *type)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(st, "conditions")) {
		const char *t = str_at(c, "type");

		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

size_t condition_changes(const cJSON *before, const cJSON *now, struct condition_change out[CONDITION_CHANGES_MAX])
{
	const cJSON *c;
	size_t n = 0;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(now, "conditions")) {
		const char *type = str_at(c, "type");
		const cJSON *old = type ? condition_of(before, type) : NULL;

		if (!type || n == CONDITION_CHANGES_MAX)
			continue;
		if (old && same_str(str_at(old, "status"), str_at(c, "status")) &&
		    same_str(str_at(old, "reason"), str_at(c, "reason")))
			continue;
		out[n++] = (struct condition_change){ type, str_at(c, "status"), str_at(c, "reason"),
						      str_at(c, "message"), old != NULL };
	}
	return n;
}

const char *condition_change_event_type(const struct condition_change *c)
{
	bool is_true = same_str(c->status, "True");

	if (!c->status || !c->reason)
		return NULL;
	if (strcmp(c->type, "Ready") == 0) {
		if (is_true)
			return "Normal";
		/* A pod not pushed yet is not news; a failure is. */
		return strcmp(c->reason, "PolicyPending") == 0 ? NULL : "Warning";
	}
	if (strcmp(c->type, "SettingsIgnored") == 0)
		return is_true ? "Warning" : c->existed ? "Normal" : NULL;
	/* Conflict and others: news when they turn true, and when they clear. */
	return is_true || c->existed ? "Normal" : NULL;
}

void status_format_time(char out[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
