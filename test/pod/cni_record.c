/* The CNI result record a container runtime leaves for a pod (libcni's cache format, as
 * containerd 1.6 writes it to /var/lib/cni/results): the agent finds the pod's host veth in it. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

#define NETWORK_NAME "pcmc-testpod"
/* base64 of {"cniVersion":"0.4.0","name":"pcmc-testpod","plugins":[{"type":"pcmc-testpod"}]} */
#define NETWORK_CONFIG "eyJjbmlWZXJzaW9uIjoiMC40LjAiLCJuYW1lIjoicGNtYy10ZXN0cG9kIiwicGx1Z2lucyI6W3sidHlwZSI6InBjbWMtdGVzdHBvZCJ9XX0="

static void record_path(const char *cni_dir, const char *sandbox_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/results/%s-%s-eth0", cni_dir, NETWORK_NAME, sandbox_id);
}

static void add_arg(cJSON *args, const char *key, const char *value)
{
	cJSON *pair = cJSON_CreateArray();

	cJSON_AddItemToArray(pair, cJSON_CreateString(key));
	cJSON_AddItemToArray(pair, cJSON_CreateString(value));
	cJSON_AddItemToArray(args, pair);
}

static void add_ip(cJSON *ips, const char *version, const char *addr, const char *prefix, const char *gateway)
{
	cJSON *ip = cJSON_CreateObject();
	char cidr[64];

	snprintf(cidr, sizeof(cidr), "%s/%s", addr, prefix);
	cJSON_AddStringToObject(ip, "version", version);
	cJSON_AddNumberToObject(ip, "interface", 1);
	cJSON_AddStringToObject(ip, "address", cidr);
	cJSON_AddStringToObject(ip, "gateway", gateway);
	cJSON_AddItemToArray(ips, ip);
}

static char *record_json(const struct testpod *pod)
{
	cJSON *o = cJSON_CreateObject(), *args, *result, *ifaces, *iface, *ips;
	char *text;

	cJSON_AddStringToObject(o, "kind", "cniCacheV1");
	cJSON_AddStringToObject(o, "containerId", pod->sandbox.id);
	cJSON_AddStringToObject(o, "config", NETWORK_CONFIG);
	cJSON_AddStringToObject(o, "ifName", "eth0");
	cJSON_AddStringToObject(o, "networkName", NETWORK_NAME);
	args = cJSON_AddArrayToObject(o, "cniArgs");
	add_arg(args, "IgnoreUnknown", "1");
	add_arg(args, "K8S_POD_NAMESPACE", "pcmc-testpod");
	add_arg(args, "K8S_POD_NAME", pod->name);
	add_arg(args, "K8S_POD_INFRA_CONTAINER_ID", pod->sandbox.id);
	add_arg(args, "K8S_POD_UID", pod->uid);
	result = cJSON_AddObjectToObject(o, "result");
	cJSON_AddStringToObject(result, "cniVersion", "0.4.0");
	ifaces = cJSON_AddArrayToObject(result, "interfaces");
	iface = cJSON_CreateObject();
	cJSON_AddStringToObject(iface, "name", pod->host_veth);
	cJSON_AddStringToObject(iface, "mac", HOST_VETH_MAC);
	cJSON_AddItemToArray(ifaces, iface);
	iface = cJSON_CreateObject();
	cJSON_AddStringToObject(iface, "name", "eth0");
	cJSON_AddStringToObject(iface, "sandbox", pod->netns_path);
	cJSON_AddItemToArray(ifaces, iface);
	ips = cJSON_AddArrayToObject(result, "ips");
	if (pod->ipv4[0])
		add_ip(ips, "4", pod->ipv4, "32", POD_GATEWAY_V4);
	if (pod->ipv6[0])
		add_ip(ips, "6", pod->ipv6, "128", POD_GATEWAY_V6);
	cJSON_AddObjectToObject(result, "dns");
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int cni_record_write(struct testpod *pod)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	char *text = record_json(pod);
	size_t len;
	int fd, err = 0;

	if (!text)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/results", pod->cni_dir);
	err = RUN("mkdir", "-p", "-m", "0700", dir);
	record_path(pod->cni_dir, pod->sandbox.id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = strlen(text);
	fd = err ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!err && (fd < 0 || write(fd, text, len) != (ssize_t)len))
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(text);
	if (!err && rename(tmp, path) < 0) /* the agent never reads half a record */
		err = -errno;
	if (err) {
		unlink(tmp);
		log_error("cannot write the pod's CNI record", LOG_STR("path", path), LOG_ERRNO(err));
		return err;
	}
	pod->cni_record_created = true;
	return 0;
}

/* Records of our network naming this host veth (a pod known by name only). */
static int remove_by_veth(const char *cni_dir, const char *host_veth)
{
	char dir[512], needle[64];
	struct dirent *de;
	DIR *d;
	int err = 0;

	snprintf(dir, sizeof(dir), "%s/results", cni_dir);
	snprintf(needle, sizeof(needle), "{\"name\":\"%s\",", host_veth);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 8], buf[4096];
		ssize_t n = 0;
		int fd;

		if (strncmp(de->d_name, NETWORK_NAME "-", strlen(NETWORK_NAME) + 1) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			n = read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, needle) && unlink(path) < 0 && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	return err;
}

int cni_record_remove(struct testpod *pod)
{
	const char *cni_dir = pod->cni_dir[0] ? pod->cni_dir : TESTPOD_DEFAULT_CNI_DIR;
	char path[PATH_MAX];

	if (!pod->sandbox.id[0])
		return remove_by_veth(cni_dir, pod->host_veth);
	record_path(cni_dir, pod->sandbox.id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	pod->cni_record_created = false;
	return 0;
}
