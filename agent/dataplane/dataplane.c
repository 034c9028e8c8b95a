/* Dataplane lifecycle: open (load or adopt what is pinned under <root>/v<layout>), close
 * (everything stays pinned and attached), per-pod errors. */
#include "agent/dataplane/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/dataplane_pins.h"
#include "agent/dataplane/fw_loader.h"
#include "agent/dataplane/pod_cgroups.h"
#include "agent/dataplane/rtnl.h"
#include "common/log.h"
#include "common/syscall_table.h"
#include "syscall_counter.skel.h"

#define DEFAULT_TC_HANDLE   0x70636d63u /* "pcmc" */
#define DEFAULT_TC_PRIORITY 7

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* Netlink's extack text comes with expected errors (no clsact qdisc yet when querying). */
	if (level == LIBBPF_WARN && !strstr(line, "Kernel error message"))
		log_warn("library message", LOG_STR("library", "libbpf"), LOG_STR("output", line));
	else
		log_debug("library message", LOG_STR("library", "libbpf"), LOG_STR("output", line));
	return 0;
}

struct dp_pod *dp_find_pod(const struct dataplane *dp, const char *uid)
{
	for (int i = 0; i < PCMC_MAX_PODS; i++)
		if (dp->pods[i] && strncmp(dp->pods[i]->uid, uid, sizeof(dp->pods[i]->uid)) == 0)
			return dp->pods[i];
	return NULL;
}

int dp_pod_fail(struct dp_pod *pod, int err, const char *what)
{
	char error[sizeof(pod->error)];

	snprintf(error, sizeof(error), "%s: %s", what, strerror(err < 0 ? -err : err));
	if (strcmp(error, pod->error) == 0)
		return err; /* already reported (refresh retries the same step) */
	memcpy(pod->error, error, sizeof(error));
	log_error("pod dataplane failed", LOG_DP_POD(pod), LOG_STR("operation", what), LOG_ERRNO(err));
	return err;
}

void dp_pod_free(struct dp_pod *pod)
{
	if (!pod)
		return;
	free(pod->rules);
	free(pod);
}

int dp_zero_percpu(struct dataplane *dp, int map_fd, uint32_t key, size_t value_size)
{
	return dp_zero_percpu_range(dp, map_fd, key, 1, value_size);
}

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's own "operation not supported" */
#endif

int dp_zero_percpu_range(struct dataplane *dp, int map_fd, uint32_t first, uint32_t count, size_t value_size)
{
	uint32_t *keys = calloc(count ? count : 1, sizeof(*keys));
	int err;

	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++)
		keys[i] = first + i;
	err = dp_zero_percpu_keys(dp, map_fd, keys, count, value_size);
	free(keys);
	return err;
}

int dp_zero_percpu_keys(struct dataplane *dp, int map_fd, uint32_t *keys, uint32_t count, size_t value_size)
{
	size_t len = (size_t)(count ? count : 1) * (size_t)dp->ncpus * ((value_size + 7) & ~(size_t)7);
	void *zero = calloc(1, len);
	int err = 0;

	if (!zero)
		return -ENOMEM;
	if (count > 1) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		uint32_t n = count;

		/* One system call for the whole range; a kernel without batch updates gets one per key. */
		err = bpf_map_update_batch(map_fd, keys, zero, &n, &bo);
		if (!err || (err != -EINVAL && err != -ENOTSUPP && err != -EOPNOTSUPP))
			goto out;
		err = 0;
	}
	for (uint32_t i = 0; i < count && !err; i++)
		err = bpf_map_update_elem(map_fd, &keys[i], zero, BPF_ANY);
out:
	free(zero);
	return err;
}

int dp_write_sys_policy(struct dataplane *dp, const struct dp_pod *pod)
{
	struct pcmc_sys_policy policy;

	memset(&policy, 0, sizeof(policy));
	policy.gen = pod->gen;
	policy.enabled = pod->want_syscalls;
	for (int i = 0; i < PCMC_MAX_LISTED; i++)
		if (pod->listed_nr[i] >= 0)
			policy.listed_index[pod->listed_nr[i]] = (uint8_t)(i + 1);
	return bpf_map_update_elem(dp->sys_policy_fd, &pod->slot, &policy, BPF_ANY);
}

/* ---- open: load or adopt ---- */

static int open_pods_registry(struct dataplane *dp)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/pod_records", dp->dir);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		dp->pods_fd = fd;
		return 0;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "pcmc_pods", sizeof(struct pcmc_pod_key),
			    sizeof(struct pcmc_pod_record), PCMC_MAX_PODS, NULL);
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	dp->pods_fd = fd;
	return 0;
}

