/* Applies a node's desired state as a diff against what the enforcer holds, one pod at a time
 * (all or nothing each), and retries failed pods with backoff from the agent's loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service/agent_apply.h"
#include "common/log.h"

#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS   30000

const char *program_type_name(enum program_type t)
{
	return t == PROGRAM_L4_FIREWALL ? "l4_firewall" : "syscall_counter";
}

const char *program_error_name(enum program_error e)
{
	static const char *const names[] = { "pod_not_ready", "map_full", "attach_failed", "other", "invalid_policy" };

	return names[e];
}

/* Which program a dataplane error is about, from its text (the dataplane names the step). */
static enum program_type classify_program(const char *why)
{
	static const char *const fw_words[] = { "firewall", "TC", "netns", "interface", "port", "host network" };

	for (size_t i = 0; i < sizeof(fw_words) / sizeof(fw_words[0]); i++)
		if (strstr(why, fw_words[i]))
			return PROGRAM_L4_FIREWALL;
	return PROGRAM_SYSCALL_COUNTER;
}

static enum program_error classify_error(int err)
{
	switch (-err) {
	case ENOENT: case ESRCH: return ERROR_POD_NOT_READY;
	case ENOSPC: case E2BIG: return ERROR_MAP_FULL;
	case EEXIST: case ENODEV: case EPERM: case EBUSY: case EACCES: return ERROR_ATTACH;
	default: return ERROR_OTHER;
	}
}

static void status_clear(struct pod_status *st)
{
	ebpf_config_clear(&st->held);
}

/* A pod the push itself marks invalid on this node: what it held stays, it is reported failed. */
static void refuse_pod(struct node_policy *np, const struct policy_pod *pod, struct pod_status *st)
{
	if (!st->refused || strcmp(st->error, pod->error))
		np->generation++;
	st->ok = false;
	st->refused = true;
	st->err = -EINVAL;
	snprintf(st->error, sizeof(st->error), "%s", pod->error);
	snprintf(st->error_path, sizeof(st->error_path), "%s", pod->error_path ? pod->error_path : "");
	st->failed_program = PROGRAM_SYSCALL_COUNTER;
	st->errors[st->failed_program][ERROR_INVALID]++;
	st->next_retry_ms = INT64_MAX;
}

static int apply_pod(struct node_policy *np, const struct policy_pod *pod, struct pod_status *st, int64_t now_ms)
{
	int err = np->enforcer->apply_pod(np->enforcer, pod, st->error, sizeof(st->error));

	np->generation++;
	st->refused = false;
	st->error_path[0] = '\0';
	if (!err) {
		st->ok = st->holds_policy = true;
		st->error[0] = '\0';
		st->err = 0;
		st->retry_delay_ms = 0;
		return ebpf_config_copy(&st->held, &pod->policy);
	}
	st->ok = false;
	st->err = err;
	st->failed_program = classify_program(st->error);
	st->errors[st->failed_program][classify_error(err)]++;
	/* A full map or a refused policy changes nothing; otherwise the dataplane holds the new
	 * policy and finishes it on refresh (cgroup or process not there yet). */
	if (err != -ENOSPC && err != -EINVAL && err != -E2BIG && err != -ENOMEM) {
		st->holds_policy = true;
		if (ebpf_config_copy(&st->held, &pod->policy))
			st->holds_policy = false;
	}
	st->retry_delay_ms = st->retry_delay_ms ? st->retry_delay_ms * 2 : RETRY_FIRST_MS;
	if (st->retry_delay_ms > RETRY_MAX_MS)
		st->retry_delay_ms = RETRY_MAX_MS;
	st->next_retry_ms = now_ms + st->retry_delay_ms;
	return err;
}

/* Old pods by uid, to find each pushed pod's previous status. */
struct uid_index {
	const char *uid;
	size_t i;
};

static int cmp_uid_index(const void *a, const void *b)
{
	return strcmp(((const struct uid_index *)a)->uid, ((const struct uid_index *)b)->uid);
}

