/* node -> {term heard in, error, uid -> struct pod_outcome} under one mutex. Change detection
 * compares state and reason, so repeated identical answers re-enqueue nothing. */
#include "controller/node_results.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node_entry {
	unsigned long term;         /* when this node was last heard of */
	char *error;                /* why the last push failed; NULL after a success */
	struct strmap *pods;        /* uid -> struct pod_outcome */
};

struct node_results {
	pthread_mutex_t lock;
	struct strmap *nodes;       /* name -> struct node_entry */
	unsigned long term;
};

struct pod_outcome *pod_outcome_new(enum pod_enforcement state, const char *reason)
{
	size_t len = reason ? strlen(reason) : 0;
	struct pod_outcome *r = malloc(sizeof(*r) + len + 1);

	if (!r)
		return NULL;
	r->state = state;
	memcpy(r->reason, reason ? reason : "", len + 1);
	return r;
}

static void entry_free(void *v)
{
	struct node_entry *e = v;

	if (!e)
		return;
	strmap_free(e->pods, free);
	free(e->error);
	free(e);
}

struct node_results *node_results_new(void)
{
	struct node_results *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->term = 1;
	r->nodes = strmap_new();
	if (!r->nodes) {
		node_results_free(r);
		return NULL;
	}
	return r;
}

void node_results_free(struct node_results *r)
{
	if (!r)
		return;
	strmap_free(r->nodes, entry_free);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void node_results_new_term(struct node_results *r)
{
	pthread_mutex_lock(&r->lock);
	r->term++;
	pthread_mutex_unlock(&r->lock);
}

static struct node_entry *entry_get_locked(struct node_results *r, const char *node)
{
	struct node_entry *e = strmap_get(r->nodes, node);
	int err = 0;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->pods = strmap_new())) {
		free(e);
		return NULL;
	}
	strmap_put(r->nodes, node, e, &err);
	if (err) {
		entry_free(e);
		return NULL;
	}
	return e;
}

static bool same_result(const struct pod_outcome *a, const struct pod_outcome *b)
{
	return a && b && a->state == b->state && strcmp(a->reason, b->reason) == 0;
}

struct diff_ctx {
	const struct strmap *before;
	bool all;                   /* first answer of the term: everything counts as changed */
	pod_result_changed_fn changed;
	void *ud;
};

static int report_if_changed(void *ud, const char *uid, void *value)
{
	struct diff_ctx *d = ud;

	if (d->changed && (d->all || !same_result(strmap_get(d->before, uid), value)))
		d->changed(d->ud, uid);
	return 0;
}

int node_results_store(struct node_results *r, const char *node, struct strmap *results,
		       pod_result_changed_fn changed, void *ud)
{
	struct node_entry *e;
	struct strmap *before;
	bool first, had_error;

	pthread_mutex_lock(&r->lock);
	e = entry_get_locked(r, node);
	if (!e) {
		pthread_mutex_unlock(&r->lock);
		strmap_free(results, free);
		return -ENOMEM;
	}
	first = e->term != r->term;
	had_error = e->error != NULL;
	before = e->pods;
	e->pods = results;
	e->term = r->term;
	free(e->error);
	e->error = NULL;
	pthread_mutex_unlock(&r->lock);
	/* Only the storing thread (one per node at a time: the node workqueue) touches `before`. */
	strmap_each(results, report_if_changed,
		    &(struct diff_ctx){ .before = before, .all = first || had_error, .changed = changed, .ud = ud });
	strmap_free(before, free);
	return 0;
}

struct fail_ctx {
	const struct strmap *known;
	bool all;
	pod_result_changed_fn changed;
	void *ud;
};

static int report_failed(void *ud, const char *uid, void *value)
{
	struct fail_ctx *f = ud;

	(void)value;
	/* A pod with a known result keeps it: only the pending ones see the new error. */
	if (f->changed && (f->all || !strmap_get(f->known, uid)))
		f->changed(f->ud, uid);
	return 0;
}

int node_results_fail(struct node_results *r, const char *node, const char *error, const struct strmap *pods,
		      pod_result_changed_fn changed, void *ud)
{
	struct node_entry *e;
	bool first, same;
	char *copy = strdup(error);

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&r->lock);
	e = entry_get_locked(r, node);
	if (!e) {
		pthread_mutex_unlock(&r->lock);
		free(copy);
		return -ENOMEM;
	}
	first = e->term != r->term;
	same = e->error && strcmp(e->error, error) == 0;
	if (first) {
		/* What an earlier term heard is not known now. */
		strmap_free(e->pods, free);
		e->pods = strmap_new();
	}
	free(e->error);
	e->error = copy;
	e->term = r->term;
	pthread_mutex_unlock(&r->lock);
	if (!same && pods)
		strmap_each(pods, report_failed,
			    &(struct fail_ctx){ .known = e->pods, .all = first, .changed = changed, .ud = ud });
	return e->pods ? 0 : -ENOMEM;
}

enum pod_enforcement node_results_pod(struct node_results *r, const char *node, const char *uid, char *reason,
				      size_t len)
{
	enum pod_enforcement st = ENFORCE_UNKNOWN;
	const struct node_entry *e;

	reason[0] = '\0';
	pthread_mutex_lock(&r->lock);
	e = strmap_get(r->nodes, node);
	if (e && e->term == r->term) {
		const struct pod_outcome *p = e->pods ? strmap_get(e->pods, uid) : NULL;

		if (p) {
			st = p->state;
			snprintf(reason, len, "%s", p->reason);
		} else {
			st = ENFORCE_PENDING;
			if (e->error)
				snprintf(reason, len, "%s", e->error);
			else
				snprintf(reason, len, "not yet pushed to the agent of node %s", node);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return st;
}

void node_results_forget(struct node_results *r, const char *node)
{
	struct node_entry *e;

	pthread_mutex_lock(&r->lock);
	e = strmap_remove(r->nodes, node);
	pthread_mutex_unlock(&r->lock);
	entry_free(e);
}
