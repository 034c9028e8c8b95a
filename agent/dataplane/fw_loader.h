/* The L4 firewall's loader (pairs with bpf/l4_firewall.bpf.c): one program pair per node, pinned
 * and adopted; an interface is claimed for a pod slot and gets both filters; flow table figures. */
#ifndef PCMC_AGENT_FW_LOADER_H
#define PCMC_AGENT_FW_LOADER_H

#include <stdint.h>

#include "agent/dataplane/dataplane.h"

#define FW_PROG_POD_IN  "pcmc_fw_pod_in"  /* TC egress of the host-side interface: the pod receives */
#define FW_PROG_POD_OUT "pcmc_fw_pod_out" /* TC ingress of it: the pod sends */

struct dataplane;

/* Loads the firewall object (maps pinned under dp->dir) and its programs, or adopts the programs
 * pinned there by an earlier run. 0 or -errno. */
int fw_load(struct dataplane *dp);
void fw_unload(struct dataplane *dp);
/* Claims the interface for the pod's slot (generation gen, >= 1), then both filters on it (our
 * earlier ones replaced atomically). -EEXIST: another tool's filter holds our handle/priority;
 * -ENODEV: gone. Call after the slot's ports are written. */
int fw_attach_iface(struct dataplane *dp, uint32_t slot, uint32_t gen, uint32_t ifindex);
/* Takes our filters off the interface (an interface that is gone has none), then forgets it in
 * fw_ifaces if slot claimed it. -EEXIST: a filter there is not ours (left in place). */
int fw_detach_iface(struct dataplane *dp, uint32_t slot, uint32_t ifindex);
/* Program id at our handle/priority of the interface's egress (pod_in) or ingress hook, 0 if none. */
uint32_t fw_attached_prog(const struct dataplane *dp, uint32_t ifindex, bool pod_in);
/* Zeroes the slot's counters and port verdicts, writes its policy (generation gen, default 0:
 * no firewall). */
int fw_reset_slot(struct dataplane *dp, uint32_t slot, uint32_t gen);
struct fw_rule;
/* fw_ports[slot] from the rules (sorted by port, one each) and the default: what the programs
 * read per packet. The whole value is written at once: a port whose verdict stays the same never
 * changes on the way. 0 or -errno. */
int fw_write_ports(struct dataplane *dp, uint32_t slot, const struct fw_rule *rules, int n, uint32_t default_verdict);

#endif
