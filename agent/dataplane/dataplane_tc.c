/* TC attachment on a clsact qdisc, touching only our own filter: a new interface's qdisc and filter
 * in one rtnetlink round trip, anything else through bpf_tc_*. The clsact qdisc is created if
 * missing and never destroyed: destroying it would delete other tools' filters. */
#include "agent/dataplane/dataplane_tc.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/rtnl.h"

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

/* What bpf_tc_hook_create sends for a clsact hook: refused (EEXIST) when the interface has one. */
static void clsact_req(struct rtnl_req *r, uint32_t ifindex)
{
	struct tcmsg *tc = rtnl_req_init(r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, sizeof(*tc));

	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	tc->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	tc->tcm_parent = TC_H_CLSACT;
	rtnl_req_attr(r, TCA_KIND, "clsact", sizeof("clsact"));
}

/* What bpf_tc_attach sends without BPF_TC_F_REPLACE (the filter named as libbpf names it). */
static void filter_req(struct rtnl_req *r, const struct tc_filter *f)
{
	struct tcmsg *tc = rtnl_req_init(r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, sizeof(*tc));
	uint32_t fd = (uint32_t)f->prog_fd, flags = TCA_BPF_FLAG_ACT_DIRECT;
	struct rtattr *opts;
	char name[64];

	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)f->ifindex;
	tc->tcm_handle = f->handle;
	tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, f->hook == BPF_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
	tc->tcm_info = TC_H_MAKE((uint32_t)f->priority << 16, htons(ETH_P_ALL));
	rtnl_req_attr(r, TCA_KIND, "bpf", sizeof("bpf"));
	opts = rtnl_req_attr(r, TCA_OPTIONS | NLA_F_NESTED, NULL, 0);
	rtnl_req_attr(r, TCA_BPF_FD, &fd, sizeof(fd));
	snprintf(name, sizeof(name), "%s:[%u]", f->prog_name, f->prog_id);
	rtnl_req_attr(r, TCA_BPF_NAME, name, strlen(name) + 1);
	rtnl_req_attr(r, TCA_BPF_FLAGS, &flags, sizeof(flags));
	rtnl_req_nest_end(r, opts);
}

int tc_filter_try_attach(int rtnl_fd, struct tc_filter *f, bool with_clsact)
{
	struct rtnl_req qdisc, filter;
	struct rtnl_req *reqs[2];
	int errs[2], n = 0, err;

	if (with_clsact) {
		clsact_req(&qdisc, f->ifindex);
		reqs[n++] = &qdisc;
	}
	filter_req(&filter, f);
	reqs[n++] = &filter;
	err = rtnl_transact(rtnl_fd, reqs, n, errs);
	if (err)
		return err;
	err = errs[n - 1];
	/* The qdisc's own error matters only when the interface is gone (the filter says so too). */
	if (!err) {
		f->attached_prog_id = f->prog_id;
		return 0;
	}
	/* Without NLM_F_REPLACE the kernel refuses (EEXIST) when any filter holds our handle/priority,
	 * and (EINVAL, ENOENT) when there is no clsact qdisc: nothing is replaced. */
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
