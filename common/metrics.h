/* Prometheus metrics registry: counter, gauge and histogram families with fixed label names,
 * rendered as text exposition format 0.0.4 for GET /metrics. Safe to update from any thread. */
#ifndef PCMC_COMMON_METRICS_H
#define PCMC_COMMON_METRICS_H

#include <stddef.h>

struct http_request;
struct http_response;

struct metrics_registry;
/* A metric name with its help text, type and label names, e.g. pcmc_policy_drops_total{pod,direction}. */
struct metrics_family;
/* One series (histogram: one set of series) of a family, for one tuple of label values. */
struct metrics_child;
/* A family's complete next set of series, built off to the side and swapped in at once. */
struct metrics_snapshot;

/* Label values are passed as an array with one entry per label name of the family:
 * metrics_child_get(f, METRICS_LABELS("default/web", "ingress"), &c). */
#define METRICS_LABELS(...) ((const char *const[]){ __VA_ARGS__ })

int metrics_registry_new(struct metrics_registry **out);
/* Frees every family and child; child and family pointers die with it. NULL is fine. */
void metrics_registry_free(struct metrics_registry *r);

/* Families live as long as the registry. Names follow Prometheus rules (counters should end in
 * _total); label names may not start with "__" and "le" is reserved. 0, -EINVAL, -EEXIST or -ENOMEM. */
int metrics_counter_new(struct metrics_registry *r, const char *name, const char *help,
			const char *const *label_names, size_t n_labels, struct metrics_family **out);
int metrics_gauge_new(struct metrics_registry *r, const char *name, const char *help,
		      const char *const *label_names, size_t n_labels, struct metrics_family **out);
/* bounds: the buckets' upper bounds, strictly increasing and finite; +Inf is implied. */
int metrics_histogram_new(struct metrics_registry *r, const char *name, const char *help,
			  const char *const *label_names, size_t n_labels,
			  const double *bounds, size_t n_bounds, struct metrics_family **out);

/* The child for these label values, created (at zero) on first use. The pointer stays valid
 * until that child is removed (metrics_child_remove, metrics_family_replace) or the registry is
 * freed; whoever removes a child must be the one that stops using it. 0, -EINVAL or -ENOMEM. */
int metrics_child_get(struct metrics_family *f, const char *const *label_values, struct metrics_child **out);
/* Stops exporting the series (e.g. of a pod that went away). 0 or -ENOENT. */
int metrics_child_remove(struct metrics_family *f, const char *const *label_values);
/* Number of children of the family. */
size_t metrics_family_size(struct metrics_family *f);

/* A function the registry calls at the start of every render to bring values read elsewhere up to
 * date (e.g. from /proc); it sets values of families made beforehand and makes none. free_ctx (may be NULL) runs on ctx when
 * the registry is freed. 0 or -ENOMEM. */
typedef void metrics_collect_fn(void *ctx);
int metrics_registry_add_collector(struct metrics_registry *r, metrics_collect_fn *collect, void *ctx,
				   void (*free_ctx)(void *ctx));

/* Updates; each checks the child's type and ignores a mismatch. */
void metrics_counter_add(struct metrics_child *c, double v);  /* v < 0 is ignored */
/* For counters counted elsewhere (BPF maps): the exported value is v as is. */
void metrics_counter_set(struct metrics_child *c, double v);
void metrics_gauge_set(struct metrics_child *c, double v);
void metrics_gauge_add(struct metrics_child *c, double v);
void metrics_histogram_observe(struct metrics_child *c, double v);
/* The current value of a counter or gauge child (tests, and callers that read back). */
double metrics_child_value(struct metrics_child *c);

/* Replacing a counter or gauge family's children from a snapshot: children absent from the
 * snapshot are removed, the others are created or set. Children that survive keep their
 * pointers. Readers of /metrics see either the old set or the new one, never a mix. */
int metrics_snapshot_new(struct metrics_family *f, struct metrics_snapshot **out);
/* Adds (or, for a tuple already in the snapshot, overwrites) one series. 0, -EINVAL or -ENOMEM. */
int metrics_snapshot_set(struct metrics_snapshot *s, const char *const *label_values, double value);
/* Applies and frees the snapshot (also on error). 0 or -EINVAL (wrong family). */
int metrics_family_replace(struct metrics_family *f, struct metrics_snapshot *s);
void metrics_snapshot_free(struct metrics_snapshot *s);

/* The whole registry in text format 0.0.4: families sorted by name, children by label values.
 * *out is malloc'ed (caller frees) and NUL-terminated; *len excludes the NUL. 0 or -ENOMEM. */
int metrics_render(struct metrics_registry *r, char **out, size_t *len);

/* An http_handler_fn serving metrics_render of the registry passed as ctx. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
void metrics_http_handler(void *registry, const struct http_request *req, struct http_response *resp);

#endif
