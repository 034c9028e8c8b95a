/* Merge rules of the effective policy: blocked ports win over allowed, lists add up, block wins
 * as default action, the shortest updateInterval wins, and disagreeing CRs are named as conflicts;
 * a CR that cannot be enforced on a pod's node is left out of that pod's merge, the others kept. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/cache.h"
#include "controller/effective_policy.h"
#include "controller/pod_policy.h"
#include "controller/policy_explain.h"
#include "test/common/tap_main.h"

/* CRs decoded as the controller decodes them; freed by free_crs. */
static struct pcmc *made[16];
static size_t nmade;

static const struct ebpf_settings *cr(const char *ebpf_json)
{
	char *doc;
	cJSON *j;

	ck_assert_int_ge(asprintf(&doc, "{\"metadata\":{\"name\":\"c%zu\",\"namespace\":\"shop\"},"
				  "\"spec\":{\"ebpfConfig\":%s}}", nmade, ebpf_json), 0);
	j = cJSON_Parse(doc);
	ck_assert_ptr_nonnull(j);
	made[nmade] = pcmc_decode(j);
	ck_assert_ptr_nonnull(made[nmade]);
	cJSON_Delete(j);
	free(doc);
	return &made[nmade++]->ebpf;
}

static void free_crs(void)
{
	while (nmade)
		pcmc_free(made[--nmade]);
}

static const struct ebpf_settings *fw(const char *allowed, const char *blocked, const char *action)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[%s],\"blockedPorts\":[%s],"
		 "\"defaultAction\":\"%s\"}}", allowed, blocked, action);
	return cr(json);
}

static const struct ebpf_settings *sys(const char *quoted_names)
{
	char json[2048];

	snprintf(json, sizeof(json), "{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[%s]}}", quoted_names);
	return cr(json);
}

static const struct ebpf_settings *mx(const char *interval)
{
	char json[256];

	snprintf(json, sizeof(json), "{\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"%s\"}}", interval);
	return cr(json);
}

static const struct ebpf_config *merged(struct effective_policy *p)
{
	return &p->config;
}

/* 70 syscall names of x86_64, to pass the limit of 64 together. */
static const char *const many_names[] = {
	"read", "write", "openat", "close", "fstat", "lseek", "mmap", "mprotect", "munmap", "brk",
	"rt_sigaction", "rt_sigprocmask", "ioctl", "pread64", "pwrite64", "readv", "writev", "sched_yield",
	"mremap", "msync", "mincore", "madvise", "dup", "dup3", "nanosleep", "getitimer", "setitimer",
	"getpid", "sendfile", "socket", "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"shutdown", "bind", "listen", "getsockname", "getpeername", "socketpair", "setsockopt", "getsockopt",
	"clone", "execve", "exit", "wait4", "kill", "uname", "fcntl", "flock", "fsync", "fdatasync",
	"truncate", "ftruncate", "getcwd", "chdir", "fchdir", "fchmod", "fchown", "umask", "getrusage",
	"sysinfo", "times", "ptrace", "getuid", "syslog", "getgid", "setuid",
};

