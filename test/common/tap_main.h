/* Runs a Check suite with TAP lines on stdout (what test/run-suites.sh counts) and returns the
 * process exit status: 0 only if every test passed. */
#ifndef PCMC_TEST_COMMON_TAP_MAIN_H
#define PCMC_TEST_COMMON_TAP_MAIN_H

#include <check.h>

static inline int run_suite_with_tap(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_set_tap(runner, "-");
	srunner_run_all(runner, CK_SILENT);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? 0 : 1;
}

#endif
