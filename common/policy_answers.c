/* The agent's answers to a push, encoded and decoded for both programs (declared in
 * common/policy_codec.h): the 200 body with per-pod results, and 4xx/409 refusals. Decoding skips
 * unknown fields, so an older controller reads a newer agent's answers. */
#include "common/policy_codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_TEXT_MAX 4096 /* an answer's error message */
#define PATH_TEXT_MAX  512

const char *pod_result_name(enum pod_result r)
{
	static const char *const names[] = { "applied", "unchanged", "removed", "failed" };

	return r < POD_RESULTS ? names[r] : "failed";
}

const char *fence_reason_name(enum fence_reason r)
{
	static const char *const names[] = { "", "older_epoch", "older_revision", "different_body",
					     "not_lease_holder", "lease_expired", "epoch_above_lease" };

	return r < FENCE_REASONS ? names[r] : "";
}

void push_answer_write_begin(struct json_writer *w, const char *node, int64_t epoch, int64_t revision)
{
	jw_object_begin(w);
	jw_key_string(w, "node", node);
	jw_key_int(w, "epoch", epoch);
	jw_key_int(w, "revision", revision);
	jw_key(w, "results");
	jw_array_begin(w);
}

void push_answer_write_pod(struct json_writer *w, const char *uid, const char *namespace, const char *name,
			   enum pod_result result, const char *error, const char *path)
{
	jw_object_begin(w);
	jw_key_string(w, "uid", uid);
	jw_key_string(w, "namespace", namespace);
	jw_key_string(w, "name", name);
	jw_key_string(w, "result", pod_result_name(result));
	jw_key_string(w, "error", error ? error : "");
	if (path)
		jw_key_string(w, "path", path);
	jw_object_end(w);
}

void push_answer_write_end(struct json_writer *w)
{
	jw_array_end(w);
	jw_object_end(w);
}

static int read_result(struct json_reader *r, struct pod_result_entry *p)
{
	char result[12];
	bool have_result = false;
	int e;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		char **field = !strcmp(r->key, "uid") ? &p->uid : !strcmp(r->key, "namespace") ? &p->namespace :
			       !strcmp(r->key, "name") ? &p->name : !strcmp(r->key, "error") ? &p->error :
			       !strcmp(r->key, "path") ? &p->path : NULL;

		if (jr_null(r))
			continue;
		if (field) {
			free(*field);
			*field = NULL;
			e = jr_string(r, field == &p->error ? ERROR_TEXT_MAX : field == &p->path ? PATH_TEXT_MAX :
					 POLICY_NAME_MAX, field);
		} else if (!strcmp(r->key, "result")) {
			e = jr_string_buf(r, result, sizeof(result));
			for (int i = 0; !e && i <= POD_RESULTS; i++) {
				if (i == POD_RESULTS) {
					e = jr_fail(r, "unknown result \"%s\"", result);
				} else if (!strcmp(result, pod_result_name((enum pod_result)i))) {
					p->result = (enum pod_result)i;
					have_result = true;
					break;
				}
			}
		} else {
			e = jr_skip(r);
		}
		if (e)
			return e;
	}
	if (!e && !p->uid)
		e = jr_fail_at(r, ".uid", "required");
	if (!e && !have_result)
		e = jr_fail_at(r, ".result", "required");
	return e;
}

static int read_answer(struct json_reader *r, void *obj)
{
	struct push_answer *a = obj;
	int e;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if (jr_null(r))
			continue;
		if (!strcmp(r->key, "node")) {
			free(a->node);
			a->node = NULL;
			e = jr_string(r, POLICY_NAME_MAX, &a->node);
		} else if (!strcmp(r->key, "epoch")) {
			e = jr_int(r, 0, POLICY_INT_MAX, &a->epoch);
		} else if (!strcmp(r->key, "revision")) {
			e = jr_int(r, 0, POLICY_INT_MAX, &a->revision);
		} else if (!strcmp(r->key, "results") && !(e = jr_array_begin(r))) {
			size_t cap = 0;

			while ((e = jr_array_next(r)) == 1) {
				if (a->n_results == 2 * POLICY_MAX_PODS)
					return jr_fail(r, "more than %d results", 2 * POLICY_MAX_PODS);
				if ((e = jr_grow(r, (void **)&a->results, a->n_results, &cap, sizeof(*a->results))) ||
				    (e = read_result(r, &a->results[a->n_results++])))
					return e;
			}
		} else if (!e) {
			e = jr_skip(r);
		}
		if (e)
			return e;
	}
	return e;
}

