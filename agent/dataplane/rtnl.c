/* Minimal rtnetlink: one request, read replies until the answer (or NLMSG_DONE for dumps). Other
 * netns are queried by id (IFLA/IFA_TARGET_NETNSID), so the agent's thread never moves. */
#include "agent/dataplane/rtnl.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RTNL_BUF 16384

void *rtnl_req_init(struct rtnl_req *r, unsigned short type, unsigned short flags, size_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&r->nh);
}

struct rtattr *rtnl_req_attr(struct rtnl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

void rtnl_req_nest_end(struct rtnl_req *r, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)r + r->nh.nlmsg_len - (char *)nest);
}

int rtnl_open(void)
{
	int one = 1, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	/* Strict checking makes the kernel honour the ifindex filter of an address dump. */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static uint32_t next_seq;

static int send_req(int fd, struct rtnl_req *r, uint32_t *seq)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	r->nh.nlmsg_seq = *seq = ++next_seq;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

/* Calls fn on each reply message of seq until the answer ends; fn returns 0 to go on. */
static int read_replies(int fd, uint32_t seq, bool dump, int (*fn)(struct nlmsghdr *nh, void *arg), void *arg)
{
	char buf[RTNL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	int result = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error ? e->error : result;
			}
			if (nh->nlmsg_type == NLMSG_DONE)
				return result;
			if (!result)
				result = fn(nh, arg);
			if (!dump)
				return result;
		}
	}
}

static void parse_linkinfo(struct rtattr *info, struct rtnl_link *out)
{
	int len = RTA_PAYLOAD(info);

	for (struct rtattr *a = RTA_DATA(info); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(out->kind, sizeof(out->kind), "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
}

static int on_link(struct nlmsghdr *nh, void *arg)
{
	struct rtnl_link *out = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

	if (nh->nlmsg_type != RTM_NEWLINK || len < 0)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->ifindex = (uint32_t)ifi->ifi_index;
	out->link_nsid = -1;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			snprintf(out->name, sizeof(out->name), "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4)
			memcpy(&out->link, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_LINK_NETNSID && RTA_PAYLOAD(a) >= 4)
			memcpy(&out->link_nsid, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_LINKINFO)
			parse_linkinfo(a, out);
	}
	return 0;
}

int rtnl_get_link(int fd, int32_t target_nsid, uint32_t ifindex, const char *name, struct rtnl_link *out)
{
	struct rtnl_req r;
	struct ifinfomsg *ifi = rtnl_req_init(&r, RTM_GETLINK, 0, sizeof(*ifi));
	uint32_t seq, ext_mask = RTEXT_FILTER_SKIP_STATS; /* the kernel need not gather counters */
	int err;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (!ifindex) {
		if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
			return -EINVAL;
		rtnl_req_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	}
	rtnl_req_attr(&r, IFLA_EXT_MASK, &ext_mask, sizeof(ext_mask));
	if (target_nsid >= 0)
		rtnl_req_attr(&r, IFLA_TARGET_NETNSID, &target_nsid, sizeof(target_nsid));
	err = send_req(fd, &r, &seq);
	err = err ?: read_replies(fd, seq, false, on_link, out);
	return err == -ENOENT ? -ENODEV : err;
}

static int on_nsid(struct nlmsghdr *nh, void *arg)
{
	int32_t *nsid = arg;
	struct rtgenmsg *g = NLMSG_DATA(nh);
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*g)));

	if (nh->nlmsg_type != RTM_NEWNSID || len < 0)
		return -EPROTO;
	for (struct rtattr *a = (struct rtattr *)((char *)g + NLMSG_ALIGN(sizeof(*g))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type == NETNSA_NSID && RTA_PAYLOAD(a) >= 4)
			memcpy(nsid, RTA_DATA(a), 4);
	return 0;
}

