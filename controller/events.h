/* core/v1 Events on a PodConfigMapConfig, so `kubectl describe` shows why it is not Ready. */
#ifndef PCMC_CONTROLLER_EVENTS_H
#define PCMC_CONTROLLER_EVENTS_H

#include "common/kube_client.h"

struct event_target {
	const char *namespace;
	const char *name;
	const char *uid;
};

/* Posts a Warning/Normal event about the CR. Returns 0 or -errno. */
int event_record(struct kube_client *client, const struct event_target *target, const char *type,
		 const char *reason, const char *message, const char *reporting_instance);

#endif
