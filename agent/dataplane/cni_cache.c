/* The CNI result cache: an index of <dir>/results by file, re-read only where the directory or a
 * file changed (the directory's mtime moves when the runtime adds or removes a record). */
#include "agent/dataplane/cni_cache.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define CNI_RECORD_MAX_BYTES (1 << 20)

struct cni_entry {
	char name[NAME_MAX + 1];
	ino_t ino;
	struct timespec mtime;
	off_t size;
	bool is_pod;   /* parsed as a pod's cniCacheV1 record */
	bool seen;     /* present in the last directory scan */
	struct cni_record rec;
};

struct cni_cache {
	char results[PATH_MAX];
	bool have_dir;
	ino_t dir_ino;
	struct timespec dir_mtime;
	struct cni_entry *entries;
	int n, cap;
};

int cni_cache_new(const char *dir, struct cni_cache **out)
{
	struct cni_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if (snprintf(c->results, sizeof(c->results), "%s/results", dir) >=
	    (int)sizeof(c->results)) {
		free(c);
		return -ENAMETOOLONG;
	}
	*out = c;
	return 0;
}

void cni_cache_free(struct cni_cache *c)
{
	if (!c)
		return;
	free(c->entries);
	free(c);
}

const char *cni_cache_results_dir(const struct cni_cache *c)
{
	return c->results;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "10.1.2.3/24" or "fd00::5/64" into ip. */
static int parse_cidr(const char *s, struct cni_ip *ip)
{
	char buf[64];
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, ip->addr) == 1)
		ip->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, ip->addr) == 1)
		ip->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static bool copy_name(char *dst, size_t len, const char *src)
{
	return src && src[0] && snprintf(dst, len, "%s", src) < (int)len;
}

static int parse_result(const cJSON *result, const char *netns, struct cni_record *out)
{
	const cJSON *ifaces = cJSON_GetObjectItemCaseSensitive(result, "interfaces");
	const cJSON *ips = cJSON_GetObjectItemCaseSensitive(result, "ips");
	const cJSON *it;

	if (netns && !copy_name(out->sandbox, sizeof(out->sandbox), netns))
		return -EINVAL;
	cJSON_ArrayForEach(it, ifaces) {
		const char *name = str_of(it, "name"), *sandbox = str_of(it, "sandbox");

		if (!name)
			return -EINVAL;
		if (sandbox && sandbox[0]) {
			/* the pod-side interface: it names the sandbox (older libcni has no top-level netns) */
			if (strcmp(name, out->if_name) == 0 && !out->sandbox[0] &&
			    !copy_name(out->sandbox, sizeof(out->sandbox), sandbox))
				return -EINVAL;
			continue;
		}
		if (out->n_host_ifnames == CNI_MAX_HOST_IFACES ||
		    !copy_name(out->host_ifnames[out->n_host_ifnames], IFNAMSIZ, name))
			return -EINVAL;
		out->n_host_ifnames++;
	}
	cJSON_ArrayForEach(it, ips) {
		const char *addr = str_of(it, "address");

		if (!addr || out->n_ips == CNI_MAX_IPS || parse_cidr(addr, &out->ips[out->n_ips]))
			return -EINVAL;
		out->n_ips++;
	}
	return 0;
}

int cni_record_parse(const char *json, size_t len, struct cni_record *out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *args, *pair;
	const char *kind, *uid = NULL;
	int err = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (!root)
		return -EINVAL;
	kind = str_of(root, "kind");
	args = cJSON_GetObjectItemCaseSensitive(root, "cniArgs");
	cJSON_ArrayForEach(pair, args) {
		const cJSON *k = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);

		if (cJSON_GetArraySize(pair) == 2 && cJSON_IsString(k) && cJSON_IsString(v) &&
		    strcmp(k->valuestring, "K8S_POD_UID") == 0)
			uid = v->valuestring;
	}
	if (kind && strcmp(kind, "cniCacheV1") == 0 && uid &&
	    copy_name(out->pod_uid, sizeof(out->pod_uid), uid) &&
	    copy_name(out->if_name, sizeof(out->if_name), str_of(root, "ifName")))
		err = parse_result(cJSON_GetObjectItemCaseSensitive(root, "result"), str_of(root, "netns"), out);
	cJSON_Delete(root);
	if (!err && !out->sandbox[0])
		err = -EINVAL; /* nothing says which netns the pod side is in */
	return err;
}

