/* Kubernetes client configuration: kubeconfig parsing (libyaml document API, current context only)
 * and in-cluster service-account discovery, plus the rotating bearer token. */
#include "common/kube_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static struct kube_config *config_alloc(void)
{
	struct kube_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg)
		pthread_mutex_init(&cfg->token_lock, NULL);
	return cfg;
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	free(cfg->client_cert_data);
	free(cfg->client_key_data);
	free(cfg->namespace);
	free(cfg->token);
	free(cfg->token_file);
	pthread_mutex_destroy(&cfg->token_lock);
	free(cfg);
}

long kube_base64_decode(const char *in, char **out)
{
	size_t n = strlen(in);
	unsigned char *buf = malloc(n / 4 * 3 + 4);
	unsigned int acc = 0;
	int bits = 0;
	long len = 0;

	if (!buf)
		return -ENOMEM;
	for (const char *p = in; *p; p++) {
		int v;
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		else {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[len++] = (unsigned char)(acc >> bits);
		}
	}
	buf[len] = '\0';
	*out = (char *)buf;
	return len;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

/* ---- YAML document navigation ---- */

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = map_get(doc, map, key);

	return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}

/* The `inner` mapping of the entry named `name` in a list like clusters: [{name:, cluster: {}}]. */
static yaml_node_t *named_entry(yaml_document_t *doc, yaml_node_t *root, const char *list,
				const char *name, const char *inner)
{
	yaml_node_t *seq = map_get(doc, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(doc, *it);
		const char *n = map_str(doc, e, "name");

		if (n && strcmp(n, name) == 0)
			return map_get(doc, e, inner);
	}
	return NULL;
}

/* Relative file paths in a kubeconfig are relative to the kubeconfig's directory. */
static char *resolve_path(const char *kubeconfig, const char *p)
{
	char *out;
	const char *slash;

	if (!p)
		return NULL;
	if (p[0] == '/' || !(slash = strrchr(kubeconfig, '/')))
		return strdup(p);
	if (asprintf(&out, "%.*s/%s", (int)(slash - kubeconfig), kubeconfig, p) < 0)
		return NULL;
	return out;
}

static int decode_field(const char *b64, char **out, size_t *len)
{
	long n;

	if (!b64)
		return 0;
	n = kube_base64_decode(b64, out);
	if (n < 0)
		return (int)n;
	*len = (size_t)n;
	return 0;
}

static bool is_true(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "yes") == 0);
}

int kube_config_from_kubeconfig(const char *path, struct kube_config **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f = fopen(path, "rb");
	struct kube_config *cfg = NULL;
	int err = 0;

	if (!f)
		return -errno;
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		fclose(f);
		return -EINVAL;
	}

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	const char *ctx_name = map_str(&doc, root, "current-context");
	yaml_node_t *ctx = named_entry(&doc, root, "contexts", ctx_name, "context");
	yaml_node_t *cluster = named_entry(&doc, root, "clusters", map_str(&doc, ctx, "cluster"), "cluster");
	yaml_node_t *user = named_entry(&doc, root, "users", map_str(&doc, ctx, "user"), "user");
	const char *server = map_str(&doc, cluster, "server");

	if (!server) {
		err = -EINVAL;
		goto out;
	}
	cfg = config_alloc();
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	cfg->server = strdup(server);
	if (cfg->server[0] && cfg->server[strlen(cfg->server) - 1] == '/')
		cfg->server[strlen(cfg->server) - 1] = '\0';
	cfg->insecure = is_true(map_str(&doc, cluster, "insecure-skip-tls-verify"));
	cfg->ca_file = resolve_path(path, map_str(&doc, cluster, "certificate-authority"));
	cfg->client_cert_file = resolve_path(path, map_str(&doc, user, "client-certificate"));
	cfg->client_key_file = resolve_path(path, map_str(&doc, user, "client-key"));
	cfg->token_file = resolve_path(path, map_str(&doc, user, "tokenFile"));
	if (map_str(&doc, user, "token"))
		cfg->token = strdup(map_str(&doc, user, "token"));
	if (map_str(&doc, ctx, "namespace"))
		cfg->namespace = strdup(map_str(&doc, ctx, "namespace"));
	err = decode_field(map_str(&doc, cluster, "certificate-authority-data"), &cfg->ca_data, &cfg->ca_data_len);
	if (!err)
		err = decode_field(map_str(&doc, user, "client-certificate-data"), &cfg->client_cert_data,
				   &cfg->client_cert_data_len);
	if (!err)
		err = decode_field(map_str(&doc, user, "client-key-data"), &cfg->client_key_data,
				   &cfg->client_key_data_len);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (err) {
		kube_config_free(cfg);
		return err;
	}
	*out = cfg;
	return 0;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config **out)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config *cfg;
	char *ns = NULL;
	char *path;
	int err;

	if (!host || !*host || !port || !*port)
		return -ENOENT;
	if (!sa_dir)
		sa_dir = SA_DIR;
	cfg = config_alloc();
	if (!cfg)
		return -ENOMEM;
	/* IPv6 service hosts need brackets in a URL. */
	if (asprintf(&cfg->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0 ||
	    asprintf(&cfg->token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&cfg->ca_file, "%s/ca.crt", sa_dir) < 0) {
		kube_config_free(cfg);
		return -ENOMEM;
	}
	if (asprintf(&path, "%s/namespace", sa_dir) >= 0) {
		if (read_file(path, &ns, NULL) == 0) {
			ns[strcspn(ns, "\r\n")] = '\0';
			cfg->namespace = ns;
		}
		free(path);
	}
	err = access(cfg->token_file, R_OK) == 0 ? 0 : -errno;
	if (err) {
		kube_config_free(cfg);
		return err;
	}
	*out = cfg;
	return 0;
}

int kube_config_load(const char *explicit_path, struct kube_config **out)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char *path;
	int err;

	if (explicit_path && *explicit_path)
		return kube_config_from_kubeconfig(explicit_path, out);
	if (env && *env) {
		char *list = strdup(env), *save = NULL;

		if (!list)
			return -ENOMEM;
		for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			if (access(p, R_OK) == 0) {
				err = kube_config_from_kubeconfig(p, out);
				free(list);
				return err;
			}
		}
		free(list);
	}
	err = kube_config_in_cluster(NULL, out);
	if (err != -ENOENT)
		return err;
	if (!home || asprintf(&path, "%s/.kube/config", home) < 0)
		return -ENOENT;
	err = access(path, R_OK) == 0 ? kube_config_from_kubeconfig(path, out) : -ENOENT;
	free(path);
	return err;
}

int kube_config_token(struct kube_config *cfg, char **out)
{
	struct stat st;
	int err = 0;

	*out = NULL;
	pthread_mutex_lock(&cfg->token_lock);
	if (cfg->token_file && stat(cfg->token_file, &st) == 0 &&
	    (st.st_mtim.tv_sec != cfg->token_mtime.tv_sec || st.st_mtim.tv_nsec != cfg->token_mtime.tv_nsec ||
	     st.st_size != cfg->token_size || !cfg->token)) {
		char *tok;

		err = read_file(cfg->token_file, &tok, NULL);
		if (!err) {
			tok[strcspn(tok, "\r\n")] = '\0';
			free(cfg->token);
			cfg->token = tok;
			cfg->token_mtime = st.st_mtim;
			cfg->token_size = st.st_size;
		}
	}
	if (cfg->token) {
		err = 0; /* a failed re-read keeps the last good token */
		if (!(*out = strdup(cfg->token)))
			err = -ENOMEM;
	}
	pthread_mutex_unlock(&cfg->token_lock);
	return err;
}
