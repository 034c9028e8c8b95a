/* Reading counters: per-CPU arrays read with bpf_map_lookup_batch and summed per pod; listed
 * syscall counters read per pod as one batch over the pod's range of sys_listed. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "agent/dataplane/dataplane_internal.h"
#include "agent/dataplane/pod_cgroups.h"
#include "common/log.h"

static int read_percpu_array(struct dataplane *dp, int fd, uint32_t first, uint32_t count,
			     size_t value_size, void *values)
{
	uint32_t *keys = calloc(count, sizeof(uint32_t));
	uint32_t in = first - 1, out_batch, done = 0;
	size_t stride = (size_t)dp->ncpus * ((value_size + 7) & ~(size_t)7);
	int err = 0;

	if (!keys)
		return -ENOMEM;
	while (done < count) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		uint32_t n = count - done;

		err = bpf_map_lookup_batch(fd, (first + done) ? &in : NULL, &out_batch, keys + done,
					   (char *)values + done * stride, &n, &bo);
		done += n;
		if (err == -ENOENT || (!err && n == 0)) {
			err = 0;
			break;
		}
		if (err)
			break;
		in = out_batch;
	}
	free(keys);
	return err;
}

static uint64_t sum_u64(const void *values, size_t stride_cpu, int ncpus, size_t offset)
{
	uint64_t sum = 0;

	for (int c = 0; c < ncpus; c++) {
		uint64_t v;

		memcpy(&v, (const char *)values + (size_t)c * stride_cpu + offset, sizeof(v));
		sum += v;
	}
	return sum;
}

int dataplane_read_counters(struct dataplane *dp, struct pod_counters *out, int max)
{
	size_t sys_cpu = (sizeof(struct pcmc_sys_counters) + 7) & ~(size_t)7;
	size_t fw_cpu = (sizeof(struct pcmc_fw_counters) + 7) & ~(size_t)7;
	void *sys = calloc(PCMC_MAX_PODS, sys_cpu * dp->ncpus);
	void *fw = calloc(PCMC_MAX_PODS, fw_cpu * dp->ncpus);
	void *listed = calloc(PCMC_MAX_LISTED, 8 * (size_t)dp->ncpus);
	int n = 0, err;

	err = !sys || !fw || !listed ? -ENOMEM : 0;
	if (!err)
		err = read_percpu_array(dp, dp->sys_counters_fd, 0, PCMC_MAX_PODS, sizeof(struct pcmc_sys_counters), sys);
	if (!err)
		err = read_percpu_array(dp, dp->fw_counters_fd, 0, PCMC_MAX_PODS, sizeof(struct pcmc_fw_counters), fw);
	for (int slot = 0; !err && slot < PCMC_MAX_PODS && n < max; slot++) {
		struct dp_pod *pod = dp->pods[slot];
		struct pod_counters *c = &out[n];
		const char *s = (const char *)sys + (size_t)slot * sys_cpu * dp->ncpus;
		const char *f = (const char *)fw + (size_t)slot * fw_cpu * dp->ncpus;
		int last = -1;

		if (!pod)
			continue;
		memset(c, 0, sizeof(*c));
		snprintf(c->uid, sizeof(c->uid), "%s", pod->uid);
		c->syscalls_total = sum_u64(s, sys_cpu, dp->ncpus, offsetof(struct pcmc_sys_counters, total));
		c->syscalls_outside_list = sum_u64(s, sys_cpu, dp->ncpus, offsetof(struct pcmc_sys_counters, outside_list));
		c->packets_allowed_flow = sum_u64(f, fw_cpu, dp->ncpus, offsetof(struct pcmc_fw_counters, allowed_flow));
		c->packets_allowed = sum_u64(f, fw_cpu, dp->ncpus, offsetof(struct pcmc_fw_counters, allowed)) +
				     c->packets_allowed_flow;
		for (int r = 0; r < PCMC_FW_REASONS; r++) {
			c->packets_blocked_reason[r] = sum_u64(f, fw_cpu, dp->ncpus,
							       offsetof(struct pcmc_fw_counters, blocked) + (size_t)r * 8);
			c->packets_blocked += c->packets_blocked_reason[r];
		}
		for (int i = 0; i < PCMC_MAX_LISTED; i++)
			if (pod->listed_nr[i] >= 0)
				last = i;
		if (last >= 0)
			err = read_percpu_array(dp, dp->sys_listed_fd, slot * PCMC_MAX_LISTED, (uint32_t)last + 1, 8, listed);
		for (int i = 0; !err && i <= last; i++) {
			if (pod->listed_nr[i] < 0)
				continue;
			c->listed_nr[c->n_listed] = pod->listed_nr[i];
			c->listed_count[c->n_listed++] = sum_u64((char *)listed + (size_t)i * 8 * dp->ncpus, 8, dp->ncpus, 0);
		}
		n++;
	}
	free(sys);
	free(fw);
	free(listed);
	if (err) {
		log_error("reading counters failed", LOG_ERRNO(err));
		return err;
	}
	return n;
}
