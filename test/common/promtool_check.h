/* promtool's verdict on exposition text, for the tests of the metrics code (Check assertions). */
#ifndef PCMC_TEST_COMMON_PROMTOOL_CHECK_H
#define PCMC_TEST_COMMON_PROMTOOL_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the real promtool on the text; returns its exit status and leaves its output in *report. */
static inline int promtool_check(const char *text, char *report, size_t cap)
{
	char path[] = "/tmp/pcmc-metrics-XXXXXX", cmd[256];
	int fd = mkstemp(path), status;
	FILE *p;
	size_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(report, 1, cap - 1, p);
	report[n] = '\0';
	status = pclose(p);
	unlink(path);
	ck_assert_msg(WIFEXITED(status), "promtool did not exit");
	return WEXITSTATUS(status);
}

#endif
