/* A node's held policy: restore from the state file, apply logging, and the GET snapshot that lets
 * the HTTP thread answer without waiting for an apply in progress. */
#include "agent/service/agent_node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/service/agent_state.h"
#include "common/log.h"

int agent_node_init(struct agent_node *n, const char *name, const char *state_dir, const char *arch,
		    struct enforcer *enforcer)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->snapshot_lock, NULL);
	n->arch = arch;
	n->np.enforcer = enforcer;
	n->published_generation = UINT64_MAX;
	if ((name && !(n->name = strdup(name))) || (state_dir && !(n->state_dir = strdup(state_dir)))) {
		agent_node_clear(n);
		return -ENOMEM;
	}
	agent_node_publish(n);
	return 0;
}

void agent_node_clear(struct agent_node *n)
{
	node_policy_clear(&n->np);
	free(n->name);
	free(n->state_dir);
	free(n->snapshot);
	pthread_mutex_destroy(&n->snapshot_lock);
	memset(n, 0, sizeof(*n));
}

void agent_log_apply(const struct agent_node *n, const struct apply_report *r, double seconds, const char *why)
{
	const struct policy_push *want = n->np.want;

	log_info("policy applied", LOG_STR("trigger", why), LOG_STR("node", want->node), LOG_INT("revision", want->revision),
		 LOG_INT("epoch", want->sender.epoch), LOG_STR("identity", want->sender.identity),
		 LOG_INT("pods", want->n_pods), LOG_INT("applied", r->counts[POD_APPLIED]),
		 LOG_INT("unchanged", r->counts[POD_UNCHANGED]), LOG_INT("removed", r->counts[POD_REMOVED]),
		 LOG_INT("failed", r->counts[POD_FAILED]), LOG_DOUBLE("duration_ms", seconds * 1000));
	for (int i = 0; i < r->n; i++) {
		const struct pod_outcome *o = &r->pods[i];

		if (o->result == POD_UNCHANGED)
			continue;
		if (o->result == POD_FAILED)
			log_error("pod result", LOG_INT("revision", want->revision), LOG_INT("epoch", want->sender.epoch),
				  LOG_POD(o->namespace, o->name), LOG_STR("pod_uid", o->uid),
				  LOG_STR("result", pod_result_name(o->result)), LOG_ERROR_TEXT(o->error),
				  LOG_STR("json_path", o->path ? o->path : ""));
		else
			log_info("pod result", LOG_INT("revision", want->revision), LOG_INT("epoch", want->sender.epoch),
				 LOG_POD(o->namespace, o->name), LOG_STR("pod_uid", o->uid),
				 LOG_STR("result", pod_result_name(o->result)));
	}
}

int agent_node_restore(struct agent_node *n)
{
	struct policy_push *want;
	struct apply_report report;
	int64_t t0;
	int err;

	if (!n->state_dir)
		return -ENOENT;
	err = state_load(n->state_dir, n->arch, &want);
	if (err == -ENOENT) {
		log_info("no state file: waiting for the first push",
			 LOG_STR("state_dir", n->state_dir));
		return err;
	}
	if (err) {
		log_error("state file not usable: waiting for the first push",
			  LOG_STR("state_dir", n->state_dir), LOG_ERRNO(err));
		return err;
	}
	t0 = monotonic_ms();
	err = node_policy_apply(&n->np, want, t0, &report);
	if (!err) {
		agent_log_apply(n, &report, (double)(monotonic_ms() - t0) / 1000, "state file");
		apply_report_free(&report);
	}
	agent_node_publish(n);
	return err;
}

void agent_node_publish(struct agent_node *n)
{
	struct json_writer w;
	char *text;
	size_t len;

	if (n->published_generation == n->np.generation)
		return;
	jw_init(&w);
	node_policy_write(&n->np, n->name, &w);
	if (jw_finish(&w, &text, &len)) {
		log_error("rendering GET /v1/policy failed", LOG_STR("node", n->name ? n->name : ""));
		return;
	}
	pthread_mutex_lock(&n->snapshot_lock);
	free(n->snapshot);
	n->snapshot = text;
	n->snapshot_len = len;
	pthread_mutex_unlock(&n->snapshot_lock);
	n->published_generation = n->np.generation;
}

int agent_node_snapshot(struct agent_node *n, char **text, size_t *len)
{
	int err = 0;

	pthread_mutex_lock(&n->snapshot_lock);
	*text = malloc(n->snapshot_len + 1);
	if (*text) {
		memcpy(*text, n->snapshot ? n->snapshot : "", n->snapshot_len);
		(*text)[n->snapshot_len] = '\0';
		*len = n->snapshot_len;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&n->snapshot_lock);
	return err;
}
