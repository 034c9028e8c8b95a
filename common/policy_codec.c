/* Encoders and strict decoders of the policy API's documents over json_writer/json_reader. Each
 * document's fields are listed once, in its read_* function; the writers emit the same names. */
#include "common/policy_codec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/syscall_table.h"

#define ERROR_TEXT_MAX 4096 /* a pod's error message (GET) */
#define PATH_TEXT_MAX  512

/* --- the policy object ---------------------------------------------------------------------- */

void ebpf_config_write(struct json_writer *w, const struct ebpf_config *c, unsigned flags)
{
	bool all = flags & POLICY_WRITE_DEFAULTS;
	char interval[32];

	jw_object_begin(w);
	if (all || c->syscall_monitoring.enabled || c->syscall_monitoring.names.n) {
		jw_key(w, "syscallMonitoring");
		jw_object_begin(w);
		if (all || c->syscall_monitoring.enabled)
			jw_key_bool(w, "enabled", c->syscall_monitoring.enabled);
		if (all || c->syscall_monitoring.names.n) {
			jw_key(w, "syscallNames");
			jw_array_begin(w);
			for (size_t i = 0; i < c->syscall_monitoring.names.n; i++)
				jw_string(w, c->syscall_monitoring.names.names[i]);
			jw_array_end(w);
		}
		jw_object_end(w);
	}
	if (all || c->l4_firewall.enabled || c->l4_firewall.allowed.n || c->l4_firewall.blocked.n ||
	    c->l4_firewall.default_block) {
		const struct port_set *lists[2] = { &c->l4_firewall.allowed, &c->l4_firewall.blocked };
		static const char *const keys[2] = { "allowedPorts", "blockedPorts" };

		jw_key(w, "l4Firewall");
		jw_object_begin(w);
		if (all || c->l4_firewall.enabled)
			jw_key_bool(w, "enabled", c->l4_firewall.enabled);
		for (int l = 0; l < 2; l++) {
			if (!all && !lists[l]->n)
				continue;
			jw_key(w, keys[l]);
			jw_array_begin(w);
			for (size_t i = 0; i < lists[l]->n; i++)
				jw_int(w, lists[l]->ports[i]);
			jw_array_end(w);
		}
		if (all || c->l4_firewall.default_block)
			jw_key_string(w, "defaultAction", c->l4_firewall.default_block ? "block" : "allow");
		jw_object_end(w);
	}
	if (all || c->metrics_export.enabled || c->metrics_export.update_interval_ns != POLICY_INTERVAL_DEFAULT_NS) {
		jw_key(w, "metricsExport");
		jw_object_begin(w);
		if (all || c->metrics_export.enabled)
			jw_key_bool(w, "enabled", c->metrics_export.enabled);
		if (all || c->metrics_export.update_interval_ns != POLICY_INTERVAL_DEFAULT_NS) {
			duration_format(c->metrics_export.update_interval_ns, interval, sizeof(interval));
			jw_key_string(w, "updateInterval", interval);
		}
		jw_object_end(w);
	}
	jw_object_end(w);
}

/* A pod refused on this node: the first reason and where. */
struct refusal {
	char *message;
	char *path;
};

static void refusal_clear(struct refusal *f)
{
	free(f->message);
	free(f->path);
	f->message = f->path = NULL;
}

/* Each known member at most once: returns its index in names, or fails. */
static int member_index(struct json_reader *r, const char *const *names, unsigned *seen)
{
	for (int i = 0; names[i]; i++) {
		if (strcmp(r->key, names[i]))
			continue;
		if (*seen & (1u << i))
			return jr_fail(r, "duplicate field");
		*seen |= 1u << i;
		return i;
	}
	return jr_fail(r, "unknown field");
}

