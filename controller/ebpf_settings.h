/* A PodConfigMapConfig's spec.ebpfConfig decoded once into the common policy model (typed port and
 * syscall-name sets, the interval in ns), with what only the CR's own rendering and error paths
 * need; the struct itself is in objects.h. */
#ifndef PCMC_CONTROLLER_EBPF_SETTINGS_H
#define PCMC_CONTROLLER_EBPF_SETTINGS_H

#include <cjson/cJSON.h>

#include "controller/objects.h"

/* Fills e from spec.ebpfConfig (may be NULL: absent). A value an enabled feature cannot take is
 * named in e->invalid. Returns 0 or -ENOMEM (e is then cleared). */
int ebpf_settings_decode(struct ebpf_settings *e, const cJSON *ebpf_config);
void ebpf_settings_clear(struct ebpf_settings *e);

#endif
