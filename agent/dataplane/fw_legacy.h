/* Layout 1 put one firewall program per pod inside the pod's netns (ingress of its eth0). After an
 * upgrade those filters are taken off, so no frozen old policy keeps judging beside the new one. */
#ifndef PCMC_AGENT_FW_LEGACY_H
#define PCMC_AGENT_FW_LEGACY_H

#include <stdint.h>

#include "bpf/pcmc.h"

/* Detaches the pod's layout-1 filter (only if it runs the program pinned at
 * <old_dir>/pods/<uid>/fw) from rec->ifindex in the netns with inode rec->netns_ino. 0 also when
 * the netns or the filter is gone; -EEXIST if the filter there is not ours. */
int fw_legacy_detach(const char *old_dir, const char *uid, const struct pcmc_pod_record *rec,
		     uint32_t tc_handle, uint16_t tc_priority);

#endif
