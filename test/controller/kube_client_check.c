/* The REST client against the real API server ($KUBECONFIG, run by integration.sh): Status
 * errors mapped to -errno with the object and reason, optimistic concurrency conflicts,
 * paginated lists, watch events streamed line by line, 410 Gone for an expired resourceVersion. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kube_client.h"
#include "test/common/tap_main.h"

static struct kube_config *cfg;
static struct kube_client *client;
#define NS_PATH "/api/v1/namespaces/kube-client-check"

static void setup(void)
{
	ck_assert_int_eq(kube_config_load(NULL, &cfg), 0);
	ck_assert_int_eq(kube_client_new(cfg, &client), 0);
}

static void teardown(void)
{
	kube_client_free(client);
	kube_config_free(cfg);
}

static cJSON *configmap(const char *name, const char *rv)
{
	cJSON *cm = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(cm, "metadata");

	cJSON_AddStringToObject(cm, "apiVersion", "v1");
	cJSON_AddStringToObject(cm, "kind", "ConfigMap");
	cJSON_AddStringToObject(meta, "name", name);
	if (rv)
		cJSON_AddStringToObject(meta, "resourceVersion", rv);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "data"), "k", "v");
	return cm;
}

START_TEST(not_found_names_the_object)
{
	struct kube_error e;
	cJSON *reply = NULL;

	ck_assert_int_eq(kube_request(client, "GET", "/api/v1/namespaces/default/configmaps/no-such-cm", NULL, NULL,
				      &reply, &e), KUBE_ENOTFOUND);
	ck_assert_ptr_null(reply);
	ck_assert_int_eq(e.http_status, 404);
	ck_assert_str_eq(e.reason, "NotFound");
	ck_assert_msg(strstr(e.message, "no-such-cm") && strstr(e.message, "GET"), "message: %s", e.message);
}
END_TEST

START_TEST(create_conflict_and_delete_map_to_errno)
{
	struct kube_error e;
	cJSON *ns = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"kube-client-check\"}}");
	cJSON *cm = configmap("c1", NULL), *created = NULL, *stale, *patch;
	int err;

	err = kube_request(client, "POST", "/api/v1/namespaces", ns, NULL, NULL, &e);
	ck_assert_msg(err == 0 || err == KUBE_EEXIST, "namespace: %d %s", err, e.message);
	kube_request(client, "DELETE", NS_PATH "/configmaps/c1", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(kube_request(client, "POST", NS_PATH "/configmaps", cm, NULL, &created, &e), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(created, "metadata"), "name")->valuestring, "c1");
	ck_assert_int_eq(kube_request(client, "POST", NS_PATH "/configmaps", cm, NULL, NULL, &e), KUBE_EEXIST);
	ck_assert_str_eq(e.reason, "AlreadyExists");
	ck_assert_msg(strstr(e.message, "c1"), "message: %s", e.message);
	/* An update with an old resourceVersion loses: optimistic concurrency. */
	stale = configmap("c1", "1");
	ck_assert_int_eq(kube_request(client, "PUT", NS_PATH "/configmaps/c1", stale, NULL, NULL, &e), KUBE_ECONFLICT);
	ck_assert_str_eq(e.reason, "Conflict");
	patch = cJSON_Parse("{\"data\":{\"k\":\"w\"}}");
	ck_assert_int_eq(kube_request(client, "PATCH", NS_PATH "/configmaps/c1", patch, "application/merge-patch+json",
				      NULL, &e), 0);
	cJSON_Delete(patch);
	ck_assert_int_eq(kube_request(client, "DELETE", NS_PATH "/configmaps/c1", NULL, NULL, NULL, &e), 0);
	ck_assert_int_eq(kube_request(client, "DELETE", NS_PATH "/configmaps/c1", NULL, NULL, NULL, &e), KUBE_ENOTFOUND);
	cJSON_Delete(stale);
	cJSON_Delete(created);
	cJSON_Delete(cm);
	cJSON_Delete(ns);
}
END_TEST

START_TEST(invalid_object_is_einval)
{
	struct kube_error e;
	cJSON *cm = configmap("Not_A_Valid_Name", NULL);

	ck_assert_int_eq(kube_request(client, "POST", "/api/v1/namespaces/default/configmaps", cm, NULL, NULL, &e),
			 KUBE_EINVALID);
	ck_assert_str_eq(e.reason, "Invalid");
	cJSON_Delete(cm);
}
END_TEST

START_TEST(lists_are_paginated_with_continue)
{
	cJSON *page = NULL;
	struct kube_error e;
	const char *cont;

	ck_assert_int_eq(kube_request(client, "GET", "/api/v1/namespaces?limit=1", NULL, NULL, &page, &e), 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
	cont = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(page, "metadata"), "continue"));
	ck_assert_msg(cont && *cont, "a cluster has more than one namespace, so page 1 must continue");
	cJSON_Delete(page);
}
END_TEST

struct seen {
	int events;
	char first_type[32];
};

static int count_event(void *ud, const char *type, cJSON *object)
{
	struct seen *s = ud;

	(void)object;
	if (s->events++ == 0)
		snprintf(s->first_type, sizeof(s->first_type), "%s", type ? type : "");
	return 0;
}

START_TEST(watch_streams_events_until_timeout)
{
	struct seen s = { 0 };
	struct kube_error e;
	atomic_bool stop = false;

	/* resourceVersion 0: start with ADDED events for existing namespaces; the server ends it after 1 s. */
	ck_assert_int_eq(kube_watch(client, "/api/v1/namespaces?watch=1&resourceVersion=0&timeoutSeconds=1", count_event,
				    &s, &stop, 30, &e), 0);
	ck_assert_int_ge(s.events, 2);
	ck_assert_str_eq(s.first_type, "ADDED");
}
END_TEST

static int stop_at_first(void *ud, const char *type, cJSON *object)
{
	(void)ud, (void)type, (void)object;
	return -EINTR;
}

START_TEST(watch_callback_can_stop_the_stream)
{
	struct kube_error e;

	ck_assert_int_eq(kube_watch(client, "/api/v1/namespaces?watch=1&resourceVersion=0&timeoutSeconds=30",
				    stop_at_first, NULL, NULL, 30, &e), -EINTR);
}
END_TEST

START_TEST(connection_refused_is_reported)
{
	struct kube_config bad = *cfg;
	struct kube_client *c;
	struct kube_error e;

	bad.server = "https://127.0.0.1:1";
	ck_assert_int_eq(kube_client_new(&bad, &c), 0);
	ck_assert_int_eq(kube_request(c, "GET", "/version", NULL, NULL, NULL, &e), -ECONNREFUSED);
	ck_assert_int_eq(e.http_status, 0);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_client");
	TCase *tc = tcase_create("kube_client");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, not_found_names_the_object);
	tcase_add_test(tc, create_conflict_and_delete_map_to_errno);
	tcase_add_test(tc, invalid_object_is_einval);
	tcase_add_test(tc, lists_are_paginated_with_continue);
	tcase_add_test(tc, watch_streams_events_until_timeout);
	tcase_add_test(tc, watch_callback_can_stop_the_stream);
	tcase_add_test(tc, connection_refused_is_reported);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
