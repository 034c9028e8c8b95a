/* The agent's state file: the newest accepted push (fencing epoch + revision and the whole desired
 * state), written atomically so a restarted agent serves and enforces the same thing. */
#ifndef PCMC_AGENT_STATE_H
#define PCMC_AGENT_STATE_H

#include <stdint.h>

#include "agent/service/agent_policy.h"

#define AGENT_DEFAULT_STATE_DIR "/var/lib/pcmc-agent"

/* Writes <dir>/state.json (temp file, fsync, rename, fsync of dir); creates dir. 0 or -errno. */
int state_save(const char *dir, const struct desired_state *s);
/* Reads it back: 0 with *out, -ENOENT when there is none, -EINVAL when unreadable (logged). */
int state_load(const char *dir, struct desired_state **out);

/* Fencing: 0 when a push of (epoch, revision) may replace the newest accepted one, -ESTALE when
 * its epoch is older, or the epoch is the same and the revision older. */
int fence_check(int64_t newest_epoch, int64_t newest_revision, int64_t epoch, int64_t revision);

#endif
