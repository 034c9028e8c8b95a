/* The L4 firewall's loader: the object is opened with its maps pinned by name under <dir>; the two
 * programs are loaded once and pinned as <dir>/fw_pod_in and fw_pod_out, or adopted from there. */
#include "agent/dataplane/fw_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/dataplane_pins.h"
#include "agent/dataplane/dataplane_tc.h"
#include "l4_firewall.skel.h"

_Static_assert(DATAPLANE_FW_REASONS == PCMC_FW_REASONS, "dataplane.h and bpf/pcmc.h disagree on drop reasons");

static const char *const reason_names[PCMC_FW_REASONS] = {
	[PCMC_FW_REASON_PORT] = "port",
	[PCMC_FW_REASON_MALFORMED] = "malformed",
	[PCMC_FW_REASON_TOO_DEEP] = "too_deep",
	[PCMC_FW_REASON_ENCAPSULATED] = "encapsulated",
};

const char *dataplane_fw_reason_name(int reason)
{
	return reason >= 0 && reason < PCMC_FW_REASONS ? reason_names[reason] : "unknown";
}

static int pin_path(const struct dataplane *dp, const char *name, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s", dp->dir, name) < (int)len ? 0 : -ENAMETOOLONG;
}

/* The pinned program, or the freshly loaded one pinned now. */
static int adopt_or_pin(const struct dataplane *dp, const char *pin, struct bpf_program *prog, int *fd_out)
{
	char path[PATH_MAX];
	int fd, err = pin_path(dp, pin, path, sizeof(path));

	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	fd = dup(bpf_program__fd(prog));
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

int fw_load(struct dataplane *dp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dp->dir);
	char in_path[PATH_MAX], out_path[PATH_MAX];
	bool adopt;
	int err;

	if ((err = pin_path(dp, "fw_pod_in", in_path, sizeof(in_path))) ||
	    (err = pin_path(dp, "fw_pod_out", out_path, sizeof(out_path))))
		return err;
	dp->fw_skel = l4_firewall__open_opts(&oo);
	if (!dp->fw_skel)
		return -errno;
	/* Adopted: the pinned programs keep running, nothing new to verify. */
	adopt = access(in_path, F_OK) == 0 && access(out_path, F_OK) == 0;
	if (adopt) {
		bpf_program__set_autoload(dp->fw_skel->progs.pcmc_fw_pod_in, false);
		bpf_program__set_autoload(dp->fw_skel->progs.pcmc_fw_pod_out, false);
	}
	err = l4_firewall__load(dp->fw_skel);
	if (err)
		return err;
	if (adopt) {
		dp->fw_pod_in_fd = bpf_obj_get(in_path);
		dp->fw_pod_out_fd = bpf_obj_get(out_path);
		if (dp->fw_pod_in_fd < 0 || dp->fw_pod_out_fd < 0)
			return -errno;
	} else {
		err = adopt_or_pin(dp, "fw_pod_in", dp->fw_skel->progs.pcmc_fw_pod_in, &dp->fw_pod_in_fd);
		err = err ?: adopt_or_pin(dp, "fw_pod_out", dp->fw_skel->progs.pcmc_fw_pod_out, &dp->fw_pod_out_fd);
		if (err)
			return err;
	}
	dp->fw_pod_in_id = prog_id(dp->fw_pod_in_fd);
	dp->fw_pod_out_id = prog_id(dp->fw_pod_out_fd);
	dp->fw_iface_slots_fd = bpf_map__fd(dp->fw_skel->maps.fw_iface_slots);
	dp->fw_ifaces_fd = bpf_map__fd(dp->fw_skel->maps.fw_ifaces);
	dp->fw_rules_fd = bpf_map__fd(dp->fw_skel->maps.fw_rules);
	dp->fw_ports_fd = bpf_map__fd(dp->fw_skel->maps.fw_ports);
	dp->fw_policy_fd = bpf_map__fd(dp->fw_skel->maps.fw_policy);
	dp->fw_counters_fd = bpf_map__fd(dp->fw_skel->maps.fw_counters);
	dp->fw_flows4_fd = bpf_map__fd(dp->fw_skel->maps.fw_flows4);
	dp->fw_flows6_fd = bpf_map__fd(dp->fw_skel->maps.fw_flows6);
	dp->fw_flow_stats_fd = bpf_map__fd(dp->fw_skel->maps.fw_flow_stats);
	return 0;
}

void fw_unload(struct dataplane *dp)
{
	if (dp->fw_pod_in_fd >= 0)
		close(dp->fw_pod_in_fd);
	if (dp->fw_pod_out_fd >= 0)
		close(dp->fw_pod_out_fd);
	dp->fw_pod_in_fd = dp->fw_pod_out_fd = -1;
	l4_firewall__destroy(dp->fw_skel);
	dp->fw_skel = NULL;
}

#define MAX_OUR_PROG_IDS (2 * PINS_MAX_VERSIONS)

