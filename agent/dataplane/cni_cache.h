/* The CNI result cache the container runtime keeps (libcni, <dir>/results/<network>-<sandbox id>-
 * <ifname>, root-only): which record belongs to which pod UID, and what each names. Read-only. */
#ifndef PCMC_AGENT_CNI_CACHE_H
#define PCMC_AGENT_CNI_CACHE_H

#include <limits.h>
#include <net/if.h>
#include <stdint.h>

#define CNI_MAX_HOST_IFACES 4  /* interfaces a record lists without a sandbox (host veth, bridge) */
#define CNI_MAX_IPS 4

struct cni_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

/* One cache record of kind cniCacheV1 naming a pod (cniArgs K8S_POD_UID). */
struct cni_record {
	char file[NAME_MAX + 1];
	char pod_uid[40];
	char if_name[IFNAMSIZ];      /* the pod-side interface (ifName) */
	char sandbox[256];           /* netns path: the interface with a sandbox, or top-level "netns" */
	char host_ifnames[CNI_MAX_HOST_IFACES][IFNAMSIZ]; /* result interfaces without a sandbox */
	int n_host_ifnames;
	struct cni_ip ips[CNI_MAX_IPS]; /* result ips */
	int n_ips;
};

struct cni_cache;

/* dir: the cache dir (libcni's CacheDir); records are read from <dir>/results. 0 or
 * -errno; *out freed by cni_cache_free. Nothing is read before cni_cache_find. */
int cni_cache_new(const char *dir, struct cni_cache **out);
void cni_cache_free(struct cni_cache *c);
const char *cni_cache_results_dir(const struct cni_cache *c);

/* Records of the pod uid (at most max), after re-reading what changed on disk since the last
 * call: the count (0: none yet) or -errno. Pointers stay valid until the next call. */
int cni_cache_find(struct cni_cache *c, const char *uid, const struct cni_record **out, int max);

/* Parses one record's JSON text: 0, or -EINVAL when it is not a cniCacheV1 record of a pod. */
int cni_record_parse(const char *json, size_t len, struct cni_record *out);

#endif
