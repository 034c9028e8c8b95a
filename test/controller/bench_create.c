/* Bulk object creation for the controller benchmarks: reads one JSON object per line and POSTs
 * each to its collection with N threads over the REST client (kubectl spends ~25 ms of CPU per
 * object; 150,000 objects would take hours). An object with a "status" gets it written through
 * the status subresource after the create (a pod's phase, IP and container statuses: no kubelet
 * runs these pods). Usage: bench_create THREADS < objects.ndjson */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kube_client.h"

struct job {
	struct kube_client *client;
	char **lines;
	size_t n, next;
	pthread_mutex_t lock;
	int failed;
};

/* /api/v1/namespaces/NS/pods, /apis/GROUP/VERSION/namespaces/NS/<plural>, or cluster-scoped. */
static void collection_path(const cJSON *obj, char *path, size_t size)
{
	const char *api = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "apiVersion"));
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind"));
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "namespace"));
	char plural[64];
	size_t i;

	for (i = 0; kind && kind[i] && i < sizeof(plural) - 2; i++)
		plural[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a' : kind[i]);
	plural[i++] = 's';
	plural[i] = '\0';
	snprintf(path, size, "%s%s%s%s/%s", strchr(api ? api : "v1", '/') ? "/apis/" : "/api/", api ? api : "v1",
		 ns ? "/namespaces/" : "", ns ? ns : "", plural);
}

/* The create ignores "status": a merge patch of the status subresource sets it. */
static int write_status(struct kube_client *client, const cJSON *obj, const char *collection, struct kube_error *e)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name"));
	cJSON *patch = cJSON_CreateObject();
	char path[800];
	int err;

	if (!patch || !name) {
		cJSON_Delete(patch);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s/status", collection, name);
	cJSON_AddItemToObject(patch, "status", cJSON_Duplicate(cJSON_GetObjectItem(obj, "status"), 1));
	err = kube_request(client, "PATCH", path, patch, "application/merge-patch+json", NULL, e);
	cJSON_Delete(patch);
	return err;
}

static void *create_run(void *arg)
{
	struct job *j = arg;

	for (;;) {
		struct kube_error e;
		char path[512];
		size_t i;
		cJSON *obj;
		int err;

		pthread_mutex_lock(&j->lock);
		i = j->next++;
		pthread_mutex_unlock(&j->lock);
		if (i >= j->n)
			return NULL;
		obj = cJSON_Parse(j->lines[i]);
		if (!obj) {
			fprintf(stderr, "bench_create: line %zu is not JSON\n", i + 1);
			j->failed = 1;
			continue;
		}
		collection_path(obj, path, sizeof(path));
		err = kube_request(j->client, "POST", path, obj, NULL, NULL, &e);
		if (err && err != KUBE_EEXIST) {
			fprintf(stderr, "bench_create: %s (%s)\n", e.message, e.reason);
			j->failed = 1;
		} else if (cJSON_GetObjectItem(obj, "status")) {
			err = write_status(j->client, obj, path, &e);
			if (err) {
				fprintf(stderr, "bench_create: %s (%s)\n", e.message, e.reason);
				j->failed = 1;
			}
		}
		cJSON_Delete(obj);
	}
}

int main(int argc, char **argv)
{
	struct job j = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct kube_config *cfg;
	int threads = argc > 1 ? atoi(argv[1]) : 8;
	size_t cap = 0, len = 0;
	char *line = NULL;
	ssize_t got;
	pthread_t t[64];
	int err;

	if (threads < 1 || threads > 64)
		threads = 8;
	while ((got = getline(&line, &len, stdin)) > 0) {
		if (j.n == cap) {
			char **n = realloc(j.lines, (cap = cap ? cap * 2 : 1024) * sizeof(*n));

			if (!n)
				return 1;
			j.lines = n;
		}
		j.lines[j.n++] = strdup(line);
	}
	free(line);
	err = kube_config_load(NULL, &cfg);
	if (!err)
		err = kube_client_new(cfg, &j.client);
	if (err) {
		fprintf(stderr, "bench_create: no cluster configuration: %s\n", strerror(-err));
		return 1;
	}
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, create_run, &j);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < j.n; i++)
		free(j.lines[i]);
	free(j.lines);
	kube_client_free(j.client);
	kube_config_free(cfg);
	return j.failed;
}
