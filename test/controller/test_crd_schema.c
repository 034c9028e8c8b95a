/* The CRD against the C tables it must agree with: the syscallNames rule lists exactly the union of
 * common/syscall_table's x86_64 and arm64 names (regenerate with `make crd-syscalls`). */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/syscall_table.h"
#include "test/common/tap_main.h"

#define MAX_NAMES 1024

static char *names[MAX_NAMES];
static size_t nnames;

/* The quoted names between the "self in [" line and the "]" line of the CRD. */
static void read_crd_names(void)
{
	const char *path = getenv("PCMC_CRD") ? getenv("PCMC_CRD") : "crds/podconfigmapconfig.yaml";
	FILE *f = fopen(path, "r");
	char line[4096];
	bool inside = false;

	ck_assert_msg(f, "cannot open %s (run from the repository root or set PCMC_CRD)", path);
	while (fgets(line, sizeof(line), f)) {
		const char *s = line + strspn(line, " ");

		if (!inside) {
			inside = strcmp(s, "self in [\n") == 0;
			continue;
		}
		if (strcmp(s, "]\n") == 0)
			break;
		for (char *q = strchr(line, '\''); q; q = strchr(q, '\'')) {
			char *end = strchr(q + 1, '\'');

			ck_assert_msg(end, "unterminated name in: %s", line);
			ck_assert(nnames < MAX_NAMES);
			names[nnames++] = strndup(q + 1, (size_t)(end - q - 1));
			q = end + 1;
		}
	}
	fclose(f);
	ck_assert_msg(inside, "no 'self in [' list in %s", path);
}

START_TEST(syscall_names_rule_is_the_union_of_both_architectures)
{
	int on_x86 = 0, on_arm64 = 0;

	read_crd_names();
	for (size_t i = 0; i < nnames; i++) {
		bool x86 = syscall_table_number_for("x86_64", names[i]) >= 0;
		bool arm = syscall_table_number_for("arm64", names[i]) >= 0;

		ck_assert_msg(x86 || arm, "the CRD accepts %s, which neither x86_64 nor arm64 knows", names[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(names[i], names[j]) != 0, "%s listed twice", names[i]);
		on_x86 += x86;
		on_arm64 += arm;
	}
	/* Distinct names, each known somewhere: as many known per table as the table holds means none is missing. */
	ck_assert_msg(on_x86 == syscall_table_size_for("x86_64"), "the CRD lists %d of x86_64's %d syscalls (make crd-syscalls)",
		      on_x86, syscall_table_size_for("x86_64"));
	ck_assert_msg(on_arm64 == syscall_table_size_for("arm64"), "the CRD lists %d of arm64's %d syscalls (make crd-syscalls)",
		      on_arm64, syscall_table_size_for("arm64"));
	ck_assert_int_ge(syscall_table_number_for("x86_64", "open"), 0);
	ck_assert_int_lt(syscall_table_number_for("arm64", "open"), 0);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crd_schema");
	TCase *tc = tcase_create("crd_schema");

	tcase_add_test(tc, syscall_names_rule_is_the_union_of_both_architectures);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
