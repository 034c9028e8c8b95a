/* PUT /v1/policy body -> struct desired_state: strict (unknown fields, wrong types, out-of-range
 * values are errors naming their JSON path), complete before anything is returned, no side effects. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/service/agent_duration.h"
#include "agent/service/agent_policy.h"
#include "common/syscall_table.h"
#include "common/json_util.h"

/* JSON paths are built in fixed buffers: a path cut short in an error message is harmless. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define JSON_INT_MAX 9007199254740992LL /* 2^53: integers above are not exact in JSON */

static int fail(struct policy_error *err, const char *path, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->path, sizeof(err->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsObject(v)) return "an object";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	return "null";
}

/* Every member of obj is one of the known names, at most once. obj must be an object. */
static int check_members(const cJSON *obj, const char *path, const char *const *known, struct policy_error *err)
{
	char sub[256];

	if (!cJSON_IsObject(obj))
		return fail(err, path, "must be an object, not %s", type_name(obj));
	for (const cJSON *m = obj->child; m; m = m->next) {
		bool ok = false;

		for (int i = 0; known[i] && !ok; i++)
			ok = !strcmp(m->string, known[i]);
		snprintf(sub, sizeof(sub), "%s.%s", path, m->string);
		if (!ok)
			return fail(err, sub, "unknown field");
		for (const cJSON *o = obj->child; o != m; o = o->next)
			if (!strcmp(o->string, m->string))
				return fail(err, sub, "duplicate field");
	}
	return 0;
}

/* The member, or NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *key)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(m) ? NULL : m;
}

static int get_int(const cJSON *obj, const char *key, const char *path, bool required, long long min,
		   long long max, long long *out, struct policy_error *err)
{
	const cJSON *m = member(obj, key);
	char sub[256];

	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (!m)
		return required ? fail(err, sub, "required") : -ENOENT;
	if (!cJSON_IsNumber(m))
		return fail(err, sub, "must be an integer, not %s", type_name(m));
	if (!(m->valuedouble >= -(double)JSON_INT_MAX && m->valuedouble <= (double)JSON_INT_MAX) ||
	    m->valuedouble != (double)(long long)m->valuedouble)
		return fail(err, sub, "must be an integer between %lld and %lld", min, max);
	*out = (long long)m->valuedouble;
	if (*out < min || *out > max)
		return fail(err, sub, "must be between %lld and %lld", min, max);
	return 0;
}

static int get_bool(const cJSON *obj, const char *key, const char *path, bool *out, struct policy_error *err)
{
	const cJSON *m = member(obj, key);
	char sub[256];

	if (!m)
		return 0; /* default already in *out */
	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (!cJSON_IsBool(m))
		return fail(err, sub, "must be a boolean, not %s", type_name(m));
	*out = cJSON_IsTrue(m);
	return 0;
}

static int get_string(const cJSON *obj, const char *key, const char *path, bool required, size_t max_len,
		      const char **out, struct policy_error *err)
{
	const cJSON *m = member(obj, key);
	char sub[256];

	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (!m)
		return required ? fail(err, sub, "required") : -ENOENT;
	if (!cJSON_IsString(m))
		return fail(err, sub, "must be a string, not %s", type_name(m));
	if (!m->valuestring[0])
		return fail(err, sub, "must not be empty");
	if (strlen(m->valuestring) > max_len)
		return fail(err, sub, "longer than %zu characters", max_len);
	*out = m->valuestring;
	return 0;
}

static int check_chars(const char *s, const char *allowed, const char *path, const char *key,
		       struct policy_error *err)
{
	char sub[256];

	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	for (const char *c = s; *c; c++) {
		bool lower = *c >= 'a' && *c <= 'z', digit = *c >= '0' && *c <= '9';

		if (!lower && !digit && !strchr(allowed, *c))
			return fail(err, sub, "invalid character at %zu (allowed: a-z 0-9 %s)", (size_t)(c - s), allowed);
	}
	return 0;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int parse_ports(const cJSON *fw, const char *key, const char *path, uint16_t *out, int *n,
		       struct policy_error *err)
{
	const cJSON *list = member(fw, key);
	char sub[256], item[280];
	int i = 0;

