/* Generated ConfigMap names and content: the pod-<pod>-from-<pcmc>-cfg pattern, valid shortened
 * names for long parts, data keys (pcmc's and the Go project's), labels, controller owner reference,
 * what makes a ConfigMap pcmc's, and drift detection by fingerprint. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "controller/configmap_content.h"
#include "test/common/tap_main.h"

static bool valid_dns_subdomain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = islower((unsigned char)c) || isdigit((unsigned char)c);

		if (!alnum && c != '-' && c != '.')
			return false;
		if ((c == '-' || c == '.') && (i == 0 || i == n - 1))
			return false;
		if (c == '.' && (s[i - 1] == '-' || s[i + 1] == '-' || s[i + 1] == '.'))
			return false;
	}
	return true;
}

START_TEST(short_names_follow_the_pattern)
{
	char name[CONFIGMAP_NAME_MAX + 1];

	configmap_name(name, "web-1", "tiers");
	ck_assert_str_eq(name, "pod-web-1-from-tiers-cfg");
}
END_TEST

START_TEST(long_names_are_shortened_valid_and_distinct)
{
	char pod[254], pcmc[254], a[CONFIGMAP_NAME_MAX + 1], b[CONFIGMAP_NAME_MAX + 1];

	memset(pod, 'p', 253);
	pod[253] = '\0';
	memset(pcmc, 'c', 253);
	pcmc[253] = '\0';
	pod[200] = '.';   /* a dot right where the cut may fall */
	configmap_name(a, pod, pcmc);
	ck_assert_uint_le(strlen(a), 253);
	ck_assert_msg(valid_dns_subdomain(a), "invalid name %s", a);
	pcmc[100] = 'd';
	configmap_name(b, pod, pcmc);
	ck_assert_str_ne(a, b);
	ck_assert(valid_dns_subdomain(b));
	/* same inputs, same name */
	configmap_name(b, pod, pcmc);
	pcmc[100] = 'c';
	configmap_name(b, pod, pcmc);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(cut_before_a_dash_never_leaves_a_bad_end)
{
	char pod[254], name[CONFIGMAP_NAME_MAX + 1];

	for (int cut = 230; cut < 253; cut++) {
		memset(pod, 'a', 253);
		pod[253] = '\0';
		for (int i = cut - 3; i < cut + 3 && i < 252; i++)
			pod[i] = (i % 2) ? '-' : '.';
		configmap_name(name, pod, "x");
		ck_assert_msg(strlen(name) <= 253 && name[strlen(name) - 1] != '-', "bad %s", name);
	}
}
END_TEST

START_TEST(long_cr_names_fit_in_a_label_value)
{
	char cr[254], v[LABEL_VALUE_MAX + 1];

	pcmc_label_value(v, "short");
	ck_assert_str_eq(v, "short");
	memset(cr, 'n', 253);
	cr[253] = '\0';
	pcmc_label_value(v, cr);
	ck_assert_uint_le(strlen(v), 63);
}
END_TEST

static struct pod *make_pod(void)
{
	cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\","
			       "\"labels\":{\"app\":\"web\",\"tier\":\"fe\"},\"annotations\":{\"team\":\"blue\","
			       "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}},"
			       "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[]},\"status\":{\"phase\":\"Running\"}}");
	struct pod *p = pod_decode(j);

	cJSON_Delete(j);
	ck_assert_ptr_nonnull(p);
	return p;
}

static struct pcmc *make_pcmc(const char *spec)
{
	char *doc;
	cJSON *j;
	struct pcmc *c;

	ck_assert_int_ge(asprintf(&doc, "{\"metadata\":{\"name\":\"tiers\",\"namespace\":\"shop\",\"uid\":\"c-1\","
				  "\"generation\":3},\"spec\":%s}", spec), 0);
	j = cJSON_Parse(doc);
	c = pcmc_decode(j);
	cJSON_Delete(j);
	free(doc);
	ck_assert_ptr_nonnull(c);
	return c;
}