/* Our programs' ids under every layout of the pin root: a filter running one of them is ours. */
static int our_prog_ids(const struct dataplane *dp, uint32_t *ids, int max)
{
	int versions[PINS_MAX_VERSIONS];
	int n_versions, n = 0;

	n_versions = pins_list_versions(dp->root, versions, PINS_MAX_VERSIONS);
	for (int i = 0; i < n_versions && n + 2 <= max; i++) {
		static const char *const names[] = { "fw_pod_in", "fw_pod_out" };

		for (int j = 0; j < 2; j++) {
			char path[PATH_MAX];
			uint32_t id;

			snprintf(path, sizeof(path), "%s/v%d/%s", dp->root, versions[i], names[j]);
			id = pins_prog_id(path);
			if (id)
				ids[n++] = id;
		}
	}
	return n;
}

static struct tc_filter filter_for(const struct dataplane *dp, uint32_t ifindex, bool pod_in,
				   const uint32_t *ids, int n_ids)
{
	return (struct tc_filter){
		.ifindex = ifindex,
		.hook = pod_in ? BPF_TC_EGRESS : BPF_TC_INGRESS,
		.handle = dp->tc_handle,
		.priority = dp->tc_priority,
		.prog_name = pod_in ? FW_PROG_POD_IN : FW_PROG_POD_OUT,
		.our_prog_ids = ids,
		.n_our_prog_ids = n_ids,
		.prog_fd = pod_in ? dp->fw_pod_in_fd : dp->fw_pod_out_fd,
		.prog_id = pod_in ? dp->fw_pod_in_id : dp->fw_pod_out_id,
	};
}

/* The map that tells the programs ifindex's slot (fw_slot_of in the program). */
static int iface_map(const struct dataplane *dp, uint32_t ifindex)
{
	return ifindex < PCMC_IFINDEX_DIRECT ? dp->fw_iface_slots_fd : dp->fw_ifaces_fd;
}

static int claim_iface(struct dataplane *dp, uint32_t ifindex, uint32_t slot, uint32_t gen)
{
	struct pcmc_fw_iface iface = { .slot = slot, .gen = gen };

	return bpf_map_update_elem(iface_map(dp, ifindex), &ifindex, &iface, BPF_ANY) < 0 ? -errno : 0;
}

/* Forgets ifindex if slot claimed it (an array entry is zeroed, a hash entry deleted). */
static void release_iface(struct dataplane *dp, uint32_t ifindex, uint32_t slot)
{
	struct pcmc_fw_iface iface = { 0 };
	int fd = iface_map(dp, ifindex);

	if (bpf_map_lookup_elem(fd, &ifindex, &iface) < 0 || !iface.gen || iface.slot != slot)
		return;
	if (fd == dp->fw_iface_slots_fd) {
		memset(&iface, 0, sizeof(iface));
		bpf_map_update_elem(fd, &ifindex, &iface, BPF_ANY);
	} else {
		bpf_map_delete_elem(fd, &ifindex);
	}
}

/* f in one request if nothing is in the way (a new interface), else the careful way, which needs
 * the ids of our programs (a few system calls per layout pinned). */
static int attach_filter(const struct dataplane *dp, struct tc_filter *f, bool with_clsact)
{
	uint32_t ids[MAX_OUR_PROG_IDS];
	int err = tc_filter_try_attach(dp->rtnl_fd, f, with_clsact);

	if (err != -EAGAIN)
		return err;
	f->our_prog_ids = ids;
	f->n_our_prog_ids = our_prog_ids(dp, ids, MAX_OUR_PROG_IDS);
	err = tc_filter_attach(f);
	f->our_prog_ids = NULL;
	f->n_our_prog_ids = 0;
	return err;
}

int fw_attach_iface(struct dataplane *dp, uint32_t slot, uint32_t gen, uint32_t ifindex)
{
	struct tc_filter out = filter_for(dp, ifindex, false, NULL, 0);
	struct tc_filter in = filter_for(dp, ifindex, true, NULL, 0);
	int err;

	if ((err = claim_iface(dp, ifindex, slot, gen)))
		return err;
	/* What the pod sends first: its flows are known before the filter judging replies runs. A new
	 * interface has no clsact qdisc: it comes in the same round trip as the first filter. */
	err = attach_filter(dp, &out, true);
	return err ?: attach_filter(dp, &in, false);
}

int fw_detach_iface(struct dataplane *dp, uint32_t slot, uint32_t ifindex)
{
	uint32_t ids[MAX_OUR_PROG_IDS];
	int n_ids = our_prog_ids(dp, ids, MAX_OUR_PROG_IDS);
	struct tc_filter in = filter_for(dp, ifindex, true, ids, n_ids);
	struct tc_filter out = filter_for(dp, ifindex, false, ids, n_ids);
	int err, err_out;

	err = tc_filter_detach(&in);
	err_out = tc_filter_detach(&out);
	release_iface(dp, ifindex, slot);
	return err ?: err_out;
}