static int read_syscalls(struct json_reader *r, struct ebpf_config *c, const char *arch, struct refusal *f)
{
	static const char *const fields[] = { "enabled", "syscallNames", NULL };
	unsigned seen = 0;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		if (m == 0 && (e = jr_bool(r, &c->syscall_monitoring.enabled)))
			return e;
		if (m != 1)
			continue;
		if ((e = jr_array_begin(r)))
			return e;
		while ((e = jr_array_next(r)) == 1) {
			char name[POLICY_SYSCALL_NAME_MAX + 1];

			if (jr_index(r) >= POLICY_MAX_SYSCALL_NAMES)
				return jr_fail(r, "more than %d syscall names", POLICY_MAX_SYSCALL_NAMES);
			if ((e = jr_string_buf(r, name, sizeof(name))))
				return e;
			if (!syscall_name_valid(name))
				return jr_fail(r, "\"%s\" is not a syscall name ([a-z_][a-z0-9_]*)", name);
			if (syscall_names_contains(&c->syscall_monitoring.names, name))
				return jr_fail(r, "duplicate syscall name \"%s\"", name);
			if (arch && !f->message && syscall_table_number_for(arch, name) < 0) {
				if (asprintf(&f->message, "unknown syscall \"%s\" on %s", name, arch) < 0)
					f->message = NULL;
				f->path = strdup(r->path);
				if (!f->message || !f->path)
					return jr_fail(r, "out of memory");
			}
			if (syscall_names_add(&c->syscall_monitoring.names, name))
				return jr_fail(r, "out of memory");
		}
		if (e)
			return e;
	}
	return e;
}

/* A port list: the set, and the pushed order for error paths. */
static int read_ports(struct json_reader *r, struct port_set *set, uint16_t *order)
{
	int64_t port;
	int e;

	if ((e = jr_array_begin(r)))
		return e;
	while ((e = jr_array_next(r)) == 1) {
		if (jr_index(r) >= POLICY_MAX_PORTS)
			return jr_fail(r, "more than %d ports", POLICY_MAX_PORTS);
		if ((e = jr_int(r, POLICY_PORT_MIN, POLICY_PORT_MAX, &port)))
			return e;
		if (port_set_contains(set, (unsigned)port))
			return jr_fail(r, "duplicate port %lld", (long long)port);
		if (port_set_add(set, (unsigned)port))
			return jr_fail(r, "out of memory");
		order[jr_index(r)] = (uint16_t)port;
	}
	return e;
}

static int read_firewall(struct json_reader *r, struct ebpf_config *c)
{
	static const char *const fields[] = { "enabled", "allowedPorts", "blockedPorts", "defaultAction", NULL };
	uint16_t allowed_order[POLICY_MAX_PORTS], blocked_order[POLICY_MAX_PORTS];
	char action[8];
	unsigned seen = 0;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		if (m == 0)
			e = jr_bool(r, &c->l4_firewall.enabled);
		else if (m == 1)
			e = read_ports(r, &c->l4_firewall.allowed, allowed_order);
		else if (m == 2)
			e = read_ports(r, &c->l4_firewall.blocked, blocked_order);
		else if (!(e = jr_string_buf(r, action, sizeof(action))) && strcmp(action, "allow") && strcmp(action, "block"))
			e = jr_fail(r, "must be \"allow\" or \"block\"");
		else if (!e)
			c->l4_firewall.default_block = !strcmp(action, "block");
		if (e)
			return e;
	}
	if (e)
		return e;
	for (size_t i = 0; i < c->l4_firewall.blocked.n; i++)
		if (port_set_contains(&c->l4_firewall.allowed, blocked_order[i])) {
			char at[40];

			snprintf(at, sizeof(at), ".blockedPorts[%zu]", i);
			return jr_fail_at(r, at, "port %u is also in allowedPorts", blocked_order[i]);
		}
	return 0;
}

static int read_export(struct json_reader *r, struct ebpf_config *c)
{
	static const char *const fields[] = { "enabled", "updateInterval", NULL };
	char text[POLICY_DURATION_TEXT_MAX + 1];
	unsigned seen = 0;
	int64_t ns;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		if (m == 0) {
			e = jr_bool(r, &c->metrics_export.enabled);
		} else if (!(e = jr_string_buf(r, text, sizeof(text)))) {
			if (duration_parse(text, &ns))
				return jr_fail(r, "\"%s\" is not a duration like \"30s\", \"500ms\" or \"1m30s\"", text);
			if (ns < POLICY_INTERVAL_MIN_NS || ns > POLICY_INTERVAL_MAX_NS)
				return jr_fail(r, "\"%s\" is not between 1s and 1h", text);
			c->metrics_export.update_interval_ns = ns;
		}
		if (e)
			return e;
	}
	return e;
}

static int read_config(struct json_reader *r, struct ebpf_config *c, const char *arch, struct refusal *f)
{
	static const char *const fields[] = { "syscallMonitoring", "l4Firewall", "metricsExport", NULL };
	unsigned seen = 0;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		e = m == 0 ? read_syscalls(r, c, arch, f) : m == 1 ? read_firewall(r, c) : read_export(r, c);
		if (e)
			return e;
	}
	return e;
}

