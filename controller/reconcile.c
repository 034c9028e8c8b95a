/* The ConfigMap reconciler: compute desired ConfigMaps from the pod and CR caches, diff them by
 * fingerprint against the owned-ConfigMap cache, create/update/delete the difference, write
 * status (only when it changed) and an Event on failure. */
#include "controller/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "controller/configmap_content.h"
#include "controller/events.h"
#include "controller/pod_policy.h"
#include "controller/policy_status.h"
#include "controller/status.h"
#include "controller/strmap.h"
#include "controller/write_backoff.h"

struct existing_configmap {
	char name[CONFIGMAP_NAME_MAX + 1];
	uint64_t fingerprint;
	bool made_by_pcmc;          /* else someone else's: never written nor deleted */
	bool wanted;
};

struct plan {
	const char *namespace, *name;
	bool cr_exists;
	char *cr_uid;
	long long generation;
	unsigned ignored;           /* enum ignored_setting bits */
	cJSON *status;
	char selector_error[160];
	struct desired_configmap *desired;
	size_t ndesired, desired_cap;
	struct existing_configmap *existing;
	size_t nexisting, existing_cap;
	int err;
};

#define MESSAGE_MAX 1024
#define WRITE_BACKOFF_BASE_MS 1000
#define WRITE_BACKOFF_MAX_MS  60000

enum write_failure { WRITE_FAILED, WRITE_NAME_TAKEN };