int push_answer_decode(const char *text, size_t len, struct push_answer **out, struct json_error *err)
{
	struct push_answer *a = calloc(1, sizeof(*a));
	int e = jr_read_document(text, len, err, a, read_answer);

	*out = e ? NULL : a;
	if (e)
		push_answer_free(a);
	return e;
}

void push_answer_free(struct push_answer *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_results; i++) {
		free(a->results[i].uid);
		free(a->results[i].namespace);
		free(a->results[i].name);
		free(a->results[i].error);
		free(a->results[i].path);
	}
	free(a->results);
	free(a->node);
	free(a);
}

void push_refusal_write(struct json_writer *w, const struct push_refusal *f)
{
	jw_object_begin(w);
	jw_key_string(w, "error", f->error ? f->error : "");
	if (f->path)
		jw_key_string(w, "path", f->path);
	if (f->reason != FENCE_NONE) {
		jw_key_string(w, "reason", fence_reason_name(f->reason));
		jw_key_string(w, "identity", f->has_held ? f->held.identity : NULL);
		jw_key(w, "epoch");
		f->has_held ? jw_int(w, f->held.epoch) : jw_null(w);
		jw_key(w, "revision");
		f->has_held ? jw_int(w, f->held_revision) : jw_null(w);
		if (f->has_lease) {
			jw_key(w, "lease");
			jw_object_begin(w);
			jw_key_string(w, "holderIdentity", f->lease_holder ? f->lease_holder : "");
			jw_key_int(w, "leaseTransitions", f->lease_transitions);
			jw_object_end(w);
		}
	}
	jw_object_end(w);
}

static int read_lease(struct json_reader *r, struct push_refusal *f)
{
	int e;

	f->has_lease = true;
	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if (jr_null(r))
			continue;
		if (!strcmp(r->key, "holderIdentity")) {
			free(f->lease_holder);
			f->lease_holder = NULL;
			e = jr_string(r, POLICY_IDENTITY_MAX, &f->lease_holder);
		} else if (!strcmp(r->key, "leaseTransitions")) {
			e = jr_int(r, 0, POLICY_INT_MAX, &f->lease_transitions);
		} else {
			e = jr_skip(r);
		}
		if (e)
			return e;
	}
	return e;
}

static int read_refusal(struct json_reader *r, void *obj)
{
	struct push_refusal *f = obj;
	char reason[24];
	int e;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if (jr_null(r))
			continue;
		if (!strcmp(r->key, "error") || !strcmp(r->key, "path") || !strcmp(r->key, "identity")) {
			char **field = r->key[0] == 'e' ? &f->error : r->key[0] == 'p' ? &f->path : &f->held.identity;

			free(*field);
			*field = NULL;
			e = jr_string(r, field == &f->error ? ERROR_TEXT_MAX : PATH_TEXT_MAX, field);
			f->has_held |= field == &f->held.identity;
		} else if (!strcmp(r->key, "epoch")) {
			f->has_held = true;
			e = jr_int(r, 0, POLICY_INT_MAX, &f->held.epoch);
		} else if (!strcmp(r->key, "revision")) {
			f->has_held = true;
			e = jr_int(r, 0, POLICY_INT_MAX, &f->held_revision);
		} else if (!strcmp(r->key, "reason")) {
			e = jr_string_buf(r, reason, sizeof(reason));
			for (int i = 1; !e && i < FENCE_REASONS; i++)
				if (!strcmp(reason, fence_reason_name((enum fence_reason)i)))
					f->reason = (enum fence_reason)i;
		} else if (!strcmp(r->key, "lease")) {
			e = read_lease(r, f);
		} else {
			e = jr_skip(r);
		}
		if (e)
			return e;
	}
	return e;
}

int push_refusal_decode(const char *text, size_t len, struct push_refusal **out, struct json_error *err)
{
	struct push_refusal *f = calloc(1, sizeof(*f));
	int e = jr_read_document(text, len, err, f, read_refusal);

	*out = e ? NULL : f;
	if (e)
		push_refusal_free(f);
	return e;
}

void push_refusal_free(struct push_refusal *f)
{
	if (!f)
		return;
	free(f->error);
	free(f->path);
	free(f->held.identity);
	free(f->lease_holder);
	free(f);
}