START_TEST(data_has_pod_facts_listed_keys_and_ebpf_settings)
{
	struct pod *pod = make_pod();
	struct pcmc *cr = make_pcmc("{\"labelsToInclude\":[\"tier\",\"missing\"],\"annotationsToInclude\":[\"team\"],"
				    "\"ebpfConfig\":{\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\",\"write\"]},"
				    "\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80,443],\"blockedPorts\":[22],"
				    "\"defaultAction\":\"block\"},\"metricsExport\":{\"enabled\":true,\"updateInterval\":\"10s\"}}}");
	struct desired_configmap d;

	ck_assert_int_eq(configmap_desired(pod, cr, NULL, &d), 0);
	ck_assert_str_eq(d.name, "pod-web-1-from-tiers-cfg");
	ck_assert_str_eq(kv_get(&d.data, "podName"), "web-1");
	ck_assert_str_eq(kv_get(&d.data, "namespace"), "shop");
	ck_assert_str_eq(kv_get(&d.data, "nodeName"), "node-a");
	ck_assert_str_eq(kv_get(&d.data, "phase"), "Running");
	ck_assert_str_eq(kv_get(&d.data, "label_tier"), "fe");
	ck_assert_ptr_null(kv_get(&d.data, "label_app"));
	ck_assert_ptr_null(kv_get(&d.data, "label_missing"));
	ck_assert_str_eq(kv_get(&d.data, "annotation_team"), "blue");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_syscall_monitoring_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_syscall_names"), "read,write");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_l4_firewall_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_allowed_ports"), "80,443");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_blocked_ports"), "22");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_default_action"), "block");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_metrics_export_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_update_interval"), "10s");
	/* the Go project's keys */
	ck_assert_str_eq(kv_get(&d.data, "pcmcName"), "tiers");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_syscall_monitoring"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_l4_firewall"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_l4_firewall_default_action"), "block");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_metrics_export"), "true");

	cJSON *body = configmap_body(&d, "shop");
	cJSON *meta = cJSON_GetObjectItem(body, "metadata");
	cJSON *owner = cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "ownerReferences"), 0);

	ck_assert_str_eq(cJSON_GetObjectItem(owner, "kind")->valuestring, "Pod");
	ck_assert_str_eq(cJSON_GetObjectItem(owner, "uid")->valuestring, "u-1");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(owner, "controller")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(owner, "blockOwnerDeletion")));
	ck_assert(configmap_made_by_pcmc(body));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "labels"), LABEL_GENERATED_BY)->valuestring, "tiers");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "labels"), LABEL_POD_UID)->valuestring, "u-1");

	/* What the API server sends back for it has the same fingerprint: no rewrite. */
	struct owned_configmap *cm = owned_configmap_decode(body);

	ck_assert_ptr_nonnull(cm);
	ck_assert_uint_eq(cm->fingerprint, d.fingerprint);
	ck_assert_str_eq(cm->pcmc_name, "tiers");
	owned_configmap_free(cm);

	/* Edited data is drift. */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(body, "data"), "phase", cJSON_CreateString("Failed"));
	cm = owned_configmap_decode(body);
	ck_assert_uint_ne(cm->fingerprint, d.fingerprint);
	owned_configmap_free(cm);

	cJSON_Delete(body);
	desired_configmap_clear(&d);
	pcmc_free(cr);
	pod_free(pod);
}
END_TEST

START_TEST(ebpf_defaults_when_not_configured)
{
	struct pod *pod = make_pod();
	struct pcmc *cr = make_pcmc("{}");
	struct desired_configmap d;

	ck_assert_int_eq(configmap_desired(pod, cr, NULL, &d), 0);
	ck_assert_str_eq(kv_get(&d.data, "ebpf_syscall_monitoring_enabled"), "false");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_syscall_names"), "");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_default_action"), "allow");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_allowed_ports"), "");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_enabled"), "false");   /* no ebpfConfig at all */
	ck_assert_str_eq(kv_get(&d.data, "ebpf_l4_firewall"), "false");
	desired_configmap_clear(&d);
	pcmc_free(cr);
	pod_free(pod);
}
END_TEST

