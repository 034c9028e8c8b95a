/* Applying and removing pods: slot allocation, syscall list and port rules changed in place
 * without a gap; the firewall placed by dataplane_fw.c. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/fw_loader.h"
#include "agent/dataplane/pod_cgroups.h"
#include "common/log.h"

static int cmp_port(const void *a, const void *b)
{
	return (int)((const struct fw_rule *)a)->port - (int)((const struct fw_rule *)b)->port;
}

static int cmp_port_block_first(const void *a, const void *b)
{
	const struct fw_rule *x = a, *y = b;

	if (x->port != y->port)
		return (int)x->port - (int)y->port;
	return (int)y->verdict - (int)x->verdict;
}

/* The pod's rules sorted by port, one per port, a port in both lists blocked. */
static int build_rules(const struct pod_policy *p, struct fw_rule **out, int *n_out)
{
	int n = p->n_allowed + p->n_blocked, m = 0;
	struct fw_rule *r = calloc(n ? (size_t)n : 1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (int i = 0; i < p->n_allowed; i++)
		r[m++] = (struct fw_rule){ .port = p->allowed[i], .verdict = PCMC_FW_ALLOW };
	for (int i = 0; i < p->n_blocked; i++)
		r[m++] = (struct fw_rule){ .port = p->blocked[i], .verdict = PCMC_FW_BLOCK };
	qsort(r, m, sizeof(*r), cmp_port_block_first);
	n = 0;
	for (int i = 0; i < m; i++)
		if (n == 0 || r[n - 1].port != r[i].port)
			r[n++] = r[i];
	*out = r;
	*n_out = n;
	return 0;
}

static const struct fw_rule *find_rule(const struct fw_rule *rules, int n, uint16_t port)
{
	struct fw_rule key = { .port = port };

	return n ? bsearch(&key, rules, n, sizeof(*rules), cmp_port) : NULL;
}

/* Entries the pod needs at the peak of an in-place change: old and new rules together. */
static int union_size(const struct fw_rule *a, int na, const struct fw_rule *b, int nb)
{
	int n = na;

	for (int i = 0; i < nb; i++)
		n += find_rule(a, na, b[i].port) == NULL;
	return n;
}

static int validate(const struct pod_ref *ref, const struct pod_policy *p)
{
	if (!ref || !ref->uid || !ref->uid[0] || strlen(ref->uid) >= PCMC_POD_UID_LEN ||
	    strchr(ref->uid, '/') || !p)
		return -EINVAL;
	if (p->n_syscalls < 0 || p->n_syscalls > DATAPLANE_MAX_SYSCALLS || p->n_allowed < 0 ||
	    p->n_blocked < 0 || (p->n_syscalls && !p->syscall_nrs) || (p->n_allowed && !p->allowed) ||
	    (p->n_blocked && !p->blocked))
		return -EINVAL;
	for (int i = 0; i < p->n_syscalls; i++)
		if (p->syscall_nrs[i] < 0 || p->syscall_nrs[i] >= PCMC_NR_SYSCALLS_MAX)
			return -EINVAL;
	return 0;
}

int dp_write_record(struct dataplane *dp, struct dp_pod *pod)
{
	struct pcmc_pod_record rec;
	struct pcmc_pod_key key;
	int err;

	memset(&rec, 0, sizeof(rec));
	rec.slot = pod->slot;
	rec.flags = (pod->want_syscalls ? PCMC_POD_SYSCALLS : 0) | (pod->want_firewall ? PCMC_POD_FIREWALL : 0) |
		    PCMC_POD_FW_HOST;
	for (int i = 0; i < pod->n_ifaces && i < PCMC_MAX_POD_IFACES; i++)
		rec.host_ifindex[i] = pod->ifaces[i].ifindex;
	/* Only this dataplane writes the pod's record: the same one twice is one system call saved. */
	if (pod->record_written && memcmp(&rec, &pod->record, sizeof(rec)) == 0)
		return 0;
	memset(&key, 0, sizeof(key));
	memcpy(key.uid, pod->uid, strnlen(pod->uid, sizeof(key.uid) - 1));
	err = bpf_map_update_elem(dp->pods_fd, &key, &rec, BPF_ANY);
	pod->record = rec;
	pod->record_written = !err;
	return err;
}

static struct dp_pod *pod_new(struct dataplane *dp, const struct pod_ref *ref, int *err)
{
	struct pcmc_sys_policy old;
	struct dp_pod *pod;
	uint32_t slot = PCMC_MAX_PODS;

	/* Round robin: a freed slot is reused as late as possible. */
	for (uint32_t i = 0; i < PCMC_MAX_PODS; i++) {
		uint32_t s = (dp->next_slot + i) % PCMC_MAX_PODS;

		if (!dp->pods[s]) {
			slot = s;
			break;
		}
	}
	if (slot == PCMC_MAX_PODS) {
		*err = -ENOSPC;
		return NULL;
	}
	pod = calloc(1, sizeof(*pod));
	if (!pod) {
		*err = -ENOMEM;
		return NULL;
	}
	snprintf(pod->uid, sizeof(pod->uid), "%s", ref->uid);
	pod->slot = slot;
	for (int i = 0; i < PCMC_MAX_LISTED; i++)
		pod->listed_nr[i] = -1;
	if (bpf_map_lookup_elem(dp->sys_policy_fd, &slot, &old) == 0)
		pod->gen = old.gen + 1;
	if (!pod->gen) /* 0 marks an interface claim as empty (pcmc_fw_iface) */
		pod->gen = 1;
	pod->untracked = true;
	dp->next_slot = (slot + 1) % PCMC_MAX_PODS;
	*err = 0;
	return pod;
}

/* A new slot starts from zero; the policy stays disabled until the pod's is written. Its listed
 * counters are zeroed one by one as apply_syscalls gives their indexes out (listed_zeroed). */
static int reset_slot(struct dataplane *dp, struct dp_pod *pod)
{
	int err;

	err = dp_write_sys_policy(dp, pod);
	err = err ?: fw_reset_slot(dp, pod->slot, pod->gen);
	return err ?: dp_zero_percpu(dp, dp->sys_counters_fd, pod->slot, sizeof(struct pcmc_sys_counters));
}

/* Zeroes the listed counters of the indexes apply_syscalls is about to give out (not yet in the
 * written policy) that may hold a count: of this slot's earlier pod, or any after an adoption. */
static int zero_given(struct dataplane *dp, struct dp_pod *pod, const int *given, int n)
{
	uint32_t keys[PCMC_MAX_LISTED];
	uint32_t n_keys = 0;
	int err;

	for (int k = 0; k < n; k++)
		if (!(pod->listed_zeroed & (1ull << given[k])))
			keys[n_keys++] = pod->slot * PCMC_MAX_LISTED + (uint32_t)given[k];
	err = n_keys ? dp_zero_percpu_keys(dp, dp->sys_listed_fd, keys, n_keys, sizeof(uint64_t)) : 0;
	if (err)
		return err;
	for (int k = 0; k < n; k++)
		pod->listed_zeroed &= ~(1ull << given[k]); /* in use: counting from now on */
	return 0;
}

/* Listed counter indexes stay with their syscall across changes, so counts never jump; an index
 * is zeroed after its syscall left the list (policy written) and before it is given again. */
static int apply_syscalls(struct dataplane *dp, struct dp_pod *pod, const struct pod_policy *p)
{
	int n_new = p->syscalls_enabled ? p->n_syscalls : 0;
	int freed[PCMC_MAX_LISTED], n_freed = 0, err;

	for (int i = 0; i < PCMC_MAX_LISTED; i++) {
		bool keep = false;

		if (pod->listed_nr[i] < 0)
			continue;
		for (int j = 0; j < n_new && !keep; j++)
			keep = p->syscall_nrs[j] == pod->listed_nr[i];
		if (!keep) {
			pod->listed_nr[i] = -1;
			freed[n_freed++] = i;
		}
	}
	if (n_freed) {
		err = dp_write_sys_policy(dp, pod);
		for (int i = 0; !err && i < n_freed; i++) {
			err = dp_zero_percpu(dp, dp->sys_listed_fd, pod->slot * PCMC_MAX_LISTED + freed[i], sizeof(uint64_t));
			if (!err)
				pod->listed_zeroed |= 1ull << freed[i];
		}
		if (err)
			return dp_pod_fail(pod, err, "writing syscall policy");
	}
	int given[PCMC_MAX_LISTED], n_given = 0;

	for (int j = 0; j < n_new; j++) {
		int nr = p->syscall_nrs[j], free_index = -1;
		bool listed = false;

		for (int i = 0; i < PCMC_MAX_LISTED && !listed; i++) {
			listed = pod->listed_nr[i] == nr;
			if (free_index < 0 && pod->listed_nr[i] < 0)
				free_index = i;
		}
		if (!listed && free_index >= 0) {
			pod->listed_nr[free_index] = nr;
			given[n_given++] = free_index;
		}
	}
	/* Before the policy names them: nothing counts into a free index. */
	err = zero_given(dp, pod, given, n_given);
	if (err) {
		for (int k = 0; k < n_given; k++)
			pod->listed_nr[given[k]] = -1;
		return dp_pod_fail(pod, err, "writing syscall policy");
	}
	pod->want_syscalls = p->syscalls_enabled;
	err = dp_write_sys_policy(dp, pod);
	if (err)
		return dp_pod_fail(pod, err, "writing syscall policy");

	if (!pod->want_syscalls)
		return dp_untrack_cgroups(dp, pod);
	err = dp_track_cgroups(dp, pod);
	if (err < 0)
		return dp_pod_fail(pod, err, err == -ENOENT ? "pod cgroup not found (retried on refresh)" :
				   "attaching cgroup storage");
	return 0;
}

static int put_rule(struct dataplane *dp, uint32_t slot, uint16_t port, uint8_t verdict)
{
	struct pcmc_fw_rule_key key = { .slot = slot, .port = port };

	return bpf_map_update_elem(dp->fw_rules_fd, &key, &verdict, BPF_ANY);
}

static void delete_rule(struct dataplane *dp, uint32_t slot, uint16_t port)
{
	struct pcmc_fw_rule_key key = { .slot = slot, .port = port };

	bpf_map_delete_elem(dp->fw_rules_fd, &key);
}

/* (1) upsert every new rule record, (2) the ports' verdicts and the default, (3) delete records the
 * policy no longer has: every port changes verdict at most once. A failure restores the old
 * records of this pod (the programs never saw the new ones). */
static int apply_rules(struct dataplane *dp, struct dp_pod *pod, struct fw_rule *rules, int n,
		       uint32_t default_verdict)
{
	struct pcmc_fw_policy fw = { .default_verdict = default_verdict, .gen = pod->gen };
	int err = 0, i;

	for (i = 0; i < n; i++) {
		const struct fw_rule *old = find_rule(pod->rules, pod->n_rules, rules[i].port);

		if (old && old->verdict == rules[i].verdict)
			continue;
		err = put_rule(dp, pod->slot, rules[i].port, rules[i].verdict);
		if (err)
			break;
	}
	/* The programs read only these two: the ports' verdicts first, then the policy (which turns
	 * the slot's filter on for a new pod). */
	if (!err)
		err = fw_write_ports(dp, pod->slot, rules, n, default_verdict);
	if (!err)
		err = bpf_map_update_elem(dp->fw_policy_fd, &pod->slot, &fw, BPF_ANY);
	if (err) {
		for (int j = 0; j < i && j < n; j++) {
			const struct fw_rule *old = find_rule(pod->rules, pod->n_rules, rules[j].port);

			if (!old)
				delete_rule(dp, pod->slot, rules[j].port);
			else if (old->verdict != rules[j].verdict)
				put_rule(dp, pod->slot, old->port, old->verdict);
		}
		free(rules);
		return err;
	}
	for (int j = 0; j < pod->n_rules; j++)
		if (!find_rule(rules, n, pod->rules[j].port))
			delete_rule(dp, pod->slot, pod->rules[j].port);
	dp->n_rules_total += n - pod->n_rules;
	free(pod->rules);
	pod->rules = rules;
	pod->n_rules = n;
	pod->default_verdict = default_verdict;
	return 0;
}

int dataplane_apply_pod(struct dataplane *dp, const struct pod_ref *ref, const struct pod_policy *p)
{
	struct fw_rule *rules = NULL;
	struct dp_pod *pod;
	bool created = false, attached = false;
	int n_rules = 0, err;

	err = validate(ref, p);
	if (err) {
		log_error("invalid pod policy", LOG_STR("pod_uid", ref && ref->uid ? ref->uid : ""), LOG_ERRNO(err));
		return err;
	}
	pod = dp_find_pod(dp, ref->uid);
	if (!pod) {
		pod = pod_new(dp, ref, &err);
		if (!pod) {
			log_error("pod dataplane failed", LOG_POD(ref->namespace, ref->name), LOG_STR("pod_uid", ref->uid),
				  LOG_ERROR_TEXT("no free pod slot (too many pods on this node)"));
			dp_set_rejected(dp, ref->uid, "no free pod slot (too many pods on this node)");
			return err;
		}
		created = true;
	}
	if (ref->namespace && ref->name)
		snprintf(pod->ref, sizeof(pod->ref), "%s/%s", ref->namespace, ref->name);
	else
		snprintf(pod->ref, sizeof(pod->ref), "%s", ref->uid);
	snprintf(pod->namespace, sizeof(pod->namespace), "%s", ref->namespace ? ref->namespace : "");
	snprintf(pod->name, sizeof(pod->name), "%s", ref->name ? ref->name : "");
	pod->error[0] = '\0';
	dp_set_rejected(dp, ref->uid, NULL);

	if (p->firewall_enabled) {
		err = build_rules(p, &rules, &n_rules);
		if (!err && dp->n_rules_total - pod->n_rules + union_size(pod->rules, pod->n_rules, rules, n_rules) >
			    PCMC_MAX_FW_RULES)
			err = -ENOSPC;
		if (err) {
			free(rules);
			dp_pod_fail(pod, err, err == -ENOSPC ? "firewall rule map full (too many port rules on this node)" :
				    "building rules");
			if (created) {
				dp_set_rejected(dp, ref->uid, pod->error);
				dp_pod_free(pod);
			}
			return err;
		}
	}
	if (created) {
		dp->pods[pod->slot] = pod;
		pod->want_syscalls = pod->want_firewall = false;
		err = dp_write_record(dp, pod);
		err = err ?: reset_slot(dp, pod);
		if (err) {
			free(rules);
			dp_pod_fail(pod, err, "initialising pod slot");
			dp_remove_pod(dp, pod);
			return err;
		}
	}

	err = apply_syscalls(dp, pod, p);
	if (p->firewall_enabled) {
		int fw_err = apply_rules(dp, pod, rules, n_rules, p->default_block ? PCMC_FW_BLOCK : PCMC_FW_ALLOW);

		if (fw_err) {
			fw_err = fw_err == -E2BIG ? -ENOSPC : fw_err;
			err = dp_pod_fail(pod, fw_err, "writing port rules (old rules kept)");
		} else {
			pod->want_firewall = true;
			fw_err = dp_write_record(dp, pod);
			fw_err = fw_err ?: dp_ensure_firewall(dp, pod, &attached);
			err = err ?: fw_err;
		}
	} else if (pod->want_firewall || pod->n_ifaces) {
		int fw_err = dp_detach_firewall(dp, pod);

		if (!fw_err) {
			apply_rules(dp, pod, calloc(1, sizeof(struct fw_rule)), 0, 0);
			pod->want_firewall = false;
		}
		err = err ?: fw_err;
	}
	/* Also after a partial failure: a restarted agent must know what this pod wants. */
	int rec_err = dp_write_record(dp, pod);

	err = err ?: rec_err;
	if (!err) {
		pod->error[0] = '\0';
		/* One line a pod: where its firewall went in, if it did now. */
		if (attached)
			log_info("pod applied", LOG_DP_POD(pod), LOG_INT("slot", pod->slot),
				 LOG_BOOL("syscalls", pod->want_syscalls), LOG_BOOL("firewall", pod->want_firewall),
				 LOG_INT("rules", pod->n_rules), LOG_STR("host_interface", pod->ifaces[0].name),
				 LOG_INT("interfaces", pod->n_ifaces));
		else
			log_info("pod applied", LOG_DP_POD(pod), LOG_INT("slot", pod->slot),
				 LOG_BOOL("syscalls", pod->want_syscalls), LOG_BOOL("firewall", pod->want_firewall),
				 LOG_INT("rules", pod->n_rules));
	} else if (attached) {
		log_info("pod firewall attached", LOG_DP_POD(pod), LOG_STR("host_interface", pod->ifaces[0].name),
			 LOG_INT("interfaces", pod->n_ifaces));
	}
	return err;
}

int dp_remove_pod(struct dataplane *dp, struct dp_pod *pod)
{
	struct pcmc_fw_policy fw = { .gen = pod->gen };
	struct pcmc_pod_key key;
	int err = 0;

	if (pod->want_firewall || pod->n_ifaces) {
		err = dp_detach_firewall(dp, pod);
		if (err)
			return err;
	}
	dp_untrack_cgroups(dp, pod);
	pod->want_syscalls = false;
	for (int i = 0; i < PCMC_MAX_LISTED; i++)
		pod->listed_nr[i] = -1;
	dp_write_sys_policy(dp, pod);
	bpf_map_update_elem(dp->fw_policy_fd, &pod->slot, &fw, BPF_ANY);
	fw_write_ports(dp, pod->slot, NULL, 0, 0);
	for (int i = 0; i < pod->n_rules; i++)
		delete_rule(dp, pod->slot, pod->rules[i].port);
	dp->n_rules_total -= pod->n_rules;
	memset(&key, 0, sizeof(key));
	memcpy(key.uid, pod->uid, strnlen(pod->uid, sizeof(key.uid) - 1));
	bpf_map_delete_elem(dp->pods_fd, &key);
	log_info("pod removed", LOG_DP_POD(pod), LOG_INT("slot", pod->slot));
	dp->pods[pod->slot] = NULL;
	dp_pod_free(pod);
	return 0;
}

int dataplane_remove_pod(struct dataplane *dp, const char *uid)
{
	struct dp_pod *pod = uid ? dp_find_pod(dp, uid) : NULL;

	return pod ? dp_remove_pod(dp, pod) : -ENOENT;
}