static void read_entry(const struct cni_cache *c, int dir_fd, struct cni_entry *e, const struct stat *st)
{
	char *buf = NULL;
	ssize_t n = -1;
	int fd;

	e->ino = st->st_ino;
	e->mtime = st->st_mtim;
	e->size = st->st_size;
	e->is_pod = false;
	if (st->st_size <= 0 || st->st_size > CNI_RECORD_MAX_BYTES)
		return;
	fd = openat(dir_fd, e->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	buf = fd >= 0 ? malloc((size_t)st->st_size) : NULL;
	if (buf)
		n = read(fd, buf, (size_t)st->st_size);
	if (n == st->st_size && cni_record_parse(buf, (size_t)n, &e->rec) == 0) {
		snprintf(e->rec.file, sizeof(e->rec.file), "%s", e->name);
		e->is_pod = true;
	} else {
		log_debug("CNI cache file is not a pod record (yet)", LOG_STR("path", c->results), LOG_STR("file", e->name));
	}
	free(buf);
	if (fd >= 0)
		close(fd);
}

static bool changed(const struct cni_entry *e, const struct stat *st)
{
	return e->ino != st->st_ino || e->size != st->st_size || e->mtime.tv_sec != st->st_mtim.tv_sec ||
	       e->mtime.tv_nsec != st->st_mtim.tv_nsec;
}

static struct cni_entry *entry_for(struct cni_cache *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return &c->entries[i];
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		struct cni_entry *e = realloc(c->entries, (size_t)cap * sizeof(*e));

		if (!e)
			return NULL;
		c->entries = e;
		c->cap = cap;
	}
	memset(&c->entries[c->n], 0, sizeof(c->entries[c->n]));
	snprintf(c->entries[c->n].name, sizeof(c->entries[c->n].name), "%s", name);
	return &c->entries[c->n++];
}

static int rescan(struct cni_cache *c, int dir_fd)
{
	struct dirent *de;
	DIR *d = fdopendir(dup(dir_fd));
	int err = 0;

	if (!d)
		return -errno;
	for (int i = 0; i < c->n; i++)
		c->entries[i].seen = false;
	while ((de = readdir(d))) {
		struct cni_entry *e;
		struct stat st;

		if (de->d_name[0] == '.' || fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		e = entry_for(c, de->d_name);
		if (!e) {
			err = -ENOMEM;
			break;
		}
		if (!e->ino || changed(e, &st))
			read_entry(c, dir_fd, e, &st);
		e->seen = true;
	}
	closedir(d);
	for (int i = 0; i < c->n; i++)
		if (!c->entries[i].seen)
			c->entries[i--] = c->entries[--c->n];
	return err;
}

/* Entries that might have been read half-written, and the pod's own: re-read if they changed. */
static void recheck(struct cni_cache *c, int dir_fd, const char *uid)
{
	for (int i = 0; i < c->n; i++) {
		struct cni_entry *e = &c->entries[i];
		struct stat st;

		if (e->is_pod && strcmp(e->rec.pod_uid, uid) != 0)
			continue;
		if (fstatat(dir_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			e->is_pod = false; /* gone: the next scan drops it */
		else if (changed(e, &st))
			read_entry(c, dir_fd, e, &st);
	}
}

int cni_cache_find(struct cni_cache *c, const char *uid, const struct cni_record **out, int max)
{
	struct stat st;
	int dir_fd, n = 0, err = 0;

	dir_fd = open(c->results, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || fstat(dir_fd, &st) < 0) {
		err = errno == ENOENT ? 0 : -errno; /* no pod was ever networked here */
		if (dir_fd >= 0)
			close(dir_fd);
		c->n = 0;
		c->have_dir = false;
		return err;
	}
	if (!c->have_dir || c->dir_ino != st.st_ino || c->dir_mtime.tv_sec != st.st_mtim.tv_sec ||
	    c->dir_mtime.tv_nsec != st.st_mtim.tv_nsec) {
		err = rescan(c, dir_fd);
		if (!err) {
			c->have_dir = true;
			c->dir_ino = st.st_ino;
			c->dir_mtime = st.st_mtim;
		}
	} else {
		recheck(c, dir_fd, uid);
	}
	close(dir_fd);
	if (err)
		return err;
	for (int i = 0; i < c->n && n < max; i++)
		if (c->entries[i].is_pod && strcmp(c->entries[i].rec.pod_uid, uid) == 0)
			out[n++] = &c->entries[i].rec;
	return n;
}