uint32_t fw_attached_prog(const struct dataplane *dp, uint32_t ifindex, bool pod_in)
{
	struct tc_filter f = filter_for(dp, ifindex, pod_in, NULL, 0);

	return tc_filter_query(&f) == 0 ? f.attached_prog_id : 0;
}

int fw_reset_slot(struct dataplane *dp, uint32_t slot, uint32_t gen)
{
	struct pcmc_fw_policy policy = { .default_verdict = 0, .gen = gen };
	int err = bpf_map_update_elem(dp->fw_policy_fd, &slot, &policy, BPF_ANY) < 0 ? -errno : 0;

	err = err ?: fw_write_ports(dp, slot, NULL, 0, 0);
	return err ?: dp_zero_percpu(dp, dp->fw_counters_fd, slot, sizeof(struct pcmc_fw_counters));
}

int fw_write_ports(struct dataplane *dp, uint32_t slot, const struct fw_rule *rules, int n, uint32_t default_verdict)
{
	static struct pcmc_fw_ports ports; /* 8 KiB: not on the stack; the dataplane is single-threaded */
	uint64_t fill = default_verdict == PCMC_FW_BLOCK ? ~0ull : 0;

	for (int w = 0; w < PCMC_PORT_WORDS; w++)
		ports.blocked[w] = fill;
	for (int i = 0; i < n; i++) {
		uint64_t bit = 1ull << (rules[i].port & 63);

		if (rules[i].verdict == PCMC_FW_BLOCK)
			ports.blocked[rules[i].port >> 6] |= bit;
		else
			ports.blocked[rules[i].port >> 6] &= ~bit;
	}
	return bpf_map_update_elem(dp->fw_ports_fd, &slot, &ports, BPF_ANY) < 0 ? -errno : 0;
}

static uint64_t sum_stat(const struct pcmc_flow_stats *per_cpu, int ncpus, size_t offset)
{
	uint64_t sum = 0;

	for (int c = 0; c < ncpus; c++) {
		uint64_t v;

		memcpy(&v, (const char *)&per_cpu[c] + offset, sizeof(v));
		sum += v;
	}
	return sum;
}

/* Entries in one flow table now, read in batches (keys and values copied; only counted). */
static int count_entries(int fd, size_t key_size, uint64_t *out)
{
	enum { BATCH = 4096 };
	void *keys = calloc(BATCH, key_size);
	struct pcmc_flow *values = calloc(BATCH, sizeof(*values));
	uint64_t in = 0, next = 0; /* a hash map's batch token: a bucket number */
	bool first = true;
	int err = 0;

	*out = 0;
	if (!keys || !values)
		err = -ENOMEM;
	while (!err) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		uint32_t count = BATCH;

		in = next;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &next, keys, values, &count, &bo);
		*out += count;
		first = false;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
	}
	free(keys);
	free(values);
	return err;
}


static int read_stats(struct dataplane *dp, struct pcmc_flow_stats *sum)
{
	struct pcmc_flow_stats *per_cpu = calloc((size_t)dp->ncpus, sizeof(*per_cpu));
	uint32_t zero = 0;
	int err = 0;

	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fw_flow_stats_fd, &zero, per_cpu) < 0)
		err = -errno;
	sum->created = sum_stat(per_cpu, dp->ncpus, offsetof(struct pcmc_flow_stats, created));
	sum->expired = sum_stat(per_cpu, dp->ncpus, offsetof(struct pcmc_flow_stats, expired));
	sum->create_failed = sum_stat(per_cpu, dp->ncpus, offsetof(struct pcmc_flow_stats, create_failed));
	free(per_cpu);
	return err;
}

int dataplane_read_flow_stats(struct dataplane *dp, struct dataplane_flow_stats *out)
{
	struct pcmc_flow_stats before, after;
	uint64_t live = 0, gone;
	int err;

	memset(out, 0, sizeof(*out));
	/* created before the count, expired after it: flows made or expired while counting make the
	 * derived evictions smaller, never larger. */
	err = read_stats(dp, &before);
	err = err ?: count_entries(dp->fw_flows4_fd, sizeof(struct pcmc_flow_key4), &out->entries_v4);
	err = err ?: count_entries(dp->fw_flows6_fd, sizeof(struct pcmc_flow_key6), &out->entries_v6);
	err = err ?: read_stats(dp, &after);
	if (err)
		return err;
	live = out->entries_v4 + out->entries_v6;
	out->capacity = PCMC_MAX_FLOWS;
	out->capacity_v4 = PCMC_MAX_FLOWS4;
	out->capacity_v6 = PCMC_MAX_FLOWS6;
	out->entries = live;
	out->created_total = after.created;
	out->expired_total = after.expired;
	out->create_failures_total = after.create_failed;
	gone = after.expired + live;
	if (before.created > gone && before.created - gone > dp->flows_evicted_seen)
		dp->flows_evicted_seen = before.created - gone;
	out->evicted_total = dp->flows_evicted_seen;
	return 0;
}
