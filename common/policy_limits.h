/* Every limit of the eBPF policy model, defined once: the wire codec, the agent, the controller and
 * the CRD (checked by test/common/crd-limits.sh) agree with these, and the BPF layout with asserts. */
#ifndef PCMC_COMMON_POLICY_LIMITS_H
#define PCMC_COMMON_POLICY_LIMITS_H

#include "bpf/pcmc.h"

/* ebpfConfig (a CR's, a pod's effective one, and the `policy` object on the wire). */
#define POLICY_MAX_SYSCALL_NAMES   64        /* syscallNames items */
#define POLICY_SYSCALL_NAME_MAX    32        /* chars of one name, [a-z_][a-z0-9_]* */
#define POLICY_MAX_PORTS           256       /* items of allowedPorts, and of blockedPorts */
#define POLICY_PORT_MIN            1
#define POLICY_PORT_MAX            65535
#define POLICY_DURATION_TEXT_MAX   32        /* chars of updateInterval */
#define POLICY_INTERVAL_MIN_NS     1000000000LL     /* updateInterval 1s .. */
#define POLICY_INTERVAL_MAX_NS     3600000000000LL  /* .. 1h */
#define POLICY_INTERVAL_DEFAULT_NS 30000000000LL    /* 30s */
/* The grammars, as the CRD states them (common/ebpf_config.c and common/duration.c implement them). */
#define POLICY_SYSCALL_NAME_PATTERN "^[a-z_][a-z0-9_]*$"
#define POLICY_DURATION_PATTERN     "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"

/* The push document (PUT /v1/policy) and the agent's answers. */
#define POLICY_MAX_PODS            4096      /* pods of one node in one push */
#define POLICY_PUSH_MAX_BYTES      (8u << 20) /* body of one push */
#define POLICY_UID_MAX             39        /* chars of a pod UID ([0-9A-Za-z-]) */
#define POLICY_NAMESPACE_MAX       63        /* chars of a namespace ([a-z0-9-]) */
#define POLICY_NAME_MAX            253       /* chars of a pod or node name ([a-z0-9.-]) */
#define POLICY_IDENTITY_MAX        253       /* chars of sender.identity (the leader's identity) */
#define POLICY_INT_MAX             9007199254740992LL /* 2^53: epoch, revision (exact in JSON) */

/* The BPF maps hold what the model allows. */
_Static_assert(POLICY_MAX_SYSCALL_NAMES == PCMC_MAX_LISTED, "syscallNames limit = listed counters per pod");
_Static_assert(POLICY_UID_MAX + 1 == PCMC_POD_UID_LEN, "a pod UID fits the pinned pod registry key with its NUL");
_Static_assert(POLICY_MAX_PORTS * 2 <= PCMC_MAX_FW_RULES, "one pod's port rules fit the rule map");
_Static_assert(POLICY_PORT_MAX <= 0xffff, "ports are __u16 in struct pcmc_fw_rule_key");

#endif
