/* Where the Kubernetes API server is and how to authenticate to it: a kubeconfig file (current
 * context) or the in-cluster service account. Shared by the controller and the agent. */
#ifndef PCMC_COMMON_KUBE_CONFIG_H
#define PCMC_COMMON_KUBE_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct kube_config {
	char *server;           /* "https://host:port", no trailing slash */
	char *ca_file;          /* PEM file to verify the server, or NULL */
	char *ca_data;          /* PEM bytes (decoded certificate-authority-data), or NULL */
	size_t ca_data_len;
	bool insecure;          /* insecure-skip-tls-verify */
	char *client_cert_file, *client_key_file;
	char *client_cert_data, *client_key_data; /* PEM bytes, or NULL */
	size_t client_cert_data_len, client_key_data_len;
	char *namespace;        /* context namespace / pod namespace, or NULL */

	/* Bearer token: a fixed string, or a file re-read whenever it changes (service-account rotation). */
	pthread_mutex_t token_lock;
	char *token;
	char *token_file;
	struct timespec token_mtime;
	off_t token_size;
};

/* Loads the configuration the way kubectl finds it: `explicit_path` (--kubeconfig) if given, else
 * $KUBECONFIG (first existing file of a colon list), else in-cluster (KUBERNETES_SERVICE_HOST),
 * else ~/.kube/config. Returns 0 or -errno (-ENOENT: nothing found, -EINVAL: malformed). */
int kube_config_load(const char *explicit_path, struct kube_config **out);
/* Parses one kubeconfig file and uses its current-context. */
int kube_config_from_kubeconfig(const char *path, struct kube_config **out);
/* Service-account token and CA under `sa_dir` (NULL: /var/run/secrets/kubernetes.io/serviceaccount),
 * server from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT. */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **out);
void kube_config_free(struct kube_config *cfg);

/* Copies the current bearer token into a freshly allocated string (*out NULL when there is none);
 * re-reads the token file when its mtime or size changed. Returns 0 or -errno. */
int kube_config_token(struct kube_config *cfg, char **out);

/* Decodes standard base64 (whitespace ignored). Returns the decoded length or -EINVAL; *out is
 * NUL-terminated and owned by the caller. */
long kube_base64_decode(const char *in, char **out);

#endif