START_TEST(one_cr_is_taken_as_written)
{
	const struct ebpf_settings *in[] = { fw("443,80", "22", "allow") };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	ck_assert(merged(&p)->l4_firewall.enabled && !merged(&p)->syscall_monitoring.enabled &&
		  !merged(&p)->metrics_export.enabled);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.n, 2);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.ports[0], 80);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.ports[1], 443);
	ck_assert_int_eq(merged(&p)->l4_firewall.blocked.n, 1);
	ck_assert(!merged(&p)->l4_firewall.default_block);
	ck_assert_int_eq(p.conflicts, 0);
	ck_assert(effective_policy_wanted(&p));
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(blocked_port_wins_over_allowed)
{
	const struct ebpf_settings *in[] = { fw("80,8080", "", "allow"), fw("", "8080", "allow") };
	struct effective_policy p;
	char names[200];

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.n, 1);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.ports[0], 80);
	ck_assert_int_eq(merged(&p)->l4_firewall.blocked.n, 1);
	ck_assert_int_eq(merged(&p)->l4_firewall.blocked.ports[0], 8080);
	effective_policy_conflict_names(p.conflicts, names, sizeof(names));
	ck_assert_str_eq(names, "l4Firewall.allowedPorts,l4Firewall.blockedPorts");
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(allowed_ports_add_up_and_block_default_wins)
{
	const struct ebpf_settings *in[] = { fw("80", "", "allow"), fw("443", "", "block") };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.n, 2);
	ck_assert(merged(&p)->l4_firewall.default_block);
	ck_assert(p.conflicts & CONFLICT_DEFAULT_ACTION);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(syscall_names_add_up_without_duplicates)
{
	const struct ebpf_settings *in[] = { sys("\"write\",\"read\""), sys("\"read\",\"openat\"") };
	struct effective_policy p;
	const struct syscall_names *n;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	n = &merged(&p)->syscall_monitoring.names;
	ck_assert_int_eq(n->n, 3);
	ck_assert_str_eq(n->names[0], "openat");
	ck_assert_str_eq(n->names[1], "read");
	ck_assert_str_eq(n->names[2], "write");
	ck_assert(p.conflicts & CONFLICT_SYSCALL_NAMES);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(same_names_in_another_order_are_no_conflict)
{
	const struct ebpf_settings *in[] = { sys("\"write\",\"read\""), sys("\"read\",\"write\"") };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(p.conflicts, 0);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(shortest_update_interval_wins)
{
	const struct ebpf_settings *in[] = { mx("1m"), mx("1500ms"), cr("{\"metricsExport\":{\"enabled\":true}}") };
	struct effective_policy p;
	cJSON *json;

	ck_assert_int_eq(effective_policy_merge(in, 3, &p, NULL, 0), 0);
	ck_assert_int_eq(merged(&p)->metrics_export.update_interval_ns, 1500000000LL);
	ck_assert(p.conflicts & CONFLICT_UPDATE_INTERVAL);
	json = effective_policy_to_json(&p);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "metricsExport"),
								   "updateInterval")), "1.5s");
	cJSON_Delete(json);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(disabled_sections_have_no_say)
{
	const struct ebpf_settings *in[] = {
		fw("80", "", "allow"),
		cr("{\"l4Firewall\":{\"enabled\":false,\"allowedPorts\":[9999],\"blockedPorts\":[1],\"defaultAction\":\"block\"}}"),
	};
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 2, &p, NULL, 0), 0);
	ck_assert_int_eq(merged(&p)->l4_firewall.allowed.n, 1);
	ck_assert_int_eq(merged(&p)->l4_firewall.blocked.n, 0);
	ck_assert(!merged(&p)->l4_firewall.default_block);
	ck_assert_int_eq(p.conflicts, 0);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(nothing_enabled_is_not_pushed)
{
	const struct ebpf_settings *in[] = { cr("{}") };
	struct effective_policy p;

	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	ck_assert(!effective_policy_wanted(&p));
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(more_than_64_syscalls_together_is_refused)
{
	char a[2048] = "", b[2048] = "", why[200];
	const struct ebpf_settings *in[2];
	struct effective_policy p;

	for (int i = 0; i < 40; i++) {
		snprintf(a + strlen(a), 40, "%s\"%s\"", i ? "," : "", many_names[i]);
		if (i < 30)
			snprintf(b + strlen(b), 40, "%s\"%s\"", i ? "," : "", many_names[40 + i]);
	}
	in[0] = sys(a);
	in[1] = sys(b);
	ck_assert_int_eq(effective_policy_merge(in, 2, &p, why, sizeof(why)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(why, "64"));
	free_crs();
}
END_TEST

START_TEST(policy_json_is_what_the_agent_takes)
{
	const struct ebpf_settings *in[] = {
		cr("{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80],\"blockedPorts\":[22],\"defaultAction\":\"block\"},"
		   "\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"2s\"}}"),
	};
	struct effective_policy p;
	cJSON *json;
	char *s;

	ck_assert_int_eq(effective_policy_merge(in, 1, &p, NULL, 0), 0);
	json = effective_policy_to_json(&p);
	s = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	ck_assert_str_eq(s, "{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80],\"blockedPorts\":[22],"
			    "\"defaultAction\":\"block\"},\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"2s\"}}");
	free(s);
	effective_policy_clear(&p);
	free_crs();
}
END_TEST

START_TEST(values_the_model_refuses_name_their_field)
{
	/* What an object stored before the CRD had its rules may hold; the common grammar decides. */
	const struct ebpf_settings *bad_interval = mx("1e3s");
	const struct ebpf_settings *bad_port = cr("{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80,0]}}");
	const struct ebpf_settings *both = fw("443", "443", "allow");
	const struct ebpf_settings *off = cr("{\"l4Firewall\":{\"enabled\":false,\"allowedPorts\":[0]}}");
	const struct ebpf_settings *in[] = { bad_interval };
	struct effective_policy p;
	char why[200];

	ck_assert_str_eq(bad_interval->invalid, "spec.ebpfConfig.metricsExport.updateInterval: not a duration between 1s and 1h");
	ck_assert_str_eq(bad_port->invalid, "spec.ebpfConfig.l4Firewall.allowedPorts[1]: not a port (1-65535)");
	ck_assert_str_eq(both->invalid, "spec.ebpfConfig.l4Firewall.blockedPorts: port 443 is in allowedPorts too");
	ck_assert_str_eq(off->invalid, "");   /* a disabled feature has no say */
	ck_assert_int_eq(effective_policy_merge(in, 1, &p, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, bad_interval->invalid);
	free_crs();
}
END_TEST

START_TEST(syscall_names_are_checked_against_the_nodes_architecture)
{
	const struct ebpf_settings *e = sys("\"read\",\"open\",\"close\"");
	const struct ebpf_settings *off = cr("{\"syscallMonitoring\":{\"enabled\":false,\"syscallNames\":[\"open\"]}}");
	char why[240];

	ck_assert_int_eq(effective_policy_check_node(e, "amd64", why, sizeof(why)), 0);
	ck_assert_int_eq(effective_policy_check_node(e, "arm64", why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64");
	/* a node without the label: only names every architecture has */
	ck_assert_int_eq(effective_policy_check_node(e, "", why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "syscallNames[1]: open is not a syscall of every architecture"));
	ck_assert_int_eq(effective_policy_check_node(e, "s390x", why, sizeof(why)), -EINVAL);
	/* no Node information at all: left to the agent */
	ck_assert_int_eq(effective_policy_check_node(e, NULL, why, sizeof(why)), 0);
	/* monitoring off: the names have no say */
	ck_assert_int_eq(effective_policy_check_node(off, "arm64", why, sizeof(why)), 0);
	free_crs();
}
END_TEST

/* A CR cache with the given CRs (name, spec JSON) in namespace shop, and a pod web-1 labelled app=web. */
static struct object_cache *crs(const char *const *specs, size_t n)
{
	struct object_cache *c = object_cache_new(&pcmc_kind);
	int err = 0;

	for (size_t i = 0; i < n; i += 2) {
		char *doc;
		cJSON *j;

		ck_assert_int_ge(asprintf(&doc, "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"uid\":\"u%zu\","
					  "\"generation\":1},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
					  "\"ebpfConfig\":%s}}", specs[i], i, specs[i + 1]), 0);
		j = cJSON_Parse(doc);
		ck_assert_ptr_null(object_cache_upsert(c, pcmc_decode(j), &err));
		ck_assert_int_eq(err, 0);
		cJSON_Delete(j);
		free(doc);
	}
	return c;
}

static struct pod *web_pod(void)
{
	cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"p1\","
			       "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"arm-1\"},\"status\":{\"phase\":\"Running\"}}");
	struct pod *p = pod_decode(j);

	cJSON_Delete(j);
	return p;
}

START_TEST(a_cr_invalid_on_the_node_is_left_out_and_the_others_stay_enforced)
{
	/* The case: one CR names a syscall the node lacks, another blocks 8080. */
	const char *specs[] = {
		"monitor", "{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\",\"open\"]}}",
		"strict", "{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[8080]}}",
	};
	struct object_cache *c = crs(specs, 4);
	struct pod *pod = web_pod();
	struct pod_policy pp;
	const struct pod_policy_left_out *l;

	object_cache_read_lock(c);
	ck_assert_int_eq(pod_policy_compute_locked(c, pod, "arm64", &pp), 0);
	ck_assert_int_eq(pp.ncrs, 1);
	ck_assert_str_eq(pp.crs[0], "strict");
	ck_assert(pp.policy.config.l4_firewall.enabled);
	ck_assert_int_eq(pp.policy.config.l4_firewall.blocked.n, 1);
	ck_assert_int_eq(pp.policy.config.l4_firewall.blocked.ports[0], 8080);
	ck_assert(!pp.policy.config.syscall_monitoring.enabled);
	l = pod_policy_left_out_of(&pp, "monitor");
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->why, "spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64");
	ck_assert_ptr_null(pod_policy_left_out_of(&pp, "strict"));
	pod_policy_clear(&pp);
	/* the same pod on an x86_64 node gets both */
	ck_assert_int_eq(pod_policy_compute_locked(c, pod, "amd64", &pp), 0);
	ck_assert_int_eq(pp.ncrs, 2);
	ck_assert_int_eq(pp.nleft_out, 0);
	ck_assert(pp.policy.config.syscall_monitoring.enabled && pp.policy.config.l4_firewall.enabled);
	pod_policy_clear(&pp);
	object_cache_unlock(c);
	pod_free(pod);
	object_cache_free(c);
}
END_TEST

START_TEST(a_cr_that_would_pass_the_limits_is_left_out_not_the_pod)
{
	char a[1024] = "{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[", b[1024];
	const char *specs[6];
	size_t n = strlen(a);
	struct object_cache *c;
	struct pod *pod = web_pod();
	struct pod_policy pp;

	/* 40 names in "a", 30 others in "b": together 70, past 64 */
	for (size_t i = 0; i < 40; i++)
		n += (size_t)snprintf(a + n, sizeof(a) - n, "%s\"%s\"", i ? "," : "", many_names[i]);
	snprintf(a + n, sizeof(a) - n, "]}}");
	n = (size_t)snprintf(b, sizeof(b), "{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[");
	for (size_t i = 40; i < 70; i++)
		n += (size_t)snprintf(b + n, sizeof(b) - n, "%s\"%s\"", i > 40 ? "," : "", many_names[i]);
	snprintf(b + n, sizeof(b) - n, "]},\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[22]}}");
	specs[0] = "a-first"; specs[1] = a;
	specs[2] = "b-second"; specs[3] = b;
	specs[4] = "c-fw"; specs[5] = "{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[8080]}}";
	c = crs(specs, 6);
	object_cache_read_lock(c);
	ck_assert_int_eq(pod_policy_compute_locked(c, pod, "amd64", &pp), 0);
	ck_assert_int_eq(pp.ncrs, 2);
	ck_assert_str_eq(pp.crs[0], "a-first");
	ck_assert_str_eq(pp.crs[1], "c-fw");
	ck_assert_int_eq(pp.policy.config.syscall_monitoring.names.n, 40);
	ck_assert_int_eq(pp.policy.config.l4_firewall.blocked.n, 1);            /* b-second's port 22 is not enforced either */
	ck_assert_ptr_nonnull(pod_policy_left_out_of(&pp, "b-second"));
	ck_assert_ptr_nonnull(strstr(pod_policy_left_out_of(&pp, "b-second")->why, "more than 64 syscalls"));
	pod_policy_clear(&pp);
	object_cache_unlock(c);
	pod_free(pod);
	object_cache_free(c);
}
END_TEST

START_TEST(explanation_names_the_other_cr_and_which_value_won)
{
	const struct ebpf_settings *web = cr("{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80,8080],\"blockedPorts\":[22]},"
					     "\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"30s\"}}");
	const struct ebpf_settings *strict = cr("{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[8080,7000],"
						"\"defaultAction\":\"block\"},\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"10s\"}}");
	const struct ebpf_settings *in[] = { strict, web };
	const char *names[] = { "strict", "web" };
	char out[1024];

	effective_policy_explain(in, names, 2, 1, "shop", out, sizeof(out));
	ck_assert_str_eq(out, "l4Firewall.allowedPorts: port 8080 allowed here is blocked by shop/strict (blocked wins); "
			      "l4Firewall.defaultAction: block from shop/strict wins over allow here; "
			      "l4Firewall.blockedPorts: shop/strict adds 7000; "
			      "metricsExport.updateInterval: 10s from shop/strict wins over 30s here (the shortest wins)");
	effective_policy_explain(in, names, 2, 0, "shop", out, sizeof(out));
	ck_assert_str_eq(out, "l4Firewall.blockedPorts: port 8080 blocked here stays blocked although shop/web allows it "
			      "(blocked wins); l4Firewall.defaultAction: block here wins over allow from shop/web; "
			      "l4Firewall.blockedPorts: shop/web adds 22; l4Firewall.allowedPorts: shop/web adds 80");
	/* too small for the whole: whole items, then "; and more" */
	effective_policy_explain(in, names, 2, 1, "shop", out, 120);
	ck_assert_str_eq(out, "l4Firewall.allowedPorts: port 8080 allowed here is blocked by shop/strict (blocked wins); and more");
	/* identical settings: nothing to explain */
	in[0] = web;
	effective_policy_explain(in, names, 2, 1, "shop", out, sizeof(out));
	ck_assert_str_eq(out, "");
	free_crs();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("effective_policy");
	TCase *tc = tcase_create("merge");

	tcase_add_test(tc, one_cr_is_taken_as_written);
	tcase_add_test(tc, blocked_port_wins_over_allowed);
	tcase_add_test(tc, allowed_ports_add_up_and_block_default_wins);
	tcase_add_test(tc, syscall_names_add_up_without_duplicates);
	tcase_add_test(tc, same_names_in_another_order_are_no_conflict);
	tcase_add_test(tc, shortest_update_interval_wins);
	tcase_add_test(tc, disabled_sections_have_no_say);
	tcase_add_test(tc, nothing_enabled_is_not_pushed);
	tcase_add_test(tc, more_than_64_syscalls_together_is_refused);
	tcase_add_test(tc, policy_json_is_what_the_agent_takes);
	tcase_add_test(tc, values_the_model_refuses_name_their_field);
	tcase_add_test(tc, syscall_names_are_checked_against_the_nodes_architecture);
	tcase_add_test(tc, a_cr_invalid_on_the_node_is_left_out_and_the_others_stay_enforced);
	tcase_add_test(tc, a_cr_that_would_pass_the_limits_is_left_out_not_the_pod);
	tcase_add_test(tc, explanation_names_the_other_cr_and_which_value_won);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