int ebpf_config_read(struct json_reader *r, struct ebpf_config *c)
{
	struct refusal none = { 0 };

	return read_config(r, c, NULL, &none);
}

/* --- pods, the push and the node state ---------------------------------------------------- */

/* A string member of at most max chars, each a-z, 0-9 or in `extra` (NULL: any but control chars). */
static int read_name(struct json_reader *r, size_t max, const char *extra, char **out)
{
	int e;

	free(*out);
	*out = NULL;
	if ((e = jr_string(r, max, out)))
		return e;
	if (!**out)
		return jr_fail(r, "must not be empty");
	for (const char *c = *out; *c; c++) {
		bool ok = extra ? (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr(extra, *c)
				: (unsigned char)*c >= 0x20 && *c != 0x7f;

		if (!ok)
			return jr_fail(r, "invalid character at %zu (allowed: %s)", (size_t)(c - *out),
				       extra ? extra : "no control characters");
	}
	return 0;
}

#define UID_CHARS       "-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define NAMESPACE_CHARS "-"
#define NAME_CHARS      "-."

static void pod_clear(struct policy_pod *p)
{
	free(p->uid);
	free(p->namespace);
	free(p->name);
	free(p->error);
	free(p->error_path);
	ebpf_config_clear(&p->policy);
}

/* state_doc: a GET /v1/policy pod (state, error, path), else a pushed one. */
static int read_pod(struct json_reader *r, const struct policy_decode_opts *o, bool state_doc, struct policy_pod *pod)
{
	static const char *const fields[] = { "uid", "namespace", "name", "policy", "state", "error", "path", NULL };
	struct refusal f = { 0 };
	unsigned seen = 0, present = 0;
	char state[8];
	int e, m;

	ebpf_config_init(&pod->policy);
	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0 || (m >= 4 && !state_doc)) {
			refusal_clear(&f);
			return m < 0 ? m : jr_fail(r, "unknown field");
		}
		if (jr_null(r))
			continue;
		present |= 1u << m;
		switch (m) {
		case 0: e = read_name(r, POLICY_UID_MAX, UID_CHARS, &pod->uid); break;
		case 1: e = read_name(r, POLICY_NAMESPACE_MAX, NAMESPACE_CHARS, &pod->namespace); break;
		case 2: e = read_name(r, POLICY_NAME_MAX, NAME_CHARS, &pod->name); break;
		case 3: e = read_config(r, &pod->policy, o ? o->arch : NULL, &f); break;
		case 4:
			if (!(e = jr_string_buf(r, state, sizeof(state))) && strcmp(state, "applied") && strcmp(state, "failed"))
				e = jr_fail(r, "must be \"applied\" or \"failed\"");
			else if (!e)
				pod->state = strcmp(state, "failed") ? POLICY_POD_APPLIED : POLICY_POD_FAILED;
			break;
		case 5: free(pod->error); pod->error = NULL; e = jr_string(r, ERROR_TEXT_MAX, &pod->error); break;
		default: free(pod->error_path); pod->error_path = NULL; e = jr_string(r, PATH_TEXT_MAX, &pod->error_path); break;
		}
		if (e) {
			refusal_clear(&f);
			return e;
		}
	}
	for (int i = 0; !e && i < (state_doc ? 5 : 4); i++)
		if (!(present & (1u << i))) {
			char at[16];

			snprintf(at, sizeof(at), ".%s", fields[i]);
			e = jr_fail_at(r, at, "required");
		}
	if (!e && f.message) {
		pod->state = POLICY_POD_FAILED;
		pod->error = f.message;
		pod->error_path = f.path;
		return 0;
	}
	refusal_clear(&f);
	if (!e && state_doc && pod->state == POLICY_POD_APPLIED) {
		free(pod->error);
		pod->error = NULL;
	}
	return e;
}

static int cmp_pod_uid(const void *a, const void *b)
{
	const struct policy_pod *const *x = a, *const *y = b;

	return strcmp((*x)->uid, (*y)->uid);
}