START_TEST(prefixed_keys_map_slash_to_underscore)
{
	char k[CONFIGMAP_KEY_MAX + 1], long_key[300];

	ck_assert_int_eq(configmap_data_key(k, "label_", "app.kubernetes.io/name"), 0);
	ck_assert_str_eq(k, "label_app.kubernetes.io_name");
	ck_assert_int_eq(configmap_data_key(k, "annotation_", "example.com/owner"), 0);
	ck_assert_str_eq(k, "annotation_example.com_owner");
	ck_assert_int_eq(configmap_data_key(k, "label_", "tier"), 0);
	ck_assert_str_eq(k, "label_tier");
	/* what no valid label key gives (objects stored before the CRD had its rules) */
	ck_assert_int_eq(configmap_data_key(k, "label_", "bad key"), -EINVAL);
	ck_assert_int_eq(configmap_data_key(k, "label_", ""), -EINVAL);
	memset(long_key, 'a', 248);
	long_key[248] = '\0';
	ck_assert_int_eq(configmap_data_key(k, "label_", long_key), -EINVAL);
	long_key[247] = '\0';
	ck_assert_int_eq(configmap_data_key(k, "label_", long_key), 0);
	ck_assert_uint_eq(strlen(k), 253);
}
END_TEST

START_TEST(pod_with_prefixed_label_and_annotation_gets_mapped_keys)
{
	cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\","
			       "\"labels\":{\"app.kubernetes.io/name\":\"shop\"},\"annotations\":{\"example.com/owner\":\"ann\"}},"
			       "\"spec\":{\"nodeName\":\"node-a\"},\"status\":{\"phase\":\"Running\"}}");
	struct pod *pod = pod_decode(j);
	struct pcmc *cr = make_pcmc("{\"labelsToInclude\":[\"app.kubernetes.io/name\"],"
				    "\"annotationsToInclude\":[\"example.com/owner\"]}");
	struct desired_configmap d;

	ck_assert_int_eq(configmap_desired(pod, cr, NULL, &d), 0);
	ck_assert_str_eq(kv_get(&d.data, "label_app.kubernetes.io_name"), "shop");
	ck_assert_str_eq(kv_get(&d.data, "annotation_example.com_owner"), "ann");
	desired_configmap_clear(&d);
	pcmc_free(cr);
	pod_free(pod);
	cJSON_Delete(j);
}
END_TEST

START_TEST(only_what_pcmc_writes_together_makes_a_configmap_pcmcs)
{
	static const char *const not_ours[] = {
		/* pcmc's label alone (a user's ConfigMap) */
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"podconfig.example.com/generated-by-pcmc\":\"web\"}}}",
		/* label and annotation, no owner */
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"podconfig.example.com/generated-by-pcmc\":\"web\","
		"\"podconfig.example.com/pod-uid\":\"u-1\"},\"annotations\":{\"podconfig.example.com/pcmc-name\":\"web\"}}}",
		/* owner pod uid differs from the pod-uid label */
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"podconfig.example.com/generated-by-pcmc\":\"web\","
		"\"podconfig.example.com/pod-uid\":\"u-1\"},\"annotations\":{\"podconfig.example.com/pcmc-name\":\"web\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"p\",\"uid\":\"u-2\"}]}}",
		/* everything but the annotation */
		"{\"metadata\":{\"name\":\"x\",\"labels\":{\"podconfig.example.com/generated-by-pcmc\":\"web\","
		"\"podconfig.example.com/pod-uid\":\"u-1\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"p\",\"uid\":\"u-1\"}]}}",
	};
	const char *ours = "{\"metadata\":{\"name\":\"x\",\"labels\":{\"podconfig.example.com/generated-by-pcmc\":\"web\","
			   "\"podconfig.example.com/pod-uid\":\"u-1\"},\"annotations\":{\"podconfig.example.com/pcmc-name\":\"web\"},"
			   "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"p\",\"uid\":\"u-1\"}]}}";
	cJSON *j;

	for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
		struct owned_configmap *cm;

		j = cJSON_Parse(not_ours[i]);
		ck_assert_msg(!configmap_made_by_pcmc(j), "case %zu taken for pcmc's", i);
		cm = owned_configmap_decode(j);
		ck_assert_ptr_nonnull(cm);
		ck_assert(!cm->made_by_pcmc);
		owned_configmap_free(cm);
		cJSON_Delete(j);
	}
	j = cJSON_Parse(ours);
	ck_assert(configmap_made_by_pcmc(j));
	cJSON_Delete(j);
}
END_TEST

