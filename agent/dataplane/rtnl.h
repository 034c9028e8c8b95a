/* Minimal rtnetlink queries the firewall needs to check a pod's interfaces from the host netns
 * without entering the pod's: a link (kind, veth peer, peer's netns id), a netns id, addresses. */
#ifndef PCMC_AGENT_RTNL_H
#define PCMC_AGENT_RTNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

struct rtnl_link {
	uint32_t ifindex;
	char name[IFNAMSIZ];
	char kind[16];       /* IFLA_INFO_KIND: "veth", "bridge", ...; "" for none */
	uint32_t link;       /* IFLA_LINK: a veth's peer ifindex (in peer_nsid's netns); 0 if none */
	int32_t link_nsid;   /* IFLA_LINK_NETNSID: the peer's netns id; -1 if the peer is in the same netns */
};

/* One request: a netlink header, its fixed header and attributes. */
struct rtnl_req {
	struct nlmsghdr nh;
	char body[256];
};

#define RTNL_MAX_TRANSACT 4

/* Starts a request of type with a fixed header of hdr_len bytes; returns that header (zeroed). */
void *rtnl_req_init(struct rtnl_req *r, unsigned short type, unsigned short flags, size_t hdr_len);
/* Appends an attribute (len bytes of data; data may be NULL with len 0 to open a nest). */
struct rtattr *rtnl_req_attr(struct rtnl_req *r, unsigned short type, const void *data, size_t len);
/* Closes a nest opened with rtnl_req_attr(r, type, NULL, 0): it holds everything added since. */
void rtnl_req_nest_end(struct rtnl_req *r, struct rtattr *nest);
/* Sends n (<= RTNL_MAX_TRANSACT) requests in one system call, each asking for an ack, and waits for
 * every ack: errs[i] is request i's result (0 or -errno), in the order the kernel ran them. 0, or
 * -errno when the exchange itself failed (then errs says nothing). */
int rtnl_transact(int fd, struct rtnl_req *const *reqs, int n, int *errs);

/* A NETLINK_ROUTE socket (strict checking on) in the calling thread's netns; fd or -errno. */
int rtnl_open(void);
/* The link named name (ifindex 0) or with ifindex, in the netns with id target_nsid (-1: the
 * socket's own). 0, -ENODEV (no such link) or -errno. */
int rtnl_get_link(int fd, int32_t target_nsid, uint32_t ifindex, const char *name, struct rtnl_link *out);
/* The id the socket's netns gives the netns of netns_fd: >= 0, -ENOENT (none assigned: nothing
 * links them) or -errno. */
int rtnl_get_nsid(int fd, int netns_fd);
/* Whether the interface ifindex of netns target_nsid has the address addr (4 or 16 bytes, by
 * family AF_INET/AF_INET6): 1 yes, 0 no, -errno. */
int rtnl_has_addr(int fd, int32_t target_nsid, uint32_t ifindex, int family, const void *addr);

#endif
