/* Applies a node's desired state as a diff against what the dataplane holds, one pod at a time
 * (all or nothing each), and retries failed pods with backoff from the agent's loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service/agent_apply.h"
#include "common/log.h"

#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS   30000

const char *pod_result_name(enum pod_result r)
{
	static const char *const names[] = { "applied", "unchanged", "removed", "failed" };

	return names[r];
}

const char *program_type_name(enum program_type t)
{
	return t == PROGRAM_L4_FIREWALL ? "l4_firewall" : "syscall_counter";
}

const char *program_error_name(enum program_error e)
{
	static const char *const names[] = { "pod_not_ready", "map_full", "attach_failed", "other" };

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

static int apply_pod(struct node_policy *np, const struct desired_pod *pod, struct pod_status *st, int64_t now_ms)
{
	const struct pod_policy_spec *s = &pod->policy;
	struct pod_ref ref = { .uid = pod->uid, .namespace = pod->namespace, .name = pod->name };
	struct pod_policy p = {
		.syscalls_enabled = s->syscalls_enabled, .syscall_nrs = s->syscall_nrs,
		.n_syscalls = s->syscalls_enabled ? s->n_syscalls : 0,
		.firewall_enabled = s->firewall_enabled, .allowed = s->allowed, .n_allowed = s->n_allowed,
		.blocked = s->blocked, .n_blocked = s->n_blocked, .default_block = s->default_block,
	};
	const char *why;
	int err = dataplane_apply_pod(np->dp, &ref, &p);

	np->generation++;
	if (!err) {
		st->ok = st->holds_policy = true;
		st->held = *s;
		st->error[0] = '\0';
		st->err = 0;
		st->retry_delay_ms = 0;
		return 0;
	}
	why = dataplane_pod_error(np->dp, pod->uid);
	snprintf(st->error, sizeof(st->error), "%s", why && *why ? why : log_strerror(err));
	st->ok = false;
	st->err = err;
	st->failed_program = classify_program(st->error);
	st->errors[st->failed_program][classify_error(err)]++;
	/* A full map or a refused policy changes nothing; otherwise the dataplane holds the new
	 * policy and finishes it on refresh (cgroup or process not there yet). */
	if (err != -ENOSPC && err != -EINVAL && err != -E2BIG && err != -ENOMEM) {
		st->holds_policy = true;
		st->held = *s;
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
	int i;
};

static int cmp_uid_index(const void *a, const void *b)
{
	return strcmp(((const struct uid_index *)a)->uid, ((const struct uid_index *)b)->uid);
}

int node_policy_find(const struct node_policy *np, const char *uid)
{
	for (int i = 0; np->want && i < np->want->n_pods; i++)
		if (!strcmp(np->want->pods[i].uid, uid))
			return i;
	return -1;
}

int node_policy_apply(struct node_policy *np, struct desired_state *want, int64_t now_ms,
		      struct apply_report *r)
{
	const struct desired_state *old = np->want;
	int n_old = old ? old->n_pods : 0;
	struct pod_status *status = calloc((size_t)want->n_pods + 1, sizeof(*status));
	struct uid_index *order = calloc((size_t)n_old + 1, sizeof(*order));
	bool *kept = calloc((size_t)n_old + 1, sizeof(bool));
	const char **uids = calloc((size_t)want->n_pods + 1, sizeof(char *));
	int removed;

	memset(r, 0, sizeof(*r));
	r->pods = calloc((size_t)(want->n_pods + n_old) + 1, sizeof(*r->pods));
	if (!status || !order || !kept || !uids || !r->pods) {
		free(status);
		free(order);
		free(kept);
		free(uids);
		free(r->pods);
		r->pods = NULL;
		desired_state_free(want);
		return -ENOMEM;
	}
	for (int i = 0; i < n_old; i++)
		order[i] = (struct uid_index){ .uid = old->pods[i].uid, .i = i };
	if (n_old)
		qsort(order, (size_t)n_old, sizeof(*order), cmp_uid_index);

