/* TC (clsact) attachment of pcmc's firewall programs to one hook of one interface, touching only
 * our own filter: recognised by handle/priority, program name and a program id we pinned. */
#ifndef PCMC_AGENT_DATAPLANE_TC_H
#define PCMC_AGENT_DATAPLANE_TC_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdint.h>

struct tc_filter {
	uint32_t ifindex;
	enum bpf_tc_attach_point hook; /* BPF_TC_INGRESS or BPF_TC_EGRESS */
	uint32_t handle;
	uint16_t priority;
	const char *prog_name;        /* the name our program at this hook has */
	const uint32_t *our_prog_ids; /* programs pinned by pcmc (any layout) */
	int n_our_prog_ids;
	int prog_fd;                  /* attach: the program to put there */
	uint32_t prog_id;             /* attach: its id (names the filter as libbpf does) */
	uint32_t attached_prog_id;    /* out: what sits at our handle/priority, 0 if nothing */
};

/* The common case in one round trip on rtnl_fd (rtnl_open): the interface's clsact qdisc created
 * first if it has none (with_clsact; an existing one is left as it is), then prog_fd attached where
 * no filter holds our handle/priority. -EAGAIN (nothing changed) when a filter is in the way or
 * there is no clsact qdisc: then tc_filter_attach. Needs no our_prog_ids. */
int tc_filter_try_attach(int rtnl_fd, struct tc_filter *f, bool with_clsact);
/* Attaches prog_fd at our handle/priority, atomically replacing our own earlier program.
 * -EEXIST (nothing changed) if another tool's filter sits there, -ENODEV: no such interface. */
int tc_filter_attach(struct tc_filter *f);
/* Detaches our filter; 0 if it (or the interface) is already gone, -EEXIST if the one there is
 * not ours. */
int tc_filter_detach(struct tc_filter *f);
/* Fills attached_prog_id; 0 or -errno (-ENODEV: no such interface). */
int tc_filter_query(struct tc_filter *f);

#endif
