/* Test pod state as JSON (cJSON): what the CLI writes after create and reads back for exec,
 * syscalls and delete. Names are re-derived and paths checked on load, never trusted blindly. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

static const char *const driver_names[] = { "cgroupfs", "systemd" };
static const char *const qos_names[] = { "guaranteed", "burstable", "besteffort" };

static cJSON *container_json(const struct pod_container *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddStringToObject(o, "cgroup", c->cgroup);
	cJSON_AddNumberToObject(o, "pid", c->server.pid);
	cJSON_AddNumberToObject(o, "startTime", (double)c->server.start_time);
	return o;
}

static cJSON *ports_json(const uint16_t *ports, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(ports[i]));
	return a;
}

char *testpod_to_json(const struct testpod *pod)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *text;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", pod->name);
	cJSON_AddStringToObject(o, "uid", pod->uid);
	a = cJSON_AddArrayToObject(o, "containerIDs");
	for (int i = 0; i < pod->n_containers; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(pod->containers[i].id));
	cJSON_AddStringToObject(o, "podIP", pod->ipv4[0] ? pod->ipv4 : pod->ipv6);
	a = cJSON_AddArrayToObject(o, "podIPs");
	if (pod->ipv4[0])
		cJSON_AddItemToArray(a, cJSON_CreateString(pod->ipv4));
	if (pod->ipv6[0])
		cJSON_AddItemToArray(a, cJSON_CreateString(pod->ipv6));
	cJSON_AddStringToObject(o, "driver", driver_names[pod->driver]);
	cJSON_AddStringToObject(o, "qos", qos_names[pod->qos]);
	cJSON_AddStringToObject(o, "cgroupRoot", pod->cgroup_root);
	cJSON_AddStringToObject(o, "podCgroup", pod->pod_cgroup);
	cJSON_AddNumberToObject(o, "podCgroupId", (double)testpod_cgroup_id(pod->pod_cgroup));
	a = cJSON_AddArrayToObject(o, "createdParentCgroups");
	for (int i = 0; i < pod->n_created_parents; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(pod->created_parents[i]));
	cJSON_AddItemToObject(o, "sandbox", container_json(&pod->sandbox));
	a = cJSON_AddArrayToObject(o, "containers");
	for (int i = 0; i < pod->n_containers; i++)
		cJSON_AddItemToArray(a, container_json(&pod->containers[i]));
	cJSON_AddStringToObject(o, "netns", pod->netns_path);
	cJSON_AddStringToObject(o, "hostVeth", pod->host_veth);
	cJSON_AddStringToObject(o, "cniDir", pod->cni_dir);
	cJSON_AddItemToObject(o, "tcpPorts", ports_json(pod->tcp_ports, pod->n_tcp));
	cJSON_AddItemToObject(o, "udpPorts", ports_json(pod->udp_ports, pod->n_udp));
	cJSON_AddNumberToObject(o, "serveMask", pod->serve_mask);
	text = cJSON_Print(o);
	cJSON_Delete(o);
	return text;
}

int testpod_save(const struct testpod *pod, const char *path)
{
	char tmp[PATH_MAX], *text = testpod_to_json(pod);
	int fd, err = 0;
	size_t len;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(text);
	if (!err && rename(tmp, path) < 0) /* readers never see half a file */
		err = -errno;
	if (err) {
		unlink(tmp);
		log_error("cannot write pod state", LOG_STR("path", path), LOG_ERRNO(err));
	}
	return err;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool copy_str(char *dst, size_t len, const char *src)
{
	return src && (size_t)snprintf(dst, len, "%s", src) < len;
}

/* A cgroup path from the file must lie strictly below the cgroup root. */
static bool below(const char *root, const char *path)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 && path[n] == '/' && !strstr(path, "/..");
}

static int load_container(const struct testpod *pod, const cJSON *o, struct pod_container *c)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
	const cJSON *start = cJSON_GetObjectItemCaseSensitive(o, "startTime");

	if (!copy_str(c->id, sizeof(c->id), str_field(o, "id")) ||
	    !copy_str(c->cgroup, sizeof(c->cgroup), str_field(o, "cgroup")) ||
	    !below(pod->pod_cgroup, c->cgroup) || !cJSON_IsNumber(pid) || !cJSON_IsNumber(start))
		return -EINVAL;
	c->cgroup_created = true;
	c->server.pid = (pid_t)pid->valuedouble;
	c->server.start_time = (unsigned long long)start->valuedouble;
	c->server.is_child = false;
	return 0;
}

