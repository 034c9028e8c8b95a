/* Prometheus metrics registry: families keep their children sorted by label values, so lookup
 * is a binary search and /metrics is rendered in order without sorting. One mutex per family. */
#include "common/metrics.h"

#include "common/http_server.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const type_names[] = { "counter", "gauge", "histogram" };

/* One allocation per child: the struct, then (histograms) one count per bucket, then the key:
 * every label value followed by '\0'. Since '\0' sorts first, memcmp order on keys is the order
 * of the label-value tuples. */
struct metrics_child {
	struct metrics_family *family;
	double value;       /* counter or gauge value; histogram: sum of observations */
	uint64_t count;     /* histogram: observations; in a snapshot: insertion order */
	uint32_t key_len;
	uint64_t buckets[]; /* per bucket, not cumulative; then the key */
};

struct metrics_family {
	enum metric_type type;
	char *name;
	char *help;
	char **label_names;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	pthread_mutex_t lock;           /* children and every value in them */
	struct metrics_child **children; /* sorted by key */
	size_t n_children, cap_children;
};

struct metrics_collector {
	metrics_collect_fn *collect;
	void *ctx;
	void (*free_ctx)(void *ctx);
};

struct metrics_registry {
	pthread_mutex_t lock;            /* the families array, the collectors */
	struct metrics_family **families; /* sorted by name */
	size_t n_families, cap_families;
	size_t render_size_hint;
	struct metrics_collector *collectors;
	size_t n_collectors;
};

struct metrics_snapshot {
	struct metrics_family *family;
	struct metrics_child **children;
	size_t n, cap;
};

static char *child_key(const struct metrics_child *c)
{
	return (char *)(c->buckets + c->family->n_bounds);
}

static int compare_keys(const char *a, size_t a_len, const char *b, size_t b_len)
{
	int d = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (d)
		return d;
	return a_len < b_len ? -1 : a_len > b_len;
}

