/* TC ingress attachment of a pod's firewall program, run inside the pod's netns. Our filter is
 * recognised by its handle/priority, the program name pcmc_l4_fw and a program id we pinned. */
#ifndef PCMC_AGENT_DATAPLANE_TC_H
#define PCMC_AGENT_DATAPLANE_TC_H

#include <stdint.h>

#define DATAPLANE_FW_PROG_NAME "pcmc_l4_fw"

struct tc_fw {
	const char *ifname;
	uint32_t handle;
	uint16_t priority;
	const uint32_t *our_prog_ids; /* programs pinned by pcmc for this pod (any layout) */
	int n_our_prog_ids;
	int prog_fd;                  /* attach: the program to put there */
	uint32_t ifindex;             /* out */
	uint32_t attached_prog_id;    /* out: what sits at our handle/priority, 0 if nothing */
};

/* Attaches prog_fd at our handle/priority, atomically replacing our own earlier program.
 * -EEXIST (nothing changed) if another tool's filter sits there. Call inside the netns. */
int tc_fw_attach(struct tc_fw *fw);
/* Detaches our filter; 0 if it is already gone, -EEXIST if the one there is not ours. */
int tc_fw_detach(struct tc_fw *fw);
/* Fills ifindex and attached_prog_id; 0 or -errno (-ENODEV: no such interface). */
int tc_fw_query(struct tc_fw *fw);

#endif