START_TEST(effective_keys_say_what_the_pod_gets_after_merging)
{
	struct pod *pod = make_pod();
	struct pcmc *cr = make_pcmc("{\"ebpfConfig\":{\"l4Firewall\":{\"enabled\":true,\"allowedPorts\":[80,8080]}}}");
	struct pcmc *strict = make_pcmc("{\"ebpfConfig\":{\"l4Firewall\":{\"enabled\":true,\"blockedPorts\":[8080],"
					"\"defaultAction\":\"block\"},\"syscallMonitoring\":{\"enabled\":true,\"syscallNames\":[\"read\"]}}}");
	const struct ebpf_settings *in[] = { &cr->ebpf, &strict->ebpf };
	struct pod_policy pp = { .crs = { "tiers", "strict" }, .ncrs = 2, .nleft_out = 1 };
	struct desired_configmap d;

	pp.left_out[0].cr = "monitor";
	snprintf(pp.left_out[0].why, sizeof(pp.left_out[0].why),
		 "spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64");
	ck_assert_int_eq(effective_policy_merge(in, 2, &pp.policy, NULL, 0), 0);
	ck_assert_int_eq(configmap_desired(pod, cr, &pp, &d), 0);
	/* the CR's own settings stay as written */
	ck_assert_str_eq(kv_get(&d.data, "ebpf_allowed_ports"), "80,8080");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_default_action"), "allow");
	/* next to what is enforced */
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_allowed_ports"), "80");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_blocked_ports"), "8080");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_default_action"), "block");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_l4_firewall_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_syscall_monitoring_enabled"), "true");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_syscall_names"), "read");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_metrics_export_enabled"), "false");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_update_interval"), "");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_from"), "tiers,strict");
	ck_assert_str_eq(kv_get(&d.data, "ebpf_effective_left_out"),
			 "monitor: spec.ebpfConfig.syscallMonitoring.syscallNames[1]: open is not a syscall of arm64");
	desired_configmap_clear(&d);
	pod_policy_clear(&pp);
	pcmc_free(strict);
	pcmc_free(cr);
	pod_free(pod);
}
END_TEST

START_TEST(pod_status_noise_is_not_a_change)
{
	struct pod *a = make_pod(), *b = make_pod();

	ck_assert(pod_same_for_configmaps(a, b));
	ck_assert_ptr_null(kv_get(&a->annotations, "kubectl.kubernetes.io/last-applied-configuration"));
	free(b->phase);
	b->phase = strdup("Succeeded");
	ck_assert(!pod_same_for_configmaps(a, b));
	pod_free(a);
	pod_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("configmap_content");
	TCase *tc = tcase_create("configmap_content");

	tcase_add_test(tc, short_names_follow_the_pattern);
	tcase_add_test(tc, long_names_are_shortened_valid_and_distinct);
	tcase_add_test(tc, cut_before_a_dash_never_leaves_a_bad_end);
	tcase_add_test(tc, long_cr_names_fit_in_a_label_value);
	tcase_add_test(tc, data_has_pod_facts_listed_keys_and_ebpf_settings);
	tcase_add_test(tc, ebpf_defaults_when_not_configured);
	tcase_add_test(tc, pod_status_noise_is_not_a_change);
	tcase_add_test(tc, prefixed_keys_map_slash_to_underscore);
	tcase_add_test(tc, only_what_pcmc_writes_together_makes_a_configmap_pcmcs);
	tcase_add_test(tc, effective_keys_say_what_the_pod_gets_after_merging);
	tcase_add_test(tc, pod_with_prefixed_label_and_annotation_gets_mapped_keys);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
