/* The agent's state file: the newest accepted push (fencing epoch + revision and the whole desired
 * state), written atomically so a restarted agent serves and enforces the same thing. */
#ifndef PCMC_AGENT_STATE_H
#define PCMC_AGENT_STATE_H

#include <stdint.h>

#include "common/policy_codec.h"

#define AGENT_DEFAULT_STATE_DIR "/var/lib/pcmc-agent"

/* Writes <dir>/state.json (temp file, fsync, rename, fsync of dir); creates dir. 0 or -errno. */
int state_save(const char *dir, const struct policy_push *s);
/* Reads it back, checked as a push is (syscall names against arch, NULL: not checked): 0 with
 * *out, -ENOENT when there is none, -EINVAL when unreadable (logged). */
int state_load(const char *dir, const char *arch, struct policy_push **out);

/* Fencing against the newest accepted push (NULL: none yet): FENCE_NONE when push may replace
 * it; FENCE_OLDER_EPOCH, FENCE_OLDER_REVISION (same epoch), or FENCE_DIFFERENT_BODY (same epoch
 * and revision, another body; the same body again is a retry and passes). */
enum fence_reason fence_check(const struct policy_push *held, const struct policy_push *push);

#endif
