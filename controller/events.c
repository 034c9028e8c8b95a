/* Event recorder: one POST per event (no aggregation; the reconciler emits only on status
 * transitions, so repeats are rare). */
#include "controller/events.h"

#include <stdio.h>
#include <string.h>

#include "controller/objects.h"
#include "controller/status.h"

int event_record(struct kube_client *client, const struct event_target *target, const char *type,
		 const char *reason, const char *message, const char *reporting_instance)
{
	cJSON *ev = cJSON_CreateObject(), *meta, *obj, *src;
	char path[512], prefix[300], now[32];
	struct kube_error kerr;
	int err;

	if (!ev)
		return -ENOMEM;
	status_format_time(now, time(NULL));
	snprintf(prefix, sizeof(prefix), "%.200s.", target->name);
	meta = cJSON_AddObjectToObject(ev, "metadata");
	cJSON_AddStringToObject(meta, "generateName", prefix);
	cJSON_AddStringToObject(meta, "namespace", target->namespace);
	obj = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(obj, "apiVersion", PCMC_GROUP "/" PCMC_VERSION);
	cJSON_AddStringToObject(obj, "kind", PCMC_KIND);
	cJSON_AddStringToObject(obj, "namespace", target->namespace);
	cJSON_AddStringToObject(obj, "name", target->name);
	if (target->uid)
		cJSON_AddStringToObject(obj, "uid", target->uid);
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", message);
	src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", "pcmc-controller");
	cJSON_AddStringToObject(ev, "reportingComponent", "pcmc-controller");
	cJSON_AddStringToObject(ev, "reportingInstance", reporting_instance ? reporting_instance : "");
	cJSON_AddStringToObject(ev, "firstTimestamp", now);
	cJSON_AddStringToObject(ev, "lastTimestamp", now);
	cJSON_AddNumberToObject(ev, "count", 1);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", target->namespace);
	err = kube_request(client, "POST", path, ev, NULL, NULL, &kerr);
	cJSON_Delete(ev);
	return err;
}