int rtnl_get_nsid(int fd, int netns_fd)
{
	struct rtnl_req r;
	struct rtgenmsg *g = rtnl_req_init(&r, RTM_GETNSID, 0, NLMSG_ALIGN(sizeof(struct rtgenmsg)));
	uint32_t nsfd = (uint32_t)netns_fd, seq;
	int32_t nsid = -1;
	int err;

	g->rtgen_family = AF_UNSPEC;
	rtnl_req_attr(&r, NETNSA_FD, &nsfd, sizeof(nsfd));
	err = send_req(fd, &r, &seq);
	err = err ?: read_replies(fd, seq, false, on_nsid, &nsid);
	if (err)
		return err;
	return nsid >= 0 ? nsid : -ENOENT;
}

struct addr_match {
	int family;
	const void *addr;
	bool found;
};

static int on_addr(struct nlmsghdr *nh, void *arg)
{
	struct addr_match *m = arg;
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	size_t alen = m->family == AF_INET ? 4 : 16;
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));

	if (nh->nlmsg_type != RTM_NEWADDR || len < 0 || ifa->ifa_family != m->family)
		return 0;
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((a->rta_type == IFA_LOCAL || a->rta_type == IFA_ADDRESS) && RTA_PAYLOAD(a) == alen &&
		    memcmp(RTA_DATA(a), m->addr, alen) == 0)
			m->found = true;
	return 0;
}

int rtnl_has_addr(int fd, int32_t target_nsid, uint32_t ifindex, int family, const void *addr)
{
	struct addr_match m = { .family = family, .addr = addr };
	struct rtnl_req r;
	struct ifaddrmsg *ifa = rtnl_req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	uint32_t seq;
	int err;

	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_index = ifindex;
	if (target_nsid >= 0)
		rtnl_req_attr(&r, IFA_TARGET_NETNSID, &target_nsid, sizeof(target_nsid));
	err = send_req(fd, &r, &seq);
	err = err ?: read_replies(fd, seq, true, on_addr, &m);
	if (err)
		return err;
	return m.found;
}

int rtnl_transact(int fd, struct rtnl_req *const *reqs, int n, int *errs)
{
	/* An ack repeats the request (at most sizeof(struct rtnl_req)) and the kernel's error text. */
	enum { ACK_BUF = 4096 };
	char bufs[RTNL_MAX_TRANSACT][ACK_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct iovec iov[RTNL_MAX_TRANSACT], ack_iov[RTNL_MAX_TRANSACT];
	struct mmsghdr acks[RTNL_MAX_TRANSACT];
	struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = iov };
	uint32_t first;
	int pending = n;

	if (n < 1 || n > RTNL_MAX_TRANSACT)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		ack_iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = ACK_BUF };
		acks[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &ack_iov[i], .msg_iovlen = 1 } };
	}
	first = next_seq + 1;
	for (int i = 0; i < n; i++) {
		reqs[i]->nh.nlmsg_flags |= NLM_F_ACK;
		reqs[i]->nh.nlmsg_seq = ++next_seq;
		iov[i] = (struct iovec){ .iov_base = reqs[i], .iov_len = NLMSG_ALIGN(reqs[i]->nh.nlmsg_len) };
		errs[i] = 1; /* no answer yet */
	}
	msg.msg_iovlen = (size_t)n;
	if (sendmsg(fd, &msg, 0) < 0)
		return -errno;
	/* The kernel ran every request inside sendmsg: the acks wait in the socket, one datagram
	 * each, and one recvmmsg takes them all. */
	while (pending) {
		int got = recvmmsg(fd, acks, (unsigned int)pending, MSG_WAITFORONE, NULL);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int m = 0; m < got; m++) {
			ssize_t len = (ssize_t)acks[m].msg_len;

			for (struct nlmsghdr *nh = (struct nlmsghdr *)bufs[m]; NLMSG_OK(nh, (size_t)len);
			     nh = NLMSG_NEXT(nh, len)) {
				uint32_t i = nh->nlmsg_seq - first;

				if (nh->nlmsg_type != NLMSG_ERROR || i >= (uint32_t)n || errs[i] != 1)
					continue; /* an answer to an earlier request, or not an ack */
				errs[i] = ((const struct nlmsgerr *)NLMSG_DATA(nh))->error;
				pending--;
			}
		}
	}
	return 0;
}
