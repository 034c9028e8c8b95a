/* A reflector keeps one object cache in step with the API server: paginated list, then watch
 * from the list's resourceVersion with bookmarks, resume from the last resourceVersion after a
 * dropped connection, relist after 410 Gone, exponential backoff with jitter between failures. */
#ifndef PCMC_CONTROLLER_REFLECTOR_H
#define PCMC_CONTROLLER_REFLECTOR_H

#include <stdbool.h>

#include "common/kube_client.h"
#include "controller/cache.h"

enum object_event { OBJECT_ADDED, OBJECT_UPDATED, OBJECT_DELETED };

/* Called from the reflector thread after the cache changed. `old` is NULL for ADDED, `new` NULL
 * for DELETED; both are valid only during the call. */
typedef void (*object_event_fn)(void *ud, enum object_event ev, const void *old, const void *new);

struct reflector_config {
	const char *resource_path;   /* "/api/v1/pods" */
	const char *label_selector;  /* NULL or a selector string ("a/b" = has label a/b) */
	struct object_cache *cache;
	object_event_fn on_event;
	void *ud;
	int watch_timeout_s;         /* server-side timeoutSeconds base (0: 300) */
	unsigned page_size;          /* list limit (0: 500) */
};

struct reflector;

int reflector_new(struct kube_client *client, const struct reflector_config *cfg, struct reflector **out);
/* Starts the list/watch thread. Returns 0 or -errno. */
int reflector_start(struct reflector *r);
/* Asks the thread to stop without waiting (stop several reflectors in parallel). */
void reflector_signal_stop(struct reflector *r);
/* Asks the thread to stop, aborts the open watch and joins. */
void reflector_stop(struct reflector *r);
void reflector_free(struct reflector *r);
/* True once the first complete list is in the cache. */
bool reflector_synced(struct reflector *r);
/* Blocks until the first complete list is in the cache (0) or the reflector is asked to stop
 * (-ECANCELED), woken by either event. */
int reflector_wait_synced(struct reflector *r);
unsigned long reflector_relists(struct reflector *r);

#endif