/* Every uid once: the later of two equal ones is the error. */
static int check_unique_uids(struct json_reader *r, struct policy_push *p)
{
	const struct policy_pod **by_uid;
	int e = 0;

	if (p->n_pods < 2)
		return 0;
	by_uid = malloc(p->n_pods * sizeof(*by_uid));
	if (!by_uid)
		return jr_fail(r, "out of memory");
	for (size_t i = 0; i < p->n_pods; i++)
		by_uid[i] = &p->pods[i];
	qsort(by_uid, p->n_pods, sizeof(*by_uid), cmp_pod_uid);
	for (size_t i = 1; i < p->n_pods && !e; i++)
		if (!strcmp(by_uid[i - 1]->uid, by_uid[i]->uid)) {
			size_t a = (size_t)(by_uid[i - 1] - p->pods), b = (size_t)(by_uid[i] - p->pods);
			char at[48];

			snprintf(at, sizeof(at), ".pods[%zu].uid", a > b ? a : b);
			e = jr_fail_at(r, at, "duplicate pod uid (also $.pods[%zu])", a > b ? b : a);
		}
	free(by_uid);
	return e;
}

static int read_sender(struct json_reader *r, struct policy_sender *s)
{
	static const char *const fields[] = { "identity", "epoch", NULL };
	unsigned seen = 0, present = 0;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		present |= 1u << m;
		e = m == 0 ? read_name(r, POLICY_IDENTITY_MAX, NULL, &s->identity)
			   : jr_int(r, 0, POLICY_INT_MAX, &s->epoch);
		if (e)
			return e;
	}
	if (!e && !(present & 1))
		e = jr_fail_at(r, ".identity", "required");
	if (!e && !(present & 2))
		e = jr_fail_at(r, ".epoch", "required");
	return e;
}

static int read_document(struct json_reader *r, const struct policy_decode_opts *o, bool state_doc,
			 struct policy_push *p)
{
	static const char *const fields[] = { "node", "sender", "revision", "pods", NULL };
	unsigned seen = 0, present = 0;
	int e, m;

	if ((e = jr_object_begin(r)))
		return e;
	while ((e = jr_object_next(r)) == 1) {
		if ((m = member_index(r, fields, &seen)) < 0)
			return m;
		if (jr_null(r))
			continue;
		present |= 1u << m;
		if (m == 0) {
			e = read_name(r, POLICY_NAME_MAX, NAME_CHARS, &p->node);
		} else if (m == 1) {
			p->has_sender = true;
			e = read_sender(r, &p->sender);
		} else if (m == 2) {
			e = jr_int(r, 0, POLICY_INT_MAX, &p->revision);
		} else if (!(e = jr_array_begin(r))) {
			size_t cap = 0;

			while ((e = jr_array_next(r)) == 1) {
				if (p->n_pods == POLICY_MAX_PODS)
					return jr_fail(r, "more than %d pods", POLICY_MAX_PODS);
				if ((e = jr_grow(r, (void **)&p->pods, p->n_pods, &cap, sizeof(*p->pods))) ||
				    (e = read_pod(r, o, state_doc, &p->pods[p->n_pods++])))
					return e;
			}
		}
		if (e)
			return e;
	}
	if (e)
		return e;
	for (int i = 0; i < 4; i++) {
		char at[16];

		if (present & (1u << i) || (state_doc && (i == 1 || i == 2)))
			continue;
		snprintf(at, sizeof(at), ".%s", fields[i]);
		return jr_fail_at(r, at, "required");
	}
	if (state_doc && (present & 2) != (present & 4) >> 1)
		return jr_fail(r, "sender and revision are both null or both set");
	return check_unique_uids(r, p);
}

struct document_read {
	const struct policy_decode_opts *opts;
	bool state_doc;
	struct policy_push *push;
};

static int read_document_whole(struct json_reader *r, void *obj)
{
	struct document_read *d = obj;

	return read_document(r, d->opts, d->state_doc, d->push);
}

static int decode_document(const char *text, size_t len, const struct policy_decode_opts *o, bool state_doc,
			   struct policy_push **out, struct json_error *err)
{
	struct document_read d = { .opts = o, .state_doc = state_doc, .push = calloc(1, sizeof(*d.push)) };
	int e = jr_read_document(text, len, err, d.push ? &d : NULL, read_document_whole);

	*out = NULL;
	if (e) {
		policy_push_free(d.push);
		return e;
	}
	*out = d.push;
	return 0;
}

int policy_push_decode(const char *text, size_t len, const struct policy_decode_opts *o,
		       struct policy_push **out, struct json_error *err)
{
	return decode_document(text, len, o, false, out, err);
}

