/* Kubernetes client configuration: kubeconfig current context (server, CA data or file,
 * insecure-skip-tls-verify, token, client certificate and key), KUBECONFIG and --kubeconfig
 * precedence, in-cluster service account with token rotation. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/kube_config.h"
#include "test/common/tap_main.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pcmc-kubeconfig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* "PEM-CA" and "CERT" / "KEY" base64-encoded. */
static const char *const two_contexts =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: second\n"
	"clusters:\n"
	"- name: one\n"
	"  cluster:\n"
	"    server: https://one.example:6443\n"
	"- name: two\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:16443/\n"
	"    certificate-authority-data: UEVNLUNB\n"
	"contexts:\n"
	"- name: first\n"
	"  context: {cluster: one, user: alice}\n"
	"- name: second\n"
	"  context:\n"
	"    cluster: two\n"
	"    user: bob\n"
	"    namespace: shop\n"
	"users:\n"
	"- name: alice\n"
	"  user: {token: alice-token}\n"
	"- name: bob\n"
	"  user:\n"
	"    token: bob-token\n"
	"    client-certificate-data: Q0VSVA==\n"
	"    client-key-data: S0VZ\n";

START_TEST(current_context_picks_cluster_user_and_namespace)
{
	struct kube_config *c = NULL;
	char path[256], *tok;

	write_file("config", two_contexts);
	snprintf(path, sizeof(path), "%s/config", dir);
	ck_assert_int_eq(kube_config_from_kubeconfig(path, &c), 0);
	ck_assert_str_eq(c->server, "https://127.0.0.1:16443");
	ck_assert_str_eq(c->ca_data, "PEM-CA");
	ck_assert_uint_eq(c->ca_data_len, 6);
	ck_assert_str_eq(c->client_cert_data, "CERT");
	ck_assert_str_eq(c->client_key_data, "KEY");
	ck_assert_str_eq(c->namespace, "shop");
	ck_assert(!c->insecure);
	ck_assert_int_eq(kube_config_token(c, &tok), 0);
	ck_assert_str_eq(tok, "bob-token");
	free(tok);
	kube_config_free(c);
}
END_TEST

START_TEST(file_paths_are_relative_to_the_kubeconfig_and_insecure_is_read)
{
	struct kube_config *c = NULL;
	char path[256], want[256];

	write_file("config", "current-context: x\nclusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
			     "    certificate-authority: pki/ca.crt\n    insecure-skip-tls-verify: true\n"
			     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
			     "users:\n- name: u\n  user:\n    client-certificate: /abs/cert.pem\n    client-key: key.pem\n");
	snprintf(path, sizeof(path), "%s/config", dir);
	ck_assert_int_eq(kube_config_from_kubeconfig(path, &c), 0);
	snprintf(want, sizeof(want), "%s/pki/ca.crt", dir);
	ck_assert_str_eq(c->ca_file, want);
	ck_assert_str_eq(c->client_cert_file, "/abs/cert.pem");
	snprintf(want, sizeof(want), "%s/key.pem", dir);
	ck_assert_str_eq(c->client_key_file, want);
	ck_assert(c->insecure);
	kube_config_free(c);
}
END_TEST

START_TEST(broken_kubeconfigs_are_rejected)
{
	struct kube_config *c = NULL;
	char path[256];

	write_file("config", "current-context: nope\nclusters: []\n");
	snprintf(path, sizeof(path), "%s/config", dir);
	ck_assert_int_eq(kube_config_from_kubeconfig(path, &c), -EINVAL);
	write_file("config", "{{{ not yaml");
	ck_assert_int_eq(kube_config_from_kubeconfig(path, &c), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(kube_config_from_kubeconfig(path, &c), -ENOENT);
}
END_TEST

START_TEST(flag_beats_kubeconfig_env_which_beats_in_cluster)
{
	struct kube_config *c = NULL;
	char a[256], b[256], list[600];

	write_file("a", two_contexts);
	write_file("b", "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://b:2'}\n"
			"contexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {}\n");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(list, sizeof(list), "%s/none:%s", dir, b);
	setenv("KUBECONFIG", list, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kube_config_load(NULL, &c), 0);
	ck_assert_str_eq(c->server, "https://b:2");
	kube_config_free(c);
	ck_assert_int_eq(kube_config_load(a, &c), 0);
	ck_assert_str_eq(c->server, "https://127.0.0.1:16443");
	kube_config_free(c);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(in_cluster_token_is_reread_when_it_rotates)
{
	struct kube_config *c = NULL;
	char *tok, path[256], ca[256];
	struct timespec later[2] = { { .tv_sec = 2000000000 }, { .tv_sec = 2000000000 } };

	write_file("token", "first-token\n");
	write_file("ca.crt", "PEM");
	write_file("namespace", "pcmc-system");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	ck_assert_int_eq(kube_config_in_cluster(dir, &c), 0);
	ck_assert_str_eq(c->server, "https://[fd00::1]:6443");
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	ck_assert_str_eq(c->ca_file, ca);
	ck_assert_str_eq(c->namespace, "pcmc-system");
	ck_assert_int_eq(kube_config_token(c, &tok), 0);
	ck_assert_str_eq(tok, "first-token");
	free(tok);
	write_file("token", "second-token");
	snprintf(path, sizeof(path), "%s/token", dir);
	utimensat(AT_FDCWD, path, later, 0);
	ck_assert_int_eq(kube_config_token(c, &tok), 0);
	ck_assert_str_eq(tok, "second-token");
	free(tok);
	kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(kube_config_in_cluster(dir, &c), -ENOENT);
	unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(base64_decodes_padding_and_whitespace)
{
	char *out;

	ck_assert_int_eq(kube_base64_decode("aGVsbG8=", &out), 5);
	ck_assert_str_eq(out, "hello");
	free(out);
	ck_assert_int_eq(kube_base64_decode("aGVs\nbG8h", &out), 6);
	ck_assert_str_eq(out, "hello!");
	free(out);
	ck_assert_int_eq(kube_base64_decode("a*b", &out), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_config");
	TCase *tc = tcase_create("kube_config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, current_context_picks_cluster_user_and_namespace);
	tcase_add_test(tc, file_paths_are_relative_to_the_kubeconfig_and_insecure_is_read);
	tcase_add_test(tc, broken_kubeconfigs_are_rejected);
	tcase_add_test(tc, flag_beats_kubeconfig_env_which_beats_in_cluster);
	tcase_add_test(tc, in_cluster_token_is_reread_when_it_rotates);
	tcase_add_test(tc, base64_decodes_padding_and_whitespace);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