/* A program of the counter whose link is pinned keeps running: adopt the link, do not load it. */
static struct bpf_link *adopt_link(struct dataplane *dp, const char *name, struct bpf_program *prog)
{
	char path[PATH_MAX];
	struct bpf_link *link;

	snprintf(path, sizeof(path), "%s/%s", dp->dir, name);
	link = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
	if (link)
		bpf_program__set_autoload(prog, false);
	return link;
}

static int attach_and_pin(struct dataplane *dp, const char *name, struct bpf_program *prog, struct bpf_link **link)
{
	char path[PATH_MAX];

	if (*link)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dp->dir, name);
	*link = bpf_program__attach(prog);
	if (!*link)
		return -errno;
	return bpf_link__pin(*link, path);
}

/* Native number of each 32-bit syscall number, for the program's compat translation (x86-64 only). */
static void fill_compat_table(struct syscall_counter *skel)
{
#ifdef __x86_64__
	for (int nr = 0; nr < PCMC_NR_SYSCALLS_MAX; nr++) {
		int native = syscall_table_compat_native(nr);

		skel->rodata->compat_to_native[nr] = (int16_t)(native >= 0 && native < PCMC_NR_SYSCALLS_MAX ? native : -1);
	}
#else
	(void)skel;
#endif
}

static int load_syscall_counter(struct dataplane *dp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dp->dir);
	int err;

	dp->sys_skel = syscall_counter__open_opts(&oo);
	if (!dp->sys_skel)
		return -errno;
	fill_compat_table(dp->sys_skel);
	dp->sys_link = adopt_link(dp, "sys_enter_link", dp->sys_skel->progs.pcmc_sys_enter);
	dp->mkdir_link = adopt_link(dp, "cgroup_mkdir_link", dp->sys_skel->progs.pcmc_cgroup_mkdir);
	err = syscall_counter__load(dp->sys_skel);
	err = err ?: attach_and_pin(dp, "sys_enter_link", dp->sys_skel->progs.pcmc_sys_enter, &dp->sys_link);
	err = err ?: attach_and_pin(dp, "cgroup_mkdir_link", dp->sys_skel->progs.pcmc_cgroup_mkdir, &dp->mkdir_link);
	if (err)
		return err;
	dp->tracked_cgroups_fd = bpf_map__fd(dp->sys_skel->maps.tracked_cgroups);
	dp->sys_policy_fd = bpf_map__fd(dp->sys_skel->maps.sys_policy);
	dp->sys_counters_fd = bpf_map__fd(dp->sys_skel->maps.sys_counters);
	dp->sys_listed_fd = bpf_map__fd(dp->sys_skel->maps.sys_listed);
	return 0;
}

static int adopt_rules(struct dataplane *dp)
{
	struct pcmc_fw_rule_key key, next;
	void *prev = NULL;
	uint8_t verdict;

	while (bpf_map_get_next_key(dp->fw_rules_fd, prev, &next) == 0) {
		struct dp_pod *pod;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(dp->fw_rules_fd, &key, &verdict) < 0)
			continue;
		pod = key.slot < PCMC_MAX_PODS ? dp->pods[key.slot] : NULL;
		if (!pod) { /* a rule of no pod: left by a crash during remove */
			bpf_map_delete_elem(dp->fw_rules_fd, &key);
			prev = NULL;
			continue;
		}
		struct fw_rule *r = realloc(pod->rules, (size_t)(pod->n_rules + 1) * sizeof(*r));

		if (!r)
			return -ENOMEM;
		pod->rules = r;
		r[pod->n_rules++] = (struct fw_rule){ .port = key.port, .verdict = verdict };
		dp->n_rules_total++;
	}
	return 0;
}

static int cmp_rule(const void *a, const void *b)
{
	return (int)((const struct fw_rule *)a)->port - (int)((const struct fw_rule *)b)->port;
}

/* The interfaces our filters sit on, by the record (a later dp_ensure_firewall checks them). */
static void adopt_ifaces(struct dataplane *dp, struct dp_pod *pod, const struct pcmc_pod_record *rec)
{
	struct rtnl_link link;

	if (!(rec->flags & PCMC_POD_FW_HOST))
		return;
	for (int i = 0; i < PCMC_MAX_POD_IFACES; i++) {
		struct pod_iface *iface = &pod->ifaces[pod->n_ifaces];

		if (!rec->host_ifindex[i])
			continue;
		iface->ifindex = rec->host_ifindex[i];
		if (rtnl_get_link(dp->rtnl_fd, -1, iface->ifindex, NULL, &link) == 0)
			snprintf(iface->name, sizeof(iface->name), "%s", link.name);
		pod->n_ifaces++;
	}
}