	*n = 0;
	if (!list)
		return 0;
	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (!cJSON_IsArray(list))
		return fail(err, sub, "must be an array, not %s", type_name(list));
	for (const cJSON *p = list->child; p; p = p->next, i++) {
		double v = p->valuedouble;

		snprintf(item, sizeof(item), "%s[%d]", sub, i);
		if (i >= POLICY_MAX_PORTS)
			return fail(err, item, "more than %d ports", POLICY_MAX_PORTS);
		if (!cJSON_IsNumber(p))
			return fail(err, item, "must be a port number, not %s", type_name(p));
		if (!(v >= 1 && v <= 65535) || v != (double)(long)v)
			return fail(err, item, "port must be an integer between 1 and 65535");
		for (int j = 0; j < i; j++)
			if (out[j] == (uint16_t)v)
				return fail(err, item, "duplicate port %u", (unsigned)v);
		out[i] = (uint16_t)v;
	}
	*n = i;
	qsort(out, (size_t)*n, sizeof(uint16_t), cmp_u16);
	return 0;
}

static int parse_syscalls(const cJSON *sm, const char *path, struct pod_policy_spec *p, struct policy_error *err)
{
	static const char *const known[] = { "enabled", "syscallNames", NULL };
	const cJSON *list;
	char sub[256], item[280];
	int i = 0, e;

	if ((e = check_members(sm, path, known, err)) || (e = get_bool(sm, "enabled", path, &p->syscalls_enabled, err)))
		return e;
	list = member(sm, "syscallNames");
	if (!list)
		return 0;
	snprintf(sub, sizeof(sub), "%s.syscallNames", path);
	if (!cJSON_IsArray(list))
		return fail(err, sub, "must be an array, not %s", type_name(list));
	for (const cJSON *s = list->child; s; s = s->next, i++) {
		int nr;

		snprintf(item, sizeof(item), "%s[%d]", sub, i);
		if (i >= POLICY_MAX_SYSCALLS)
			return fail(err, item, "more than %d syscalls", POLICY_MAX_SYSCALLS);
		if (!cJSON_IsString(s))
			return fail(err, item, "must be a syscall name, not %s", type_name(s));
		nr = syscall_table_number(s->valuestring);
		if (nr < 0)
			return fail(err, item, "unknown syscall \"%.64s\" on %s", s->valuestring, syscall_table_arch());
		for (int j = 0; j < i; j++)
			if (p->syscall_nrs[j] == nr)
				return fail(err, item, "duplicate syscall \"%.64s\"", s->valuestring);
		p->syscall_nrs[i] = nr;
	}
	p->n_syscalls = i;
	return 0;
}

static int parse_firewall(const cJSON *fw, const char *path, struct pod_policy_spec *p, struct policy_error *err)
{
	static const char *const known[] = { "enabled", "allowedPorts", "blockedPorts", "defaultAction", NULL };
	const char *action;
	char sub[256];
	int e;

	if ((e = check_members(fw, path, known, err)) || (e = get_bool(fw, "enabled", path, &p->firewall_enabled, err)) ||
	    (e = parse_ports(fw, "allowedPorts", path, p->allowed, &p->n_allowed, err)) ||
	    (e = parse_ports(fw, "blockedPorts", path, p->blocked, &p->n_blocked, err)))
		return e;
	for (int i = 0; i < p->n_blocked; i++)
		if (bsearch(&p->blocked[i], p->allowed, (size_t)p->n_allowed, sizeof(uint16_t), cmp_u16)) {
			snprintf(sub, sizeof(sub), "%s.blockedPorts", path);
			return fail(err, sub, "port %u is also in allowedPorts", p->blocked[i]);
		}
	e = get_string(fw, "defaultAction", path, false, 16, &action, err);
	if (e == -ENOENT)
		return 0;
	if (e)
		return e;
	snprintf(sub, sizeof(sub), "%s.defaultAction", path);
	if (strcmp(action, "allow") && strcmp(action, "block"))
		return fail(err, sub, "must be \"allow\" or \"block\"");
	p->default_block = !strcmp(action, "block");
	return 0;
}

static int parse_export(const cJSON *me, const char *path, struct pod_policy_spec *p, struct policy_error *err)
{
	static const char *const known[] = { "enabled", "updateInterval", NULL };
	const char *interval;
	char sub[256];
	int64_t ns;
	int e;

	if ((e = check_members(me, path, known, err)) || (e = get_bool(me, "enabled", path, &p->export_enabled, err)))
		return e;
	e = get_string(me, "updateInterval", path, false, 32, &interval, err);
	if (e == -ENOENT)
		return 0;
	if (e)
		return e;
	snprintf(sub, sizeof(sub), "%s.updateInterval", path);
	if (duration_parse_ns(interval, &ns))
		return fail(err, sub, "not a duration like \"30s\", \"500ms\" or \"1m30s\"");
	if (ns < 1000000000LL || ns > 3600000000000LL)
		return fail(err, sub, "must be between 1s and 1h");
	p->update_interval_ms = ns / 1000000;
	return 0;
}

static int parse_policy(const cJSON *pol, const char *path, struct pod_policy_spec *p, struct policy_error *err)
{
	static const char *const known[] = { "syscallMonitoring", "l4Firewall", "metricsExport", NULL };
	const cJSON *m;
	char sub[256];
	int e;

	memset(p, 0, sizeof(*p));
	p->update_interval_ms = 30000;
	if ((e = check_members(pol, path, known, err)))
		return e;
	snprintf(sub, sizeof(sub), "%s.syscallMonitoring", path);
	if ((m = member(pol, "syscallMonitoring")) && (e = parse_syscalls(m, sub, p, err)))
		return e;
	snprintf(sub, sizeof(sub), "%s.l4Firewall", path);
	if ((m = member(pol, "l4Firewall")) && (e = parse_firewall(m, sub, p, err)))
		return e;
	snprintf(sub, sizeof(sub), "%s.metricsExport", path);
	if ((m = member(pol, "metricsExport")) && (e = parse_export(m, sub, p, err)))
		return e;
	return 0;
}

static int parse_pod(const cJSON *obj, const char *path, struct desired_pod *pod, struct policy_error *err)
{
	static const char *const known[] = { "uid", "namespace", "name", "policy", NULL };
	const char *uid, *ns, *name;
	const cJSON *pol;
	char sub[256];
	int e;

	if ((e = check_members(obj, path, known, err)) ||
	    (e = get_string(obj, "uid", path, true, POLICY_UID_MAX, &uid, err)) ||
	    (e = check_chars(uid, "-ABCDEFGHIJKLMNOPQRSTUVWXYZ", path, "uid", err)) ||
	    (e = get_string(obj, "namespace", path, true, 63, &ns, err)) ||
	    (e = check_chars(ns, "-", path, "namespace", err)) ||
	    (e = get_string(obj, "name", path, true, POLICY_NAME_MAX, &name, err)) ||
	    (e = check_chars(name, "-.", path, "name", err)))
		return e;
	pol = member(obj, "policy");
	snprintf(sub, sizeof(sub), "%s.policy", path);
	if (!pol)
		return fail(err, sub, "required");
	if ((e = parse_policy(pol, sub, &pod->policy, err)))
		return e;
	snprintf(pod->uid, sizeof(pod->uid), "%s", uid);
	pod->namespace = strdup(ns);
	pod->name = strdup(name);
	return pod->namespace && pod->name ? 0 : -ENOMEM;
}

static int parse_state(const cJSON *doc, struct desired_state *s, struct policy_error *err)
{
	static const char *const known[] = { "node", "sender", "revision", "pods", NULL };
	static const char *const sender_known[] = { "identity", "epoch", NULL };
	const cJSON *sender, *pods;
	const char *node, *identity;
	long long epoch, revision;
	char path[64];
	int e, i = 0;

	if ((e = check_members(doc, "$", known, err)) ||
	    (e = get_string(doc, "node", "$", true, POLICY_NAME_MAX, &node, err)))
		return e;
	sender = member(doc, "sender");
	if (!sender)
		return fail(err, "$.sender", "required");
	if ((e = check_members(sender, "$.sender", sender_known, err)) ||
	    (e = get_string(sender, "identity", "$.sender", true, POLICY_NAME_MAX, &identity, err)) ||
	    (e = get_int(sender, "epoch", "$.sender", true, 0, JSON_INT_MAX, &epoch, err)) ||
	    (e = get_int(doc, "revision", "$", true, 0, JSON_INT_MAX, &revision, err)))
		return e;
	pods = member(doc, "pods");
	if (!pods)
		return fail(err, "$.pods", "required");
	if (!cJSON_IsArray(pods))
		return fail(err, "$.pods", "must be an array, not %s", type_name(pods));
	s->node = strdup(node);
	s->identity = strdup(identity);
	s->epoch = epoch;
	s->revision = revision;
	if (!s->node || !s->identity)
		return -ENOMEM;
	int n = cJSON_GetArraySize(pods);
	if (n > POLICY_MAX_PODS)
		return fail(err, "$.pods", "more than %d pods", POLICY_MAX_PODS);
	s->pods = calloc((size_t)(n ? n : 1), sizeof(*s->pods));
	if (!s->pods)
		return -ENOMEM;
	for (const cJSON *p = pods->child; p; p = p->next, i++) {
		snprintf(path, sizeof(path), "$.pods[%d]", i);
		s->n_pods = i + 1;
		if ((e = parse_pod(p, path, &s->pods[i], err)))
			return e;
		for (int j = 0; j < i; j++)
			if (!strcmp(s->pods[j].uid, s->pods[i].uid)) {
				snprintf(path, sizeof(path), "$.pods[%d].uid", i);
				return fail(err, path, "duplicate pod uid (also $.pods[%d])", j);
			}
	}
	return 0;
}

int policy_parse(const char *body, size_t len, struct desired_state **out, struct policy_error *err)
{
	struct desired_state *s;
	cJSON *doc;
	int e;

	memset(err, 0, sizeof(*err));
	*out = NULL;
	if (json_parse(body, len, &doc, err->message, sizeof(err->message))) {
		snprintf(err->path, sizeof(err->path), "$");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	e = s ? parse_state(doc, s, err) : -ENOMEM;
	cJSON_Delete(doc);
	if (e) {
		if (e == -ENOMEM && !err->message[0])
			fail(err, "$", "out of memory");
		desired_state_free(s);
		return e;
	}
	*out = s;
	return 0;
}

void desired_state_free(struct desired_state *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n_pods; i++) {
		free(s->pods[i].namespace);
		free(s->pods[i].name);
	}
	free(s->pods);
	free(s->node);
	free(s->identity);
	free(s);
}

static cJSON *ports_json(const uint16_t *ports, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(ports[i]));
	return a;
}