static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : 4;

		if (n == 4 || (n == 1 && *s < 0xc2))
			return false;
		s++;
		for (; n; n--, s++)
			if ((*s & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* Builds the key of a label-value tuple into buf (of cap bytes) or a malloc'ed buffer when it
 * does not fit; *key points at whichever was used. 0 or -EINVAL / -ENOMEM. */
static int make_key(const struct metrics_family *f, const char *const *values, char *buf, size_t cap,
		    char **key, size_t *len)
{
	size_t total = 0, at = 0;

	for (size_t i = 0; i < f->n_labels; i++) {
		if (!values || !values[i] || !valid_utf8((const unsigned char *)values[i]))
			return -EINVAL;
		total += strlen(values[i]) + 1;
	}
	if (total > UINT32_MAX)
		return -EINVAL;
	*key = total <= cap ? buf : malloc(total);
	if (!*key)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_labels; i++) {
		size_t n = strlen(values[i]) + 1;

		memcpy(*key + at, values[i], n);
		at += n;
	}
	*len = total;
	return 0;
}

static struct metrics_child *child_new(struct metrics_family *f, const char *key, size_t key_len)
{
	struct metrics_child *c = calloc(1, sizeof(*c) + f->n_bounds * sizeof(uint64_t) + key_len);

	if (!c)
		return NULL;
	c->family = f;
	c->key_len = (uint32_t)key_len;
	memcpy(child_key(c), key, key_len);
	return c;
}

/* Index of the child with this key, or where it would be inserted (*found false). Lock held. */
static size_t find_child(const struct metrics_family *f, const char *key, size_t key_len, bool *found)
{
	size_t lo = 0, hi = f->n_children;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct metrics_child *c = f->children[mid];
		int d = compare_keys(child_key(c), c->key_len, key, key_len);

		if (d == 0) {
			*found = true;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Lock held. */
static int insert_child(struct metrics_family *f, size_t at, const char *key, size_t key_len,
			struct metrics_child **out)
{
	struct metrics_child *c;

	if (f->n_children == f->cap_children) {
		size_t cap = f->cap_children ? f->cap_children * 2 : 8;
		struct metrics_child **grown = realloc(f->children, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		f->children = grown;
		f->cap_children = cap;
	}
	c = child_new(f, key, key_len);
	if (!c)
		return -ENOMEM;
	memmove(f->children + at + 1, f->children + at, (f->n_children - at) * sizeof(*f->children));
	f->children[at] = c;
	f->n_children++;
	*out = c;
	return 0;
}

int metrics_child_get(struct metrics_family *f, const char *const *label_values, struct metrics_child **out)
{
	char stack[256], *key;
	size_t len, at;
	bool found;
	int err = make_key(f, label_values, stack, sizeof(stack), &key, &len);

	if (err)
		return err;
	pthread_mutex_lock(&f->lock);
	at = find_child(f, key, len, &found);
	if (found)
		*out = f->children[at];
	else
		err = insert_child(f, at, key, len, out);
	pthread_mutex_unlock(&f->lock);
	if (key != stack)
		free(key);
	return err;
}

int metrics_child_remove(struct metrics_family *f, const char *const *label_values)
{
	char stack[256], *key;
	size_t len, at;
	bool found;
	int err = make_key(f, label_values, stack, sizeof(stack), &key, &len);

	if (err)
		return err;
	pthread_mutex_lock(&f->lock);
	at = find_child(f, key, len, &found);
	if (found) {
		free(f->children[at]);
		memmove(f->children + at, f->children + at + 1, (f->n_children - at - 1) * sizeof(*f->children));
		f->n_children--;
	}
	pthread_mutex_unlock(&f->lock);
	if (key != stack)
		free(key);
	return found ? 0 : -ENOENT;
}

size_t metrics_family_size(struct metrics_family *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->n_children;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* --- updates --- */

static void update(struct metrics_child *c, enum metric_type type, double v, bool add)
{
	struct metrics_family *f = c->family;

	pthread_mutex_lock(&f->lock);
	if (f->type == type)
		c->value = add ? c->value + v : v;
	pthread_mutex_unlock(&f->lock);
}

void metrics_counter_add(struct metrics_child *c, double v)
{
	if (v >= 0)
		update(c, METRIC_COUNTER, v, true);
}

void metrics_counter_set(struct metrics_child *c, double v)
{
	update(c, METRIC_COUNTER, v, false);
}

void metrics_gauge_set(struct metrics_child *c, double v)
{
	update(c, METRIC_GAUGE, v, false);
}

void metrics_gauge_add(struct metrics_child *c, double v)
{
	update(c, METRIC_GAUGE, v, true);
}

void metrics_histogram_observe(struct metrics_child *c, double v)
{
	struct metrics_family *f = c->family;
	size_t lo = 0, hi = f->n_bounds;

	if (isnan(v))
		return;
	/* The first bucket whose upper bound is >= v (le means "less or equal"). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	pthread_mutex_lock(&f->lock);
	if (f->type == METRIC_HISTOGRAM) {
		if (lo < f->n_bounds)
			c->buckets[lo]++;
		c->count++;
		c->value += v;
	}
	pthread_mutex_unlock(&f->lock);
}

double metrics_child_value(struct metrics_child *c)
{
	double v;

	pthread_mutex_lock(&c->family->lock);
	v = c->value;
	pthread_mutex_unlock(&c->family->lock);
	return v;
}

/* --- families --- */

static bool valid_name(const char *s, bool colon_ok)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (colon_ok && *s == ':')))
			return false;
	return true;
}

static void family_free(struct metrics_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_children; i++)
		free(f->children[i]);
	free(f->children);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int check_family_args(enum metric_type type, const char *name, const char *help,
			     const char *const *label_names, size_t n_labels, const double *bounds, size_t n_bounds)
{
	if (!valid_name(name, true) || !help || (n_labels && !label_names))
		return -EINVAL;
	for (size_t i = 0; i < n_labels; i++) {
		if (!valid_name(label_names[i], false) || strncmp(label_names[i], "__", 2) == 0 ||
		    (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(label_names[i], label_names[j]) == 0)
				return -EINVAL;
	}
	if (type == METRIC_HISTOGRAM && (!bounds || !n_bounds))
		return -EINVAL;
	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	return 0;
}

static int family_new(struct metrics_registry *r, enum metric_type type, const char *name, const char *help,
		      const char *const *label_names, size_t n_labels, const double *bounds, size_t n_bounds,
		      struct metrics_family **out)
{
	struct metrics_family *f;
	size_t at = 0;
	int err = check_family_args(type, name, help, label_names, n_labels, bounds, n_bounds);

	if (err)
		return err;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help);
	f->label_names = calloc(n_labels ? n_labels : 1, sizeof(char *));
	f->bounds = malloc((n_bounds ? n_bounds : 1) * sizeof(double));
	if (!f->name || !f->help || !f->label_names || !f->bounds)
		goto nomem;
	for (; f->n_labels < n_labels; f->n_labels++)
		if (!(f->label_names[f->n_labels] = strdup(label_names[f->n_labels])))
			goto nomem;
	if (n_bounds)
		memcpy(f->bounds, bounds, n_bounds * sizeof(double));
	f->n_bounds = n_bounds;

	/* Like the official clients: a family without labels exports its one series from the start. */
	if (n_labels == 0) {
		struct metrics_child *c;

		if (metrics_child_get(f, NULL, &c))
			goto nomem;
	}

	pthread_mutex_lock(&r->lock);
	for (; at < r->n_families; at++) {
		int d = strcmp(r->families[at]->name, name);

		if (d == 0) {
			pthread_mutex_unlock(&r->lock);
			family_free(f);
			return -EEXIST;
		}
		if (d > 0)
			break;
	}
	if (r->n_families == r->cap_families) {
		size_t cap = r->cap_families ? r->cap_families * 2 : 16;
		struct metrics_family **grown = realloc(r->families, cap * sizeof(*grown));

		if (!grown) {
			pthread_mutex_unlock(&r->lock);
			goto nomem;
		}
		r->families = grown;
		r->cap_families = cap;
	}
	memmove(r->families + at + 1, r->families + at, (r->n_families - at) * sizeof(*r->families));
	r->families[at] = f;
	r->n_families++;
	pthread_mutex_unlock(&r->lock);
	*out = f;
	return 0;

nomem:
	family_free(f);
	return -ENOMEM;
}

int metrics_counter_new(struct metrics_registry *r, const char *name, const char *help,
			const char *const *label_names, size_t n_labels, struct metrics_family **out)
{
	return family_new(r, METRIC_COUNTER, name, help, label_names, n_labels, NULL, 0, out);
}

int metrics_gauge_new(struct metrics_registry *r, const char *name, const char *help,
		      const char *const *label_names, size_t n_labels, struct metrics_family **out)
{
	return family_new(r, METRIC_GAUGE, name, help, label_names, n_labels, NULL, 0, out);
}

int metrics_histogram_new(struct metrics_registry *r, const char *name, const char *help,
			  const char *const *label_names, size_t n_labels,
			  const double *bounds, size_t n_bounds, struct metrics_family **out)
{
	return family_new(r, METRIC_HISTOGRAM, name, help, label_names, n_labels, bounds, n_bounds, out);
}

int metrics_registry_new(struct metrics_registry **out)
{
	struct metrics_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

int metrics_registry_add_collector(struct metrics_registry *r, metrics_collect_fn *collect, void *ctx,
				   void (*free_ctx)(void *ctx))
{
	struct metrics_collector *c;

	pthread_mutex_lock(&r->lock);
	c = realloc(r->collectors, (r->n_collectors + 1) * sizeof(*c));
	if (c) {
		r->collectors = c;
		c[r->n_collectors++] = (struct metrics_collector){ collect, ctx, free_ctx };
	}
	pthread_mutex_unlock(&r->lock);
	return c ? 0 : -ENOMEM;
}

/* Under the registry lock (collectors set values; they create no families), before rendering. */
static void run_collectors(struct metrics_registry *r)
{
	for (size_t i = 0; i < r->n_collectors; i++)
		r->collectors[i].collect(r->collectors[i].ctx);
}

void metrics_registry_free(struct metrics_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_families; i++)
		family_free(r->families[i]);
	free(r->families);
	for (size_t i = 0; i < r->n_collectors; i++)
		if (r->collectors[i].free_ctx)
			r->collectors[i].free_ctx(r->collectors[i].ctx);
	free(r->collectors);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* --- snapshots --- */

int metrics_snapshot_new(struct metrics_family *f, struct metrics_snapshot **out)
{
	struct metrics_snapshot *s;

	if (f->type == METRIC_HISTOGRAM)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->family = f;
	*out = s;
	return 0;
}

int metrics_snapshot_set(struct metrics_snapshot *s, const char *const *label_values, double value)
{
	char stack[256], *key;
	struct metrics_child *c;
	size_t len;
	int err = make_key(s->family, label_values, stack, sizeof(stack), &key, &len);

	if (err)
		return err;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct metrics_child **grown = realloc(s->children, cap * sizeof(*grown));

		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		s->children = grown;
		s->cap = cap;
	}
	c = child_new(s->family, key, len);
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	c->value = value;
	c->count = s->n;
	s->children[s->n++] = c;
out:
	if (key != stack)
		free(key);
	return err;
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->children[i]);
	free(s->children);
	free(s);
}

/* Key order, and among equal keys insertion order, so the last value set wins. */
static int compare_snapshot_children(const void *a, const void *b)
{
	const struct metrics_child *x = *(struct metrics_child *const *)a, *y = *(struct metrics_child *const *)b;
	int d = compare_keys(child_key(x), x->key_len, child_key(y), y->key_len);

	if (d)
		return d;
	return x->count < y->count ? -1 : x->count > y->count;
}

int metrics_family_replace(struct metrics_family *f, struct metrics_snapshot *s)
{
	struct metrics_child **merged, **old;
	size_t n = 0, i = 0, j = 0, n_old;

	if (!s || s->family != f) {
		metrics_snapshot_free(s);
		return -EINVAL;
	}
	if (s->n)
		qsort(s->children, s->n, sizeof(*s->children), compare_snapshot_children);
	/* Drop all but the last of equal keys. */
	for (size_t k = 0; k < s->n; k++) {
		struct metrics_child *c = s->children[k];

		if (k + 1 < s->n && compare_keys(child_key(c), c->key_len, child_key(s->children[k + 1]),
						 s->children[k + 1]->key_len) == 0)
			free(c);
		else
			s->children[n++] = c;
	}
	s->n = n;
	merged = malloc((s->n ? s->n : 1) * sizeof(*merged));
	if (!merged) {
		metrics_snapshot_free(s);
		return -ENOMEM;
	}

	n = 0;
	pthread_mutex_lock(&f->lock);
	old = f->children;
	n_old = f->n_children;
	while (i < n_old || j < s->n) {
		int d = i == n_old ? 1 : j == s->n ? -1 :
			compare_keys(child_key(old[i]), old[i]->key_len, child_key(s->children[j]), s->children[j]->key_len);

		if (d < 0) {
			free(old[i++]);
		} else if (d > 0) {
			s->children[j]->count = 0;
			merged[n++] = s->children[j++];
		} else {
			old[i]->value = s->children[j]->value;
			free(s->children[j++]);
			merged[n++] = old[i++];
		}
	}
	f->children = merged;
	f->n_children = n;
	f->cap_children = s->n ? s->n : 1;
	pthread_mutex_unlock(&f->lock);

	free(old);
	free(s->children);
	free(s);
	return 0;
}

/* --- rendering --- */

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void reserve(struct text *t, size_t n)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *grown;

	if (t->failed || t->len + n < t->cap)
		return;
	while (cap <= t->len + n)
		cap *= 2;
	grown = realloc(t->p, cap);
	if (!grown) {
		t->failed = true;
		return;
	}
	t->p = grown;
	t->cap = cap;
}

static void put(struct text *t, const char *s, size_t n)
{
	reserve(t, n);
	if (t->failed)
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void put_str(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also escape ". */
static void put_escaped(struct text *t, const char *s, bool quote)
{
	for (const char *run = s;; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (quote && *s == '"') ? "\\\"" : NULL;

		if (!esc && *s)
			continue;
		put(t, run, (size_t)(s - run));
		if (!*s)
			return;
		put(t, esc, 2);
		run = s + 1;
	}
}

/* Shortest text that reads back as the same double; integers without exponent or point. */
static void put_number(struct text *t, double v)
{
	char tmp[40];
	int n;

	if (isnan(v)) {
		put_str(t, "NaN");
		return;
	}
	if (isinf(v)) {
		put_str(t, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	} else {
		n = snprintf(tmp, sizeof(tmp), "%.15g", v);
		if (strtod(tmp, NULL) != v)
			n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	}
	put(t, tmp, (size_t)n);
}

static void put_uint(struct text *t, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);

	put(t, tmp, (size_t)n);
}

/* name{a="x",b="y"[,le="..."]} with the child's label values. le_bound NULL: no le label. */
static void put_series(struct text *t, const struct metrics_family *f, const struct metrics_child *c,
		       const char *suffix, const double *le_bound, bool le_inf)
{
	const char *value = child_key(c);
	bool any = f->n_labels || le_bound || le_inf;

	put_str(t, f->name);
	put_str(t, suffix);
	if (!any) {
		put(t, " ", 1);
		return;
	}
	put(t, "{", 1);
	for (size_t i = 0; i < f->n_labels; i++) {
		if (i)
			put(t, ",", 1);
		put_str(t, f->label_names[i]);
		put(t, "=\"", 2);
		put_escaped(t, value, true);
		put(t, "\"", 1);
		value += strlen(value) + 1;
	}
	if (le_bound || le_inf) {
		put_str(t, f->n_labels ? ",le=\"" : "le=\"");
		if (le_inf)
			put_str(t, "+Inf");
		else
			put_number(t, *le_bound);
		put(t, "\"", 1);
	}
	put(t, "} ", 2);
}

static void render_family(struct text *t, struct metrics_family *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->n_children == 0) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	put_str(t, "# HELP ");
	put_str(t, f->name);
	put(t, " ", 1);
	put_escaped(t, f->help, false);
	put_str(t, "\n# TYPE ");
	put_str(t, f->name);
	put(t, " ", 1);
	put_str(t, type_names[f->type]);
	put(t, "\n", 1);
	for (size_t i = 0; i < f->n_children; i++) {
		const struct metrics_child *c = f->children[i];

		uint64_t cumulative = 0;

		if (f->type != METRIC_HISTOGRAM) {
			put_series(t, f, c, "", NULL, false);
			put_number(t, c->value);
			put(t, "\n", 1);
			continue;
		}
		for (size_t b = 0; b < f->n_bounds; b++) {
			cumulative += c->buckets[b];
			put_series(t, f, c, "_bucket", &f->bounds[b], false);
			put_uint(t, cumulative);
			put(t, "\n", 1);
		}
		put_series(t, f, c, "_bucket", NULL, true);
		put_uint(t, c->count);
		put(t, "\n", 1);
		put_series(t, f, c, "_sum", NULL, false);
		put_number(t, c->value);
		put(t, "\n", 1);
		put_series(t, f, c, "_count", NULL, false);
		put_uint(t, c->count);
		put(t, "\n", 1);
	}
	pthread_mutex_unlock(&f->lock);
}

int metrics_render(struct metrics_registry *r, char **out, size_t *len)
{
	struct text t = { 0 };

	pthread_mutex_lock(&r->lock);
	run_collectors(r);
	reserve(&t, r->render_size_hint + 1);
	for (size_t i = 0; i < r->n_families; i++)
		render_family(&t, r->families[i]);
	put(&t, "", 1); /* NUL, not counted */
	if (!t.failed)
		r->render_size_hint = t.len + t.len / 8;
	pthread_mutex_unlock(&r->lock);
	if (t.failed) {
		free(t.p);
		return -ENOMEM;
	}
	*out = t.p;
	*len = t.len - 1;
	return 0;
}

void metrics_http_handler(void *registry, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	if (metrics_render(registry, &resp->body, &resp->body_len)) {
		resp->status = 500;
		return;
	}
	resp->content_type = METRICS_CONTENT_TYPE;
}