static int adopt_pods(struct dataplane *dp)
{
	struct pcmc_pod_key key, next;
	struct pcmc_pod_record rec;
	void *prev = NULL;
	int err;

	while (bpf_map_get_next_key(dp->pods_fd, prev, &next) == 0) {
		struct pcmc_sys_policy policy;
		struct pcmc_fw_policy fw;
		struct dp_pod *pod;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(dp->pods_fd, &key, &rec) < 0 || rec.slot >= PCMC_MAX_PODS ||
		    dp->pods[rec.slot])
			continue;
		pod = calloc(1, sizeof(*pod));
		if (!pod)
			return -ENOMEM;
		memcpy(pod->uid, key.uid, sizeof(pod->uid));
		pod->uid[sizeof(pod->uid) - 1] = '\0';
		snprintf(pod->ref, sizeof(pod->ref), "%s", pod->uid);
		pod->slot = rec.slot;
		pod->want_syscalls = rec.flags & PCMC_POD_SYSCALLS;
		pod->want_firewall = rec.flags & PCMC_POD_FIREWALL;
		pod->record = rec;
		pod->record_written = true;
		adopt_ifaces(dp, pod, &rec);
		for (int i = 0; i < PCMC_MAX_LISTED; i++)
			pod->listed_nr[i] = -1;
		if (bpf_map_lookup_elem(dp->sys_policy_fd, &pod->slot, &policy) == 0) {
			pod->gen = policy.gen;
			for (int nr = 0; nr < PCMC_NR_SYSCALLS_MAX; nr++)
				if (policy.listed_index[nr] && policy.listed_index[nr] <= PCMC_MAX_LISTED)
					pod->listed_nr[policy.listed_index[nr] - 1] = nr;
		}
		if (bpf_map_lookup_elem(dp->fw_policy_fd, &pod->slot, &fw) == 0)
			pod->default_verdict = fw.default_verdict;
		dp->pods[pod->slot] = pod;
		dp->next_slot = (pod->slot + 1) % PCMC_MAX_PODS;
	}
	err = adopt_rules(dp);
	if (err)
		return err;
	for (int i = 0; i < PCMC_MAX_PODS; i++)
		if (dp->pods[i] && dp->pods[i]->n_rules > 1)
			qsort(dp->pods[i]->rules, dp->pods[i]->n_rules, sizeof(struct fw_rule), cmp_rule);
	return 0;
}

int dataplane_open(const struct dataplane_opts *opts, struct dataplane **out)
{
	static const struct dataplane_opts no_opts;
	struct dataplane *dp;
	const char *what;
	int err;

	if (!opts)
		opts = &no_opts;
	*out = NULL;
	libbpf_set_print(libbpf_log);
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->tracked_cgroups_fd = dp->sys_policy_fd = dp->sys_counters_fd = dp->sys_listed_fd = -1;
	dp->fw_rules_fd = dp->fw_policy_fd = dp->fw_counters_fd = dp->pods_fd = dp->inotify_fd = -1;
	dp->fw_iface_slots_fd = dp->fw_ifaces_fd = dp->fw_ports_fd = dp->fw_flows4_fd = dp->fw_flows6_fd = -1;
	dp->fw_flow_stats_fd = dp->fw_pod_in_fd = dp->fw_pod_out_fd = -1;
	dp->rtnl_fd = dp->cni_wd = -1;
	snprintf(dp->root, sizeof(dp->root), "%s", opts->pin_root ? opts->pin_root : DATAPLANE_DEFAULT_PIN_ROOT);
	dp->layout = opts->layout_version > 0 ? opts->layout_version : PCMC_LAYOUT_VERSION;
	dp->tc_handle = opts->tc_handle ? opts->tc_handle : DEFAULT_TC_HANDLE;
	dp->tc_priority = opts->tc_priority ? opts->tc_priority : DEFAULT_TC_PRIORITY;
	dp->ncpus = libbpf_num_possible_cpus();
	snprintf(dp->dir, sizeof(dp->dir), "%s/v%d", dp->root, dp->layout);

	what = "CNI result cache";
	if ((err = cni_cache_new(opts->cni_cache_dir ? opts->cni_cache_dir : DATAPLANE_DEFAULT_CNI_CACHE_DIR, &dp->cni)))
		goto fail;
	what = "rtnetlink socket";
	if ((dp->rtnl_fd = rtnl_open()) < 0) {
		err = dp->rtnl_fd;
		goto fail;
	}
	what = "cgroup v2 root";
	if (opts->cgroup_root)
		snprintf(dp->cgroup_root, sizeof(dp->cgroup_root), "%s", opts->cgroup_root);
	else if ((err = pod_cgroups_detect_root(dp->cgroup_root, sizeof(dp->cgroup_root))))
		goto fail;
	what = "pin directory on bpffs";
	err = dp->ncpus > 0 ? pins_prepare_root(dp->root) : dp->ncpus;
	if (!err)
		err = pins_mkdir(dp->dir);
	if (err)
		goto fail;
	what = "load syscall counter";
	if ((err = load_syscall_counter(dp)))
		goto fail;
	what = "load firewall";
	if ((err = fw_load(dp)))
		goto fail;
	what = "pods registry";
	if ((err = open_pods_registry(dp)))
		goto fail;
	what = "adopt pinned pods";
	if ((err = adopt_pods(dp)))
		goto fail;
	what = "inotify";
	dp->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (dp->inotify_fd < 0) {
		err = -errno;
		goto fail;
	}
	dp_watch_cni(dp);
	/* Containers may have started while no agent ran: track them now. */
	for (int i = 0; i < PCMC_MAX_PODS; i++)
		if (dp->pods[i] && dp->pods[i]->want_syscalls)
			dp_track_cgroups(dp, dp->pods[i]);
	log_info("dataplane open", LOG_STR("pin_dir", dp->dir), LOG_STR("cgroup_root", dp->cgroup_root),
		 LOG_STR("cni_results", cni_cache_results_dir(dp->cni)), LOG_INT("adopted_pods", dataplane_pod_count(dp)));
	*out = dp;
	return 0;
fail:
	log_error("dataplane open failed", LOG_STR("pin_dir", dp->dir), LOG_STR("operation", what), LOG_ERRNO(err));
	dataplane_close(dp);
	return err;
}

