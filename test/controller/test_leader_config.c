/* Leader election settings from the environment: client-go's defaults (15s/10s/2s), durations
 * like "15s", "500ms", "1m", the lease > deadline > 1.2 x retry rule, lock name and namespace. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "controller/leader_election.h"
#include "test/common/tap_main.h"

static void clear_env(void)
{
	unsetenv("LEADER_ELECTION_ENABLED");
	unsetenv("LEADER_ELECTION_LEASE_DURATION");
	unsetenv("LEADER_ELECTION_RENEW_DEADLINE");
	unsetenv("LEADER_ELECTION_RETRY_PERIOD");
	unsetenv("LEADER_ELECTION_LOCK_NAME");
	unsetenv("LEADER_ELECTION_LOCK_NAMESPACE");
}

START_TEST(defaults_are_client_go_defaults)
{
	struct leader_election_config c = { 0 };
	char why[256];

	clear_env();
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), 0);
	ck_assert(c.enabled);
	ck_assert_uint_eq(c.lease_duration_ms, 15000);
	ck_assert_uint_eq(c.renew_deadline_ms, 10000);
	ck_assert_uint_eq(c.retry_period_ms, 2000);
	ck_assert_str_eq(c.lock_name, "pcmc-controller-leader");
	ck_assert_str_eq(c.lock_namespace, "default");
	ck_assert_int_eq(leader_election_config_from_env(&c, "pcmc-system", why, sizeof(why)), 0);
	ck_assert_str_eq(c.lock_namespace, "pcmc-system");
}
END_TEST

START_TEST(settings_come_from_the_environment)
{
	struct leader_election_config c = { 0 };
	char why[256];

	clear_env();
	setenv("LEADER_ELECTION_ENABLED", "false", 1);
	setenv("LEADER_ELECTION_LEASE_DURATION", "1m", 1);
	setenv("LEADER_ELECTION_RENEW_DEADLINE", "20s", 1);
	setenv("LEADER_ELECTION_RETRY_PERIOD", "500ms", 1);
	setenv("LEADER_ELECTION_LOCK_NAME", "my-lock", 1);
	setenv("LEADER_ELECTION_LOCK_NAMESPACE", "ops", 1);
	ck_assert_int_eq(leader_election_config_from_env(&c, "ignored", why, sizeof(why)), 0);
	ck_assert(!c.enabled);
	ck_assert_uint_eq(c.lease_duration_ms, 60000);
	ck_assert_uint_eq(c.renew_deadline_ms, 20000);
	ck_assert_uint_eq(c.retry_period_ms, 500);
	ck_assert_str_eq(c.lock_name, "my-lock");
	ck_assert_str_eq(c.lock_namespace, "ops");
	clear_env();
}
END_TEST

START_TEST(inconsistent_durations_are_refused)
{
	struct leader_election_config c = { 0 };
	char why[256];

	clear_env();
	setenv("LEADER_ELECTION_RENEW_DEADLINE", "15s", 1); /* not below the lease duration */
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), -EINVAL);
	setenv("LEADER_ELECTION_RENEW_DEADLINE", "2s", 1);  /* not above 1.2 x retry period */
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "lease duration 15000ms, renew deadline 2000ms, retry period 2000ms: needs lease "
			      "duration > renew deadline > 1.2 x retry period");
	setenv("LEADER_ELECTION_RENEW_DEADLINE", "abc", 1);
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "LEADER_ELECTION_RENEW_DEADLINE=\"abc\": not a duration of at least 1ms like 15s or 500ms");
	/* The one duration grammar: no exponent, no infinity, no bare number, no sign. */
	for (const char *bad[] = { "1e3s", "inf", "10", "-5s", " 5s", "0s", NULL }, **b = bad; *b; b++) {
		setenv("LEADER_ELECTION_RENEW_DEADLINE", *b, 1);
		ck_assert_msg(leader_election_config_from_env(&c, NULL, why, sizeof(why)) == -EINVAL, "%s accepted", *b);
	}
	setenv("LEADER_ELECTION_RENEW_DEADLINE", "1m", 1);
	setenv("LEADER_ELECTION_LEASE_DURATION", "1m30s", 1);
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), 0);
	ck_assert_uint_eq(c.lease_duration_ms, 90000);
	setenv("LEADER_ELECTION_ENABLED", "yes", 1);
	ck_assert_int_eq(leader_election_config_from_env(&c, NULL, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "LEADER_ELECTION_ENABLED=\"yes\": not true or false");
	clear_env();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leader_config");
	TCase *tc = tcase_create("leader_config");

	tcase_add_test(tc, defaults_are_client_go_defaults);
	tcase_add_test(tc, settings_come_from_the_environment);
	tcase_add_test(tc, inconsistent_durations_are_refused);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