cJSON *policy_to_json(const struct pod_policy_spec *p)
{
	cJSON *o = cJSON_CreateObject(), *sm, *fw, *me, *names;
	char interval[32];

	if (!o)
		return NULL;
	sm = cJSON_AddObjectToObject(o, "syscallMonitoring");
	fw = cJSON_AddObjectToObject(o, "l4Firewall");
	me = cJSON_AddObjectToObject(o, "metricsExport");
	if (!sm || !fw || !me) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddBoolToObject(sm, "enabled", p->syscalls_enabled);
	names = cJSON_AddArrayToObject(sm, "syscallNames");
	for (int i = 0; names && i < p->n_syscalls; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(syscall_table_name(p->syscall_nrs[i])));
	cJSON_AddBoolToObject(fw, "enabled", p->firewall_enabled);
	cJSON_AddItemToObject(fw, "allowedPorts", ports_json(p->allowed, p->n_allowed));
	cJSON_AddItemToObject(fw, "blockedPorts", ports_json(p->blocked, p->n_blocked));
	cJSON_AddStringToObject(fw, "defaultAction", p->default_block ? "block" : "allow");
	cJSON_AddBoolToObject(me, "enabled", p->export_enabled);
	duration_format_ms(p->update_interval_ms, interval, sizeof(interval));
	cJSON_AddStringToObject(me, "updateInterval", interval);
	return o;
}