struct counts {
	int created, updated, deleted, failed, taken;
	int first_err;
	char first_error[MESSAGE_MAX];   /* the first failed write, whole */
	char first_taken[MESSAGE_MAX];   /* the first name someone else's ConfigMap holds, whole */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ms(void)
{
	return (uint64_t)(now_s() * 1000.0);
}

struct desire_ctx {
	struct plan *plan;
	struct object_cache *pcmcs;
	struct pod_policy_cache *policies;
	const struct pcmc *pcmc;
};

static int desire_pod(void *ud, const void *obj)
{
	struct desire_ctx *d = ud;
	const struct pod *pod = obj;
	struct plan *p = d->plan;
	const struct pod_policy_result *res;
	int err;

	if (!label_selector_matches(d->pcmc->selector, &pod->labels))
		return 0;
	if (p->ndesired == p->desired_cap) {
		size_t cap = p->desired_cap ? p->desired_cap * 2 : 8;
		struct desired_configmap *n = realloc(p->desired, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->desired = n;
		p->desired_cap = cap;
	}
	/* What the pod gets from every CR selecting it on its node (the pcmcs and pods locks are held),
	 * for the effective keys: the merge the push and the status use (pod_policy_cache). */
	res = pod_policy_cache_get_locked(d->policies, d->pcmcs, pod);
	if (!res)
		return -ENOMEM;
	err = configmap_desired(pod, d->pcmc, &res->pp, &p->desired[p->ndesired]);
	pod_policy_result_put(d->policies, res);
	if (err)
		return -ENOMEM;
	p->ndesired++;
	return 0;
}

static int collect_existing(void *ud, const void *obj)
{
	struct plan *p = ud;
	const struct owned_configmap *cm = obj;

	if (strcmp(cm->pcmc_name, p->name) != 0)
		return 0;
	if (p->nexisting == p->existing_cap) {
		size_t cap = p->existing_cap ? p->existing_cap * 2 : 8;
		struct existing_configmap *n = realloc(p->existing, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->existing = n;
		p->existing_cap = cap;
	}
	snprintf(p->existing[p->nexisting].name, CONFIGMAP_NAME_MAX + 1, "%s", cm->meta.name);
	p->existing[p->nexisting].fingerprint = cm->fingerprint;
	p->existing[p->nexisting].made_by_pcmc = cm->made_by_pcmc;
	p->existing[p->nexisting].wanted = false;
	p->nexisting++;
	return 0;
}

/* Reads everything the reconcile needs from the caches; lock order pcmcs -> pods -> configmaps. */
static int plan_build(struct reconciler *r, struct plan *p)
{
	const struct pcmc *pcmc;
	int err = 0;

	object_cache_read_lock(r->pcmcs);
	pcmc = object_cache_get_locked(r->pcmcs, p->namespace, p->name);
	if (pcmc) {
		p->cr_exists = true;
		p->cr_uid = pcmc->meta.uid ? strdup(pcmc->meta.uid) : NULL;
		p->generation = pcmc->generation;
		p->ignored = pcmc->ebpf.ignored;
		p->status = pcmc_status(pcmc);
		snprintf(p->selector_error, sizeof(p->selector_error), "%s", pcmc->selector_error);
		if (!pcmc->selector_error[0]) {
			struct desire_ctx d = { p, r->pcmcs, r->policies, pcmc };

			object_cache_read_lock(r->pods);
			err = object_cache_each_locked(r->pods, p->namespace, desire_pod, &d);
			object_cache_unlock(r->pods);
		}
	}
	object_cache_unlock(r->pcmcs);
	if (err)
		return err;
	object_cache_read_lock(r->configmaps);
	err = object_cache_each_locked(r->configmaps, p->namespace, collect_existing, p);
	object_cache_unlock(r->configmaps);
	return err;
}

static void plan_clear(struct plan *p)
{
	for (size_t i = 0; i < p->ndesired; i++)
		desired_configmap_clear(&p->desired[i]);
	free(p->desired);
	free(p->existing);
	free(p->cr_uid);
	cJSON_Delete(p->status);
}

/* The API server's Status.message without kube_client's "<METHOD> <path>: " prefix; when
 * kube_client had to cut it, cut back to the last whole clause and say so. */
static void api_message(const struct kube_error *kerr, int err, char *out, size_t len)
{
	const char *m = kerr && kerr->message[0] ? kerr->message : log_strerror(err);
	const char *colon = kerr && kerr->message[0] ? strstr(m, ": ") : NULL;
	size_t n;

	if (colon && strncmp(m, "GET ", 4) != 0 && colon[2])
		m = colon + 2;
	snprintf(out, len, "%s", m);
	if (!kerr || strlen(kerr->message) < sizeof(kerr->message) - 1)
		return;
	for (n = strlen(out); n > 0; n--)
		if ((out[n - 1] == ';' || out[n - 1] == ',' || out[n - 1] == '.') && out[n] == ' ')
			break;
	snprintf(out + (n ? n - 1 : 0), len - (n ? n - 1 : 0), " (the rest of the API server's message was cut)");
}

static void note_failure(struct reconciler *r, struct counts *c, enum configmap_op op, int err,
			 const struct kube_error *kerr, const char *pcmc, const char *namespace, const char *cm,
			 uint64_t fingerprint)
{
	char detail[600], object[400];

	controller_metrics_configmap_op(r->metrics, op, false);
	c->failed++;
	api_message(kerr, err, detail, sizeof(detail));
	snprintf(object, sizeof(object), "%s/%s", namespace, cm);
	if (!c->first_err) {
		c->first_err = err;
		snprintf(c->first_error, sizeof(c->first_error), "%s ConfigMap %s failed: %s", configmap_op_name(op),
			 object, detail);
	}
	if (r->write_backoff)
		write_backoff_failed(r->write_backoff, object, fingerprint, now_ms(), WRITE_FAILED,
				     c->first_err == err ? c->first_error : detail);
	if (kerr)
		log_warn("configmap write failed", LOG_PCMC(namespace, pcmc), LOG_STR("configmap", cm),
			 LOG_STR("operation", configmap_op_name(op)), LOG_KUBE_ERROR(*kerr));
	else
		log_warn("configmap write failed", LOG_PCMC(namespace, pcmc), LOG_STR("configmap", cm),
			 LOG_STR("operation", configmap_op_name(op)), LOG_ERRNO(err));
}

/* Someone else's ConfigMap holds the name pcmc would write: left alone, reported on the CR. Found
 * by a create (`retry_later`), it is tried again with backoff; found in the cache, it costs nothing
 * and its deletion is an event. */
static void note_taken(struct reconciler *r, struct counts *c, const char *namespace, const struct desired_configmap *d,
		       const char *pcmc, bool retry_later)
{
	char object[400];

	snprintf(object, sizeof(object), "%s/%s", namespace, d->name);
	if (!c->taken++)
		snprintf(c->first_taken, sizeof(c->first_taken),
			 "ConfigMap %s exists and was not made by pcmc (it lacks pcmc's owner reference to pod %s or "
			 "the %s annotation), so pcmc leaves it as it is; delete or rename it and pcmc writes its own",
			 object, d->pod_name, ANNOTATION_PCMC_NAME);
	if (r->write_backoff && retry_later)
		write_backoff_failed(r->write_backoff, object, d->fingerprint, now_ms(), WRITE_NAME_TAKEN, c->first_taken);
	if (retry_later)
		log_warn("configmap name taken", LOG_PCMC(namespace, pcmc), LOG_STR("configmap", d->name));
}

static int write_configmap(struct reconciler *r, const char *namespace, const struct desired_configmap *d,
			   bool exists, struct kube_error *kerr)
{
	char path[1024], collection[400];
	cJSON *body;
	int err;

	if (!leader_election_is_leader(r->election))
		return RECONCILE_ENOTLEADER;
	body = configmap_body(d, namespace);
	if (!body)
		return -ENOMEM;
	snprintf(collection, sizeof(collection), "/api/v1/namespaces/%s/configmaps", namespace);
	snprintf(path, sizeof(path), "%s/%s", collection, d->name);
	if (exists) {
		err = kube_request(r->client, "PUT", path, body, NULL, NULL, kerr);
		if (err == KUBE_ENOTFOUND)
			exists = false;
	}
	if (!exists) {
		err = kube_request(r->client, "POST", collection, body, NULL, NULL, kerr);
		if (err == KUBE_EEXIST) {
			/* The cache had not seen it yet: replace it, but only if it is ours. */
			cJSON *cur = NULL;

			err = kube_request(r->client, "GET", path, NULL, NULL, &cur, kerr);
			if (!err) {
				const char *label = cJSON_GetStringValue(cJSON_GetObjectItem(
					cJSON_GetObjectItem(cJSON_GetObjectItem(cur, "metadata"), "labels"),
					LABEL_GENERATED_BY));

				if (configmap_made_by_pcmc(cur) && label && strcmp(label, d->pcmc_label) == 0)
					err = leader_election_is_leader(r->election) ?
						kube_request(r->client, "PUT", path, body, NULL, NULL, kerr) :
						RECONCILE_ENOTLEADER;
				else
					err = RECONCILE_ENAMETAKEN;
			}
			cJSON_Delete(cur);
		}
	}
	cJSON_Delete(body);
	return err;
}

static int delete_configmap(struct reconciler *r, const char *namespace, const char *name,
			    struct kube_error *kerr)
{
	char path[1024];
	int err;

	if (!leader_election_is_leader(r->election))
		return RECONCILE_ENOTLEADER;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", namespace, name);
	err = kube_request(r->client, "DELETE", path, NULL, NULL, NULL, kerr);
	return err == KUBE_ENOTFOUND ? 0 : err;
}

/* False when the object may be written now; else it is counted as it failed last time. */
static bool backing_off(struct reconciler *r, struct counts *c, const char *namespace, const char *name,
			uint64_t fingerprint)
{
	char object[400], last[MESSAGE_MAX];
	int kind;

	snprintf(object, sizeof(object), "%s/%s", namespace, name);
	if (!r->write_backoff ||
	    write_backoff_check(r->write_backoff, object, fingerprint, now_ms(), &kind, last, sizeof(last)) == 0)
		return false;
	if (kind == WRITE_NAME_TAKEN) {
		if (!c->taken++)
			snprintf(c->first_taken, sizeof(c->first_taken), "%s", last);
	} else {
		c->failed++;
		if (!c->first_err) {
			c->first_err = -EAGAIN;
			snprintf(c->first_error, sizeof(c->first_error), "%s", last);
		}
	}
	return true;
}

static void note_written(struct reconciler *r, const char *namespace, const char *name)
{
	char object[400];

	if (!r->write_backoff)
		return;
	snprintf(object, sizeof(object), "%s/%s", namespace, name);
	write_backoff_succeeded(r->write_backoff, object);
}

static int sync_configmaps(struct reconciler *r, struct plan *p, struct counts *c)
{
	struct strmap *by_name = strmap_new();
	struct kube_error kerr;
	int err = 0;

	if (!by_name)
		return -ENOMEM;
	for (size_t i = 0; i < p->nexisting; i++)
		strmap_put(by_name, p->existing[i].name, &p->existing[i], &err);
	for (size_t i = 0; i < p->ndesired; i++) {
		const struct desired_configmap *d = &p->desired[i];
		struct existing_configmap *e = strmap_get(by_name, d->name);
		enum configmap_op op = e ? CONFIGMAP_UPDATE : CONFIGMAP_CREATE;

		if (e) {
			e->wanted = true;
			if (!e->made_by_pcmc) {
				note_taken(r, c, p->namespace, d, p->name, false);
				continue;
			}
			if (e->fingerprint == d->fingerprint)
				continue;
		}
		if (backing_off(r, c, p->namespace, d->name, d->fingerprint))
			continue;
		err = write_configmap(r, p->namespace, d, e != NULL, &kerr);
		if (err == RECONCILE_ENOTLEADER)
			goto out;
		if (err == RECONCILE_ENAMETAKEN) {
			note_taken(r, c, p->namespace, d, p->name, true);
			continue;
		}
		if (err) {
			note_failure(r, c, op, err, &kerr, p->name, p->namespace, d->name, d->fingerprint);
			continue;
		}
		note_written(r, p->namespace, d->name);
		controller_metrics_configmap_op(r->metrics, op, true);
		if (e)
			c->updated++;
		else
			c->created++;
	}
	for (size_t i = 0; i < p->nexisting; i++) {
		if (p->existing[i].wanted || !p->existing[i].made_by_pcmc)
			continue;
		if (backing_off(r, c, p->namespace, p->existing[i].name, 0))
			continue;
		err = delete_configmap(r, p->namespace, p->existing[i].name, &kerr);
		if (err == RECONCILE_ENOTLEADER)
			goto out;
		if (err) {
			note_failure(r, c, CONFIGMAP_DELETE, err, &kerr, p->name, p->namespace, p->existing[i].name, 0);
			continue;
		}
		note_written(r, p->namespace, p->existing[i].name);
		controller_metrics_configmap_op(r->metrics, CONFIGMAP_DELETE, true);
		c->deleted++;
	}
	err = 0;
out:
	strmap_free(by_name, NULL);
	return err;
}

/* One Event per condition that changed status or reason, for the changes a user cares about. */
static void record_condition_events(struct reconciler *r, const struct plan *p, const cJSON *st)
{
	struct condition_change changes[CONDITION_CHANGES_MAX];
	size_t n = condition_changes(p->status, st, changes);
	struct event_target t = { p->namespace, p->name, p->cr_uid };

	for (size_t i = 0; i < n && leader_election_is_leader(r->election); i++) {
		const char *type = condition_change_event_type(&changes[i]);
		int err;

		if (!type)
			continue;
		err = event_record(r->client, &t, type, changes[i].reason, changes[i].message ? changes[i].message : "",
				   r->identity);
		if (err)
			log_warn("event write failed", LOG_PCMC(p->namespace, p->name), LOG_ERRNO(err));
	}
}

static int write_status(struct reconciler *r, struct plan *p, const struct counts *c)
{
	struct status_outcome o = { .generation = p->generation, .matched_pods = (int)p->ndesired,
				    .ignored = p->ignored };
	struct policy_enforcement pe = { 0 };
	char message[MESSAGE_MAX + 400], now[32], path[1024];
	struct kube_error kerr;
	bool changed;
	cJSON *st, *patch;
	int err;

	if (p->selector_error[0]) {
		o.ready = false;
		o.reason = "InvalidSelector";
		o.message = p->selector_error;
	} else if (c->taken) {
		o.ready = false;
		o.reason = "ConfigMapNameTaken";
		if (c->taken > 1)
			snprintf(message, sizeof(message), "%s (and %d more ConfigMap%s like it)", c->first_taken,
				 c->taken - 1, c->taken > 2 ? "s" : "");
		o.message = c->taken > 1 ? message : c->first_taken;
	} else if (c->failed) {
		o.ready = false;
		o.reason = "ConfigMapWriteFailed";
		if (c->failed > 1)
			snprintf(message, sizeof(message), "%s (and %d more failed write%s)", c->first_error, c->failed - 1,
				 c->failed > 2 ? "s" : "");
		o.message = c->failed > 1 ? message : c->first_error;
	} else {
		o.ready = true;
		o.reason = "ConfigMapsSynced";
		snprintf(message, sizeof(message), "%zu matching pods have their ConfigMap", p->ndesired);
		o.message = message;
	}
	if (r->push && policy_enforcement_compute(r->push, r->policies, r->pcmcs, r->pods, p->namespace, p->name, &pe))
		return -ENOMEM;
	if (pe.unknown) {
		/* A new leader has not heard from some node's agent yet: the status stays as the last
		 * leader wrote it (the agent's first answer re-enqueues this CR). */
		policy_enforcement_clear(&pe);
		return 0;
	}
	if (r->push && o.ready && (pe.failed || pe.pending)) {
		o.ready = false;
		o.reason = pe.failed ? "PolicyFailed" : "PolicyPending";
		snprintf(message, sizeof(message), "%d of %d selected running pods enforced; %s", pe.attached, pe.wanted,
			 pe.problem);
		o.message = message;
	} else if (r->push && o.ready && pe.wanted) {
		snprintf(message, sizeof(message), "%zu matching pods have their ConfigMap; %d running pods enforced",
			 p->ndesired, pe.attached);
	}
	status_format_time(now, time(NULL));
	st = status_desired(p->status, &o, now, &changed);
	if (st && r->push)
		changed |= policy_enforcement_apply(st, &pe, p->generation, now);
	policy_enforcement_clear(&pe);
	if (!st)
		return -ENOMEM;
	if (!changed) {
		cJSON_Delete(st);
		return 0;
	}
	if (!leader_election_is_leader(r->election)) {
		cJSON_Delete(st);
		return RECONCILE_ENOTLEADER;
	}
	patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", st);
	snprintf(path, sizeof(path), "/apis/%s/%s/namespaces/%s/%s/%s/status", PCMC_GROUP, PCMC_VERSION,
		 p->namespace, PCMC_PLURAL, p->name);
	err = kube_request(r->client, "PATCH", path, patch, "application/merge-patch+json", NULL, &kerr);
	if (err == KUBE_ENOTFOUND)
		err = 0; /* deleted meanwhile: its delete event cleans up */
	else if (err)
		log_warn("status write failed", LOG_PCMC(p->namespace, p->name), LOG_KUBE_ERROR(kerr));
	else
		record_condition_events(r, p, st);
	cJSON_Delete(patch);
	return err;
}

int reconciler_init(struct reconciler *r)
{
	r->write_backoff = write_backoff_new(WRITE_BACKOFF_BASE_MS, WRITE_BACKOFF_MAX_MS);
	return r->write_backoff ? 0 : -ENOMEM;
}

void reconciler_clear(struct reconciler *r)
{
	write_backoff_free(r->write_backoff);
	r->write_backoff = NULL;
}

int reconcile(struct reconciler *r, const char *key)
{
	char ns[256], name[256];
	const char *slash = strchr(key, '/');
	struct plan p = { 0 };
	struct counts c = { 0 };
	double started = now_s(), seconds;
	const char *result;
	int err;

	if (!slash || slash - key >= (long)sizeof(ns) || strlen(slash + 1) >= sizeof(name))
		return -EINVAL;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
	snprintf(name, sizeof(name), "%s", slash + 1);
	p.namespace = ns;
	p.name = name;

	err = plan_build(r, &p);
	/* An invalid selector says nothing about which pods match: leave their ConfigMaps alone. */
	if (!err && !(p.cr_exists && p.selector_error[0]))
		err = sync_configmaps(r, &p, &c);
	if (!err && p.cr_exists)
		err = write_status(r, &p, &c);
	if (!err && c.first_err)
		err = c.first_err;
	if (!err && c.taken)
		err = RECONCILE_ENAMETAKEN; /* retried with backoff until the name is free */

	seconds = now_s() - started;
	result = !err ? "success" : err == RECONCILE_ENOTLEADER ? "not-leader" : "error";
	if (err != RECONCILE_ENOTLEADER)
		controller_metrics_observe_reconcile(r->metrics, seconds, err);
	log_info("reconciled", LOG_PCMC(ns, name), LOG_INT("generation", p.generation),
		 LOG_STR("action", p.cr_exists ? "sync" : "cleanup"), LOG_STR("result", result),
		 LOG_INT("matched", p.ndesired), LOG_INT("created", c.created), LOG_INT("updated", c.updated),
		 LOG_INT("deleted", c.deleted), LOG_INT("failed", c.failed), LOG_DURATION_MS(seconds * 1000.0));
	plan_clear(&p);
	return err;
}