	for (int i = 0; i < want->n_pods; i++) {
		const struct desired_pod *pod = &want->pods[i];
		struct pod_status *st = &status[i];
		struct pod_outcome *o = &r->pods[r->n++];
		const struct uid_index key = { .uid = pod->uid }, *hit = NULL;
		int j = -1;

		if (n_old)
			hit = bsearch(&key, order, (size_t)n_old, sizeof(*order), cmp_uid_index);
		if (hit) {
			j = hit->i;
			kept[j] = true;
			*st = np->status[j];
		} else {
			st->next_read_ms = now_ms;
		}
		snprintf(o->uid, sizeof(o->uid), "%s", pod->uid);
		o->namespace = pod->namespace;
		o->name = pod->name;
		uids[i] = pod->uid;
		if (j >= 0 && st->ok && st->holds_policy && policy_same_dataplane(&st->held, &pod->policy)) {
			o->result = policy_same(&old->pods[j].policy, &pod->policy) ? POD_UNCHANGED : POD_APPLIED;
			if (old->pods[j].policy.update_interval_ms != pod->policy.update_interval_ms ||
			    old->pods[j].policy.export_enabled != pod->policy.export_enabled)
				st->next_read_ms = now_ms;
		} else if (apply_pod(np, pod, st, now_ms)) {
			o->result = POD_FAILED;
			snprintf(o->error, sizeof(o->error), "%s", st->error);
		} else {
			o->result = POD_APPLIED;
		}
		r->counts[o->result]++;
	}
	for (int j = 0; j < n_old; j++) {
		struct pod_outcome *o;
		int err;

		if (kept[j])
			continue;
		o = &r->pods[r->n++];
		snprintf(o->uid, sizeof(o->uid), "%s", old->pods[j].uid);
		o->namespace = old->pods[j].namespace;
		o->name = old->pods[j].name;
		err = dataplane_remove_pod(np->dp, old->pods[j].uid);
		if (err && err != -ENOENT) {
			o->result = POD_FAILED;
			snprintf(o->error, sizeof(o->error), "removing: %s", log_strerror(err));
		} else {
			o->result = POD_REMOVED;
		}
		r->counts[o->result]++;
	}
	removed = dataplane_remove_orphans(np->dp, uids, want->n_pods);
	if (removed < 0)
		log_error("removing orphaned pods failed", LOG_ERRNO(removed));
	else if (removed > 0)
		log_info("orphaned pods removed", LOG_INT("pods", removed));

	r->replaced = np->want;
	free(np->status);
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
	desired_state_free(r->replaced);
	memset(r, 0, sizeof(*r));
}

void node_policy_retry_soon(struct node_policy *np)
{
	for (int i = 0; np->want && i < np->want->n_pods; i++)
		np->status[i].next_retry_ms = 0;
}

int node_policy_retry(struct node_policy *np, int64_t now_ms)
{
	int fixed = 0;

	for (int i = 0; np->want && i < np->want->n_pods; i++) {
		struct pod_status *st = &np->status[i];
		const struct desired_pod *pod = &np->want->pods[i];

		if (st->ok || now_ms < st->next_retry_ms)
			continue;
		if (!apply_pod(np, pod, st, now_ms)) {
			fixed++;
			log_info("pod result", LOG_STR("pod", pod->name), LOG_STR("namespace", pod->namespace),
				 LOG_STR("pod_uid", pod->uid), LOG_STR("result", "applied"), LOG_STR("after", "retry"));
		}
	}
	return fixed;
}

cJSON *node_policy_to_json(const struct node_policy *np, const char *node_name)
{
	cJSON *o = cJSON_CreateObject(), *pods, *sender;
	const struct desired_state *w = np->want;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "node", w ? w->node : node_name ? node_name : "");
	if (w) {
		sender = cJSON_AddObjectToObject(o, "sender");
		cJSON_AddStringToObject(sender, "identity", w->identity);
		json_add_int64(sender, "epoch", w->epoch);
		json_add_int64(o, "revision", w->revision);
	} else {
		cJSON_AddNullToObject(o, "sender");
		cJSON_AddNullToObject(o, "revision");
	}
	pods = cJSON_AddArrayToObject(o, "pods");
	for (int i = 0; pods && w && i < w->n_pods; i++) {
		cJSON *p = cJSON_CreateObject();

		if (!p)
			break;
		cJSON_AddStringToObject(p, "uid", w->pods[i].uid);
		cJSON_AddStringToObject(p, "namespace", w->pods[i].namespace);
		cJSON_AddStringToObject(p, "name", w->pods[i].name);
		cJSON_AddItemToObject(p, "policy", policy_to_json(&w->pods[i].policy));
		cJSON_AddStringToObject(p, "state", np->status[i].ok ? "applied" : "failed");
		cJSON_AddStringToObject(p, "error", np->status[i].ok ? "" : np->status[i].error);
		cJSON_AddItemToArray(pods, p);
	}
	return o;
}

void node_policy_clear(struct node_policy *np)
{
	desired_state_free(np->want);
	free(np->status);
	np->want = NULL;
	np->status = NULL;
}