static int load_ports(const cJSON *a, uint16_t *ports, int *n)
{
	const cJSON *v;

	*n = 0;
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsNumber(v) || *n >= TESTPOD_MAX_PORTS)
			return -EINVAL;
		ports[(*n)++] = (uint16_t)v->valuedouble;
	}
	return 0;
}

static int from_json(const cJSON *o, struct testpod *pod)
{
	const char *driver = str_field(o, "driver"), *qos = str_field(o, "qos");
	const cJSON *a, *v;

	if (!copy_str(pod->name, sizeof(pod->name), str_field(o, "name")) ||
	    !copy_str(pod->uid, sizeof(pod->uid), str_field(o, "uid")) || !driver || !qos ||
	    !copy_str(pod->cgroup_root, sizeof(pod->cgroup_root), str_field(o, "cgroupRoot")) ||
	    !copy_str(pod->pod_cgroup, sizeof(pod->pod_cgroup), str_field(o, "podCgroup")) ||
	    !below(pod->cgroup_root, pod->pod_cgroup))
		return -EINVAL;
	pod->driver = strcmp(driver, "systemd") == 0 ? TESTPOD_SYSTEMD : TESTPOD_CGROUPFS;
	for (int q = 0; q < 3; q++)
		if (strcmp(qos, qos_names[q]) == 0)
			pod->qos = (enum testpod_qos)q;
	pod->pod_cgroup_created = true;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "createdParentCgroups")) {
		if (!cJSON_IsString(v) || pod->n_created_parents >= MAX_CREATED_PARENTS ||
		    !below(pod->cgroup_root, v->valuestring))
			return -EINVAL;
		copy_str(pod->created_parents[pod->n_created_parents++], PATH_MAX, v->valuestring);
	}
	if (load_container(pod, cJSON_GetObjectItemCaseSensitive(o, "sandbox"), &pod->sandbox))
		return -EINVAL;
	a = cJSON_GetObjectItemCaseSensitive(o, "containers");
	cJSON_ArrayForEach(v, a) {
		if (pod->n_containers >= TESTPOD_MAX_CONTAINERS ||
		    load_container(pod, v, &pod->containers[pod->n_containers++]))
			return -EINVAL;
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "podIPs")) {
		if (!cJSON_IsString(v))
			return -EINVAL;
		copy_str(strchr(v->valuestring, ':') ? pod->ipv6 : pod->ipv4, INET6_ADDRSTRLEN,
			 v->valuestring);
	}
	if (load_ports(cJSON_GetObjectItemCaseSensitive(o, "tcpPorts"), pod->tcp_ports, &pod->n_tcp) ||
	    load_ports(cJSON_GetObjectItemCaseSensitive(o, "udpPorts"), pod->udp_ports, &pod->n_udp))
		return -EINVAL;
	v = cJSON_GetObjectItemCaseSensitive(o, "serveMask");
	pod->serve_mask = cJSON_IsNumber(v) ? (unsigned)v->valuedouble : 0;
	/* Never trust names that decide what gets deleted: derive them from the pod name. */
	snprintf(pod->netns_name, sizeof(pod->netns_name), "pcmc-%s", pod->name);
	snprintf(pod->netns_path, sizeof(pod->netns_path), "/run/netns/%s", pod->netns_name);
	host_veth_name(pod->name, pod->host_veth);
	copy_str(pod->cni_dir, sizeof(pod->cni_dir), str_field(o, "cniDir"));
	pod->netns_created = true;
	pod->veth_created = true;
	pod->daemonize = true;
	return 0;
}

int testpod_load(const char *path, struct testpod **out)
{
	struct testpod *pod;
	char *text = NULL;
	size_t cap = 0;
	cJSON *json;
	FILE *f;
	int err;

	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = getdelim(&text, &cap, '\0', f) < 0 ? -EIO : 0;
	fclose(f);
	if (err) {
		free(text);
		return err;
	}
	json = cJSON_Parse(text);
	free(text);
	pod = calloc(1, sizeof(*pod));
	if (!json || !pod) {
		cJSON_Delete(json);
		free(pod);
		log_error("cannot parse pod state", LOG_STR("path", path));
		return json ? -ENOMEM : -EINVAL;
	}
	err = from_json(json, pod);
	cJSON_Delete(json);
	if (err) {
		log_error("pod state is invalid", LOG_STR("path", path));
		free(pod);
		return err;
	}
	*out = pod;
	return 0;
}