int node_policy_apply(struct node_policy *np, struct policy_push *want, int64_t now_ms, struct apply_report *r)
{
	const struct policy_push *old = np->want;
	size_t n_old = old ? old->n_pods : 0;
	struct pod_status *status = calloc(want->n_pods + 1, sizeof(*status));
	struct uid_index *order = calloc(n_old + 1, sizeof(*order));
	bool *kept = calloc(n_old + 1, sizeof(bool));
	const char **uids = calloc(want->n_pods + 1, sizeof(char *));
	int removed;

	memset(r, 0, sizeof(*r));
	r->pods = calloc(want->n_pods + n_old + 1, sizeof(*r->pods));
	if (!status || !order || !kept || !uids || !r->pods) {
		free(status);
		free(order);
		free(kept);
		free(uids);
		free(r->pods);
		r->pods = NULL;
		policy_push_free(want);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_old; i++)
		order[i] = (struct uid_index){ .uid = old->pods[i].uid, .i = i };
	if (n_old)
		qsort(order, n_old, sizeof(*order), cmp_uid_index);

	for (size_t i = 0; i < want->n_pods; i++) {
		const struct policy_pod *pod = &want->pods[i];
		struct pod_status *st = &status[i];
		struct pod_outcome *o = &r->pods[r->n++];
		const struct uid_index key = { .uid = pod->uid }, *hit = NULL;
		const struct policy_pod *before = NULL;

		if (n_old)
			hit = bsearch(&key, order, n_old, sizeof(*order), cmp_uid_index);
		if (hit) {
			kept[hit->i] = true;
			*st = np->status[hit->i]; /* takes over `held` */
			memset(&np->status[hit->i].held, 0, sizeof(st->held));
			before = &old->pods[hit->i];
		} else {
			ebpf_config_init(&st->held);
			st->next_read_ms = now_ms;
		}
		*o = (struct pod_outcome){ .uid = pod->uid, .namespace = pod->namespace, .name = pod->name };
		uids[i] = pod->uid;
		if (pod->state == POLICY_POD_FAILED) {
			refuse_pod(np, pod, st);
			o->result = POD_FAILED;
			o->path = pod->error_path;
			snprintf(o->error, sizeof(o->error), "%s", st->error);
		} else if (before && st->ok && st->holds_policy && ebpf_config_same_enforcement(&st->held, &pod->policy)) {
			o->result = ebpf_config_equal(&before->policy, &pod->policy) ? POD_UNCHANGED : POD_APPLIED;
			if (before->policy.metrics_export.update_interval_ns != pod->policy.metrics_export.update_interval_ns ||
			    before->policy.metrics_export.enabled != pod->policy.metrics_export.enabled)
				st->next_read_ms = now_ms;
		} else if (apply_pod(np, pod, st, now_ms)) {
			o->result = POD_FAILED;
			snprintf(o->error, sizeof(o->error), "%s", st->error);
		} else {
			o->result = POD_APPLIED;
		}
		r->counts[o->result]++;
	}
	for (size_t j = 0; j < n_old; j++) {
		struct pod_outcome *o;
		int err;

		if (kept[j])
			continue;
		o = &r->pods[r->n++];
		*o = (struct pod_outcome){ .uid = old->pods[j].uid, .namespace = old->pods[j].namespace,
					   .name = old->pods[j].name };
		err = np->enforcer->remove_pod(np->enforcer, old->pods[j].uid);
		if (err && err != -ENOENT) {
			o->result = POD_FAILED;
			snprintf(o->error, sizeof(o->error), "removing: %s", log_strerror(err));
		} else {
			o->result = POD_REMOVED;
		}
		r->counts[o->result]++;
	}
	removed = np->enforcer->remove_orphans(np->enforcer, uids, want->n_pods);
	if (removed < 0)
		log_error("removing orphaned pods failed", LOG_ERRNO(removed));
	else if (removed > 0)
		log_info("orphaned pods removed", LOG_INT("pods", removed));

	for (size_t j = 0; j < n_old; j++)
		status_clear(&np->status[j]);
	free(np->status);
	r->replaced = np->want;
	np->want = want;
	np->status = status;
	np->generation++;
	free(order);
	free(kept);
	free(uids);
	return 0;
}

void apply_report_free(struct apply_report *r)
{
	if (!r)
		return;
	free(r->pods);
	policy_push_free(r->replaced);
	memset(r, 0, sizeof(*r));
}

void node_policy_retry_soon(struct node_policy *np)
{
	for (size_t i = 0; np->want && i < np->want->n_pods; i++)
		if (!np->status[i].refused)
			np->status[i].next_retry_ms = 0;
}

int node_policy_retry(struct node_policy *np, int64_t now_ms)
{
	int fixed = 0;

	for (size_t i = 0; np->want && i < np->want->n_pods; i++) {
		struct pod_status *st = &np->status[i];
		const struct policy_pod *pod = &np->want->pods[i];

		if (st->ok || st->refused || now_ms < st->next_retry_ms)
			continue;
		if (!apply_pod(np, pod, st, now_ms)) {
			fixed++;
			log_info("pod result", LOG_POD(pod->namespace, pod->name), LOG_STR("pod_uid", pod->uid),
				 LOG_STR("result", "applied"), LOG_STR("trigger", "retry"));
		}
	}
	return fixed;
}

void node_policy_write(const struct node_policy *np, const char *node_name, struct json_writer *w)
{
	const struct policy_push *p = np->want;

	node_state_write_begin(w, p ? p->node : node_name ? node_name : "", p ? &p->sender : NULL,
			       p ? p->revision : 0);
	for (size_t i = 0; p && i < p->n_pods; i++) {
		const struct pod_status *st = &np->status[i];

		node_state_write_pod(w, &p->pods[i], !st->ok, st->error, st->refused ? st->error_path : NULL);
	}
	node_state_write_end(w);
}

void apply_report_write(const struct apply_report *r, const struct policy_push *want, struct json_writer *w)
{
	push_answer_write_begin(w, want->node, want->sender.epoch, want->revision);
	for (int i = 0; i < r->n; i++) {
		const struct pod_outcome *o = &r->pods[i];

		push_answer_write_pod(w, o->uid, o->namespace, o->name, o->result, o->error, o->path);
	}
	push_answer_write_end(w);
}

void node_policy_clear(struct node_policy *np)
{
	for (size_t i = 0; np->want && i < np->want->n_pods; i++)
		status_clear(&np->status[i]);
	policy_push_free(np->want);
	free(np->status);
	np->want = NULL;
	np->status = NULL;
}
