/* Following a pod's containers: cgroup storage attached to the pod cgroup and every cgroup below
 * it, inotify on each so new or restarted containers are tracked at the next dataplane_refresh. */
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

static int watch(struct dataplane *dp, const char *path, uint32_t slot)
{
	int wd = inotify_add_watch(dp->inotify_fd, path, IN_CREATE | IN_ONLYDIR);

	if (wd < 0)
		return -errno;
	for (int i = 0; i < dp->n_watches; i++) {
		if (dp->watches[i].wd == wd) {
			dp->watches[i].slot = slot;
			return 0;
		}
	}
	if (dp->n_watches == dp->cap_watches) {
		int cap = dp->cap_watches ? dp->cap_watches * 2 : 64;
		struct dp_watch *w = realloc(dp->watches, (size_t)cap * sizeof(*w));

		if (!w)
			return -ENOMEM;
		dp->watches = w;
		dp->cap_watches = cap;
	}
	dp->watches[dp->n_watches++] = (struct dp_watch){ .wd = wd, .slot = slot };
	return 0;
}

struct track_walk {
	struct dataplane *dp;
	struct dp_pod *pod;
	bool attach;
	int newly;
	int err;
};

static int track_one(const char *path, int fd, void *arg)
{
	struct track_walk *w = arg;
	struct pcmc_cgroup_pod value = { .slot = w->pod->slot, .gen = w->pod->gen };
	struct pcmc_cgroup_pod old;
	int err;

	if (w->attach) {
		/* A new slot generation is in no cgroup's storage yet: nothing to look up. */
		err = w->pod->untracked ? -ENOENT : bpf_map_lookup_elem(w->dp->tracked_cgroups_fd, &fd, &old);
		if (err || old.slot != value.slot || old.gen != value.gen) {
			err = bpf_map_update_elem(w->dp->tracked_cgroups_fd, &fd, &value, BPF_ANY);
			if (err && !w->err)
				w->err = err;
			else if (!err)
				w->newly++;
		}
		err = watch(w->dp, path, w->pod->slot);
		if (err && !w->err)
			w->err = err;
	} else {
		bpf_map_delete_elem(w->dp->tracked_cgroups_fd, &fd);
	}
	return 0;
}

int dp_track_cgroups(struct dataplane *dp, struct dp_pod *pod)
{
	struct track_walk w = { .dp = dp, .pod = pod, .attach = true };
	char dir[PATH_MAX];
	int err;

	err = pod_cgroups_find(dp->cgroup_root, pod->uid, dir, sizeof(dir));
	if (err)
		return err;
	pod_cgroups_walk(dir, track_one, &w);
	if (!w.err)
		pod->untracked = false;
	return w.err ? w.err : w.newly;
}

int dp_untrack_cgroups(struct dataplane *dp, struct dp_pod *pod)
{
	struct track_walk w = { .dp = dp, .pod = pod, .attach = false };
	char dir[PATH_MAX];

	if (pod_cgroups_find(dp->cgroup_root, pod->uid, dir, sizeof(dir)) == 0)
		pod_cgroups_walk(dir, track_one, &w);
	for (int i = 0; i < dp->n_watches; i++) {
		if (dp->watches[i].slot == pod->slot) {
			inotify_rm_watch(dp->inotify_fd, dp->watches[i].wd);
			dp->watches[i--] = dp->watches[--dp->n_watches];
		}
	}
	return 0;
}

static void drain_events(struct dataplane *dp)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	/* Which watch fired does not matter: refresh rescans every pod, which is idempotent. */
	while ((len = read(dp->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & IN_IGNORED) {
				for (int i = 0; i < dp->n_watches; i++)
					if (dp->watches[i].wd == ev->wd)
						dp->watches[i--] = dp->watches[--dp->n_watches];
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

int dataplane_refresh(struct dataplane *dp)
{
	int newly = 0;

	drain_events(dp);
	for (int i = 0; i < PCMC_MAX_PODS; i++) {
		struct dp_pod *pod = dp->pods[i];
		int n;

		if (!pod)
			continue;
		if (pod->want_syscalls) {
			n = dp_track_cgroups(dp, pod);
			if (n > 0)
				newly += n;
		}
		if (pod->want_firewall)
			dp_ensure_firewall(dp, pod, NULL);
	}
	return newly;
}