int node_state_decode(const char *text, size_t len, struct policy_push **out, struct json_error *err)
{
	return decode_document(text, len, NULL, true, out, err);
}

void policy_push_free(struct policy_push *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_pods; i++)
		pod_clear(&p->pods[i]);
	free(p->pods);
	free(p->node);
	free(p->sender.identity);
	free(p);
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool policy_push_equal(const struct policy_push *a, const struct policy_push *b)
{
	if (!same_string(a->node, b->node) || a->has_sender != b->has_sender || a->revision != b->revision ||
	    a->n_pods != b->n_pods || (a->has_sender && (a->sender.epoch != b->sender.epoch ||
							 !same_string(a->sender.identity, b->sender.identity))))
		return false;
	for (size_t i = 0; i < a->n_pods; i++)
		if (!same_string(a->pods[i].uid, b->pods[i].uid) ||
		    !same_string(a->pods[i].namespace, b->pods[i].namespace) ||
		    !same_string(a->pods[i].name, b->pods[i].name) ||
		    !ebpf_config_equal(&a->pods[i].policy, &b->pods[i].policy))
			return false;
	return true;
}

long policy_push_find(const struct policy_push *p, const char *uid)
{
	for (size_t i = 0; p && i < p->n_pods; i++)
		if (!strcmp(p->pods[i].uid, uid))
			return (long)i;
	return -1;
}

static void write_header(struct json_writer *w, const char *node, const struct policy_sender *sender, int64_t revision)
{
	jw_object_begin(w);
	jw_key_string(w, "node", node);
	jw_key(w, "sender");
	if (sender) {
		jw_object_begin(w);
		jw_key_string(w, "identity", sender->identity);
		jw_key_int(w, "epoch", sender->epoch);
		jw_object_end(w);
		jw_key_int(w, "revision", revision);
	} else {
		jw_null(w);
		jw_key(w, "revision");
		jw_null(w);
	}
	jw_key(w, "pods");
	jw_array_begin(w);
}

static void write_end(struct json_writer *w)
{
	jw_array_end(w);
	jw_object_end(w);
}

void policy_push_write_begin(struct json_writer *w, const char *node, const struct policy_sender *sender,
			     int64_t revision)
{
	if (!sender) {
		w->err = w->err ?: -EINVAL;
		return;
	}
	write_header(w, node, sender, revision);
}

void policy_push_write_pod(struct json_writer *w, const char *uid, const char *namespace, const char *name,
			   const struct ebpf_config *policy)
{
	jw_object_begin(w);
	jw_key_string(w, "uid", uid);
	jw_key_string(w, "namespace", namespace);
	jw_key_string(w, "name", name);
	jw_key(w, "policy");
	ebpf_config_write(w, policy, 0);
	jw_object_end(w);
}

void policy_push_write_end(struct json_writer *w)
{
	write_end(w);
}

int policy_push_encode(const struct policy_push *p, char **text, size_t *len)
{
	struct json_writer w;

	jw_init(&w);
	policy_push_write_begin(&w, p->node, p->has_sender ? &p->sender : NULL, p->revision);
	for (size_t i = 0; i < p->n_pods; i++)
		policy_push_write_pod(&w, p->pods[i].uid, p->pods[i].namespace, p->pods[i].name, &p->pods[i].policy);
	policy_push_write_end(&w);
	return jw_finish(&w, text, len);
}

void node_state_write_begin(struct json_writer *w, const char *node, const struct policy_sender *sender,
			    int64_t revision)
{
	write_header(w, node, sender, revision);
}

void node_state_write_pod(struct json_writer *w, const struct policy_pod *pod, bool failed, const char *error,
			  const char *error_path)
{
	jw_object_begin(w);
	jw_key_string(w, "uid", pod->uid);
	jw_key_string(w, "namespace", pod->namespace);
	jw_key_string(w, "name", pod->name);
	jw_key(w, "policy");
	ebpf_config_write(w, &pod->policy, POLICY_WRITE_DEFAULTS);
	jw_key_string(w, "state", failed ? "failed" : "applied");
	jw_key_string(w, "error", failed && error ? error : "");
	if (failed && error_path)
		jw_key_string(w, "path", error_path);
	jw_object_end(w);
}

void node_state_write_end(struct json_writer *w)
{
	write_end(w);
}
