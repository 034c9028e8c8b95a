/* What merging did to one PodConfigMapConfig on one pod, in words for its Conflict condition:
 * which of its fields changed, which value won and which other CR brought it. Pure logic. */
#ifndef PCMC_CONTROLLER_POLICY_EXPLAIN_H
#define PCMC_CONTROLLER_POLICY_EXPLAIN_H

#include <stddef.h>

#include "controller/objects.h"

/* For the CR inputs[self] merged with the others ("l4Firewall.allowedPorts: port 8080 allowed here
 * is blocked by shop/strict (blocked wins)"). `names` are the CRs' names, `namespace` theirs. ""
 * when the merge changed nothing of this CR's. Whole items only: past `len` the text ends with
 * "; and more". */
void effective_policy_explain(const struct ebpf_settings *const *inputs, const char *const *names, size_t n,
			      size_t self, const char *namespace, char *out, size_t len);

#endif
