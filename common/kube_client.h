/* Kubernetes REST client on libcurl + cJSON: JSON requests with connection reuse and timeouts,
 * API Status errors mapped to -errno with the object and reason, and streamed watches. */
#ifndef PCMC_COMMON_KUBE_CLIENT_H
#define PCMC_COMMON_KUBE_CLIENT_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/kube_config.h"

/* How API Status reasons map to errno values. */
#define KUBE_ENOTFOUND  (-ENOENT)    /* 404 NotFound */
#define KUBE_EEXIST     (-EEXIST)    /* 409 AlreadyExists */
#define KUBE_ECONFLICT  (-ESTALE)    /* 409 Conflict: resourceVersion is stale */
#define KUBE_EGONE      (-EIDRM)     /* 410 Gone / Expired: resourceVersion compacted away */
#define KUBE_EINVALID   (-EINVAL)    /* 400 BadRequest, 422 Invalid */
#define KUBE_EUNAUTH    (-EACCES)    /* 401 Unauthorized */
#define KUBE_EFORBIDDEN (-EPERM)     /* 403 Forbidden */
#define KUBE_ETOOMANY   (-EBUSY)     /* 429 TooManyRequests */
#define KUBE_ESERVER    (-EIO)       /* 5xx, unexpected replies */

struct kube_error {
	long http_status;       /* 0 when no HTTP reply was received */
	char reason[64];        /* Status.reason ("NotFound", "Conflict") or the curl error */
	char message[512];      /* "<METHOD> <path>: <Status.message>" */
};

struct kube_client;

/* The client keeps `cfg` (owned by the caller, must outlive the client). */
int kube_client_new(struct kube_config *cfg, struct kube_client **out);
void kube_client_free(struct kube_client *c);

/* Sends `body` (may be NULL) as JSON; on 2xx stores the parsed reply in *reply (may be NULL to
 * discard). content_type NULL means application/json (use application/merge-patch+json for PATCH).
 * Returns 0 or a negative errno from the table above; `err` (may be NULL) says why. Thread-safe. */
int kube_request(struct kube_client *c, const char *method, const char *path, const cJSON *body,
		 const char *content_type, cJSON **reply, struct kube_error *err);
/* Same with an overall timeout in milliseconds instead of the default 30 s (leader election). */
int kube_request_timeout(struct kube_client *c, const char *method, const char *path, const cJSON *body,
			 const char *content_type, cJSON **reply, struct kube_error *err, long timeout_ms);

/* Called for each watch event; return non-zero to stop the stream (that value is returned). */
typedef int (*kube_watch_event_fn)(void *ud, const char *type, cJSON *object);

/* Streams `path` (must include watch=1) and calls `on_event` per newline-delimited JSON event
 * until the server ends the stream (returns 0), `*stop` becomes true (returns -ECANCELED), the
 * connection stalls for `stall_seconds` (-ETIMEDOUT) or fails (-errno). */
int kube_watch(struct kube_client *c, const char *path, kube_watch_event_fn on_event, void *ud,
	       const atomic_bool *stop, int stall_seconds, struct kube_error *err);

/* Appends a URL-encoded copy of `s` to `buf` (NUL-terminated, at most `size` bytes). */
void kube_url_escape(char *buf, size_t size, const char *s);

#endif