void json_add_int64(cJSON *obj, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	cJSON_AddRawToObject(obj, key, buf);
}

cJSON *desired_state_to_json(const struct desired_state *s)
{
	cJSON *o = cJSON_CreateObject(), *sender, *pods;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "node", s->node);
	sender = cJSON_AddObjectToObject(o, "sender");
	if (sender) {
		cJSON_AddStringToObject(sender, "identity", s->identity);
		json_add_int64(sender, "epoch", s->epoch);
	}
	json_add_int64(o, "revision", s->revision);
	pods = cJSON_AddArrayToObject(o, "pods");
	for (int i = 0; pods && i < s->n_pods; i++) {
		cJSON *p = cJSON_CreateObject();

		if (!p)
			break;
		cJSON_AddStringToObject(p, "uid", s->pods[i].uid);
		cJSON_AddStringToObject(p, "namespace", s->pods[i].namespace);
		cJSON_AddStringToObject(p, "name", s->pods[i].name);
		cJSON_AddItemToObject(p, "policy", policy_to_json(&s->pods[i].policy));
		cJSON_AddItemToArray(pods, p);
	}
	return o;
}

bool policy_same_dataplane(const struct pod_policy_spec *a, const struct pod_policy_spec *b)
{
	return a->syscalls_enabled == b->syscalls_enabled && a->n_syscalls == b->n_syscalls &&
	       !memcmp(a->syscall_nrs, b->syscall_nrs, sizeof(int) * (size_t)a->n_syscalls) &&
	       a->firewall_enabled == b->firewall_enabled && a->default_block == b->default_block &&
	       a->n_allowed == b->n_allowed && a->n_blocked == b->n_blocked &&
	       !memcmp(a->allowed, b->allowed, sizeof(uint16_t) * (size_t)a->n_allowed) &&
	       !memcmp(a->blocked, b->blocked, sizeof(uint16_t) * (size_t)a->n_blocked);
}

bool policy_same(const struct pod_policy_spec *a, const struct pod_policy_spec *b)
{
	return policy_same_dataplane(a, b) && a->export_enabled == b->export_enabled &&
	       a->update_interval_ms == b->update_interval_ms;
}
