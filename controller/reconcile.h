/* reconcile(key): make the ConfigMaps of one PodConfigMapConfig ("namespace/name") match what
 * its pods and spec ask for, then write its status. Idempotent; reads desired state afresh from
 * the caches every time; every write is gated on holding the leader Lease. */
#ifndef PCMC_CONTROLLER_RECONCILE_H
#define PCMC_CONTROLLER_RECONCILE_H

#include <errno.h>

#include "common/kube_client.h"
#include "controller/cache.h"
#include "controller/controller_metrics.h"
#include "controller/leader_election.h"
#include "controller/node_push.h"
#include "controller/pod_policy_cache.h"
#include "controller/write_backoff.h"

/* Returned when a write was skipped because this process is not (or no longer) the leader. */
#define RECONCILE_ENOTLEADER (-ENOLCK)
/* A ConfigMap pcmc would write exists and is someone else's (reported on the CR, retried later). */
#define RECONCILE_ENAMETAKEN (-EADDRINUSE)

struct reconciler {
	struct kube_client *client;
	struct object_cache *pods, *pcmcs, *configmaps, *nodes;
	struct leader_election *election;
	struct controller_metrics *metrics;
	const char *identity;
	struct node_push *push;      /* NULL: Ready means ConfigMaps only */
	struct pod_policy_cache *policies; /* each pod's effective policy, shared with the push */
	struct write_backoff *write_backoff; /* reconciler_init; NULL: every write is tried at once */
};

/* Creates what reconcile keeps between calls (the per-ConfigMap write backoff). Returns 0 or -ENOMEM. */
int reconciler_init(struct reconciler *r);
void reconciler_clear(struct reconciler *r);

/* Returns 0 when everything is in sync, RECONCILE_ENOTLEADER, or the first write error (the
 * caller requeues the key with backoff). */
int reconcile(struct reconciler *r, const char *key);

#endif