void dataplane_close(struct dataplane *dp)
{
	if (!dp)
		return;
	for (int i = 0; i < PCMC_MAX_PODS; i++)
		dp_pod_free(dp->pods[i]);
	if (dp->pods_fd >= 0)
		close(dp->pods_fd);
	if (dp->inotify_fd >= 0)
		close(dp->inotify_fd);
	free(dp->watches);
	if (dp->rtnl_fd >= 0)
		close(dp->rtnl_fd);
	cni_cache_free(dp->cni);
	/* The links are pinned: destroying our handles does not detach them. */
	bpf_link__destroy(dp->sys_link);
	bpf_link__destroy(dp->mkdir_link);
	syscall_counter__destroy(dp->sys_skel);
	fw_unload(dp);
	free(dp);
}

int dataplane_pod_count(const struct dataplane *dp)
{
	int n = 0;

	for (int i = 0; i < PCMC_MAX_PODS; i++)
		n += dp->pods[i] != NULL;
	return n;
}

void dp_set_rejected(struct dataplane *dp, const char *uid, const char *error)
{
	struct dp_rejected *r = NULL;

	for (int i = 0; i < DP_MAX_REJECTED && !r; i++)
		if (strncmp(dp->rejected[i].uid, uid, sizeof(r->uid)) == 0)
			r = &dp->rejected[i];
	if (!error) {
		if (r)
			memset(r, 0, sizeof(*r));
		return;
	}
	if (!r) {
		r = &dp->rejected[dp->next_rejected];
		dp->next_rejected = (dp->next_rejected + 1) % DP_MAX_REJECTED;
	}
	snprintf(r->uid, sizeof(r->uid), "%s", uid);
	snprintf(r->error, sizeof(r->error), "%s", error);
}

const char *dataplane_pod_error(const struct dataplane *dp, const char *uid)
{
	struct dp_pod *pod = dp_find_pod(dp, uid);

	if (pod)
		return pod->error;
	for (int i = 0; i < DP_MAX_REJECTED; i++)
		if (dp->rejected[i].uid[0] && strncmp(dp->rejected[i].uid, uid, sizeof(dp->rejected[i].uid)) == 0)
			return dp->rejected[i].error;
	return NULL;
}

int dataplane_event_fd(const struct dataplane *dp)
{
	return dp->inotify_fd;
}

void dp_watch_cni(struct dataplane *dp)
{
	/* Watched again each time: the same wd while it lives, a new one once the dir reappears. */
	int wd = inotify_add_watch(dp->inotify_fd, cni_cache_results_dir(dp->cni),
				   IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);

	dp->cni_wd = wd >= 0 ? wd : -1;
}
