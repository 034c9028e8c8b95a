/* TC attachment: bpf_tc_* on a clsact qdisc, touching only our own filter. The clsact qdisc is
 * created if missing and never destroyed: destroying it would delete other tools' filters. */
#include "agent/dataplane/dataplane_tc.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static bool is_ours(const struct tc_filter *f, uint32_t prog_id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	bool listed = false;
	int fd;

	for (int i = 0; i < f->n_our_prog_ids; i++)
		listed |= f->our_prog_ids[i] == prog_id;
	if (!listed)
		return false;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return strncmp(info.name, f->prog_name, sizeof(info.name)) == 0;
}

static int query(struct tc_filter *f, struct bpf_tc_hook *hook)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority);
	int err;

	hook->ifindex = (int)f->ifindex;
	hook->attach_point = f->hook;
	f->attached_prog_id = 0;
	err = bpf_tc_query(hook, &opts);
	if (err == -ENOENT || err == -EINVAL) /* no filter there, or no clsact qdisc yet */
		return 0;
	if (err)
		return err;
	f->attached_prog_id = opts.prog_id;
	return 0;
}

int tc_filter_query(struct tc_filter *f)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);

	return query(f, &hook);
}

int tc_filter_try_attach(struct tc_filter *f)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)f->ifindex, .attach_point = f->hook);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority, .prog_fd = f->prog_fd);
	int err;

	/* Without F_REPLACE the kernel refuses (EEXIST) when any filter holds our handle/priority,
	 * and (EINVAL) when there is no clsact qdisc yet: nothing is replaced. */
	err = bpf_tc_attach(&hook, &opts);
	if (!err) {
		f->attached_prog_id = opts.prog_id;
		return 0;
	}
	return err == -EEXIST || err == -EINVAL || err == -ENOENT ? -EAGAIN : err;
}

int tc_filter_attach(struct tc_filter *f)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority,
		    .prog_fd = f->prog_fd, .flags = BPF_TC_F_REPLACE);
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int err;

	err = query(f, &hook);
	if (err)
		return err;
	if (f->attached_prog_id) {
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(f->prog_fd, &info, &len) == 0 && info.id == f->attached_prog_id)
			return 0; /* already there */
		if (!is_ours(f, f->attached_prog_id))
			return -EEXIST;
	} else {
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return err;
	f->attached_prog_id = opts.prog_id;
	return 0;
}

int tc_filter_detach(struct tc_filter *f)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority);
	int err;

	err = query(f, &hook);
	if (err == -ENODEV)
		return 0; /* the interface, and our filter with it, is gone */
	if (err)
		return err;
	if (!f->attached_prog_id)
		return 0;
	if (!is_ours(f, f->attached_prog_id))
		return -EEXIST;
	err = bpf_tc_detach(&hook, &opts);
	if (err == -ENOENT)
		return 0;
	if (!err)
		f->attached_prog_id = 0;
	return err;
}
