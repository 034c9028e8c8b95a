/* common/syscall_table: the 32-bit (i386) entry's numbers translated to native ones by name, as the
 * syscall counter uses them (an int 0x80 getppid counts as getppid, not as native 64, semget). */
#include <check.h>
#include <errno.h>

#include "common/syscall_table.h"
#include "test/common/tap_main.h"

START_TEST(compat_numbers_translate_by_name)
{
#if defined(__x86_64__)
	ck_assert_int_eq(syscall_table_compat_native(64), syscall_table_number("getppid")); /* 64: native semget */
	ck_assert_int_eq(syscall_table_compat_native(65), syscall_table_number("getpgrp")); /* 65: native semop */
	ck_assert_int_eq(syscall_table_compat_native(4), syscall_table_number("write"));
	ck_assert_int_eq(syscall_table_compat_native(102), -ENOENT); /* socketcall: i386 only */
	ck_assert_int_eq(syscall_table_compat_native(140), -ENOENT); /* _llseek */
#else
	ck_assert_int_eq(syscall_table_compat_native(64), -ENOENT); /* no 32-bit table on arm64 */
#endif
	ck_assert_int_eq(syscall_table_compat_native(-1), -ENOENT);
	ck_assert_int_eq(syscall_table_compat_native(100000), -ENOENT);
}
END_TEST

START_TEST(the_i386_table_is_generated)
{
	ck_assert_int_gt(syscall_table_size_for("i386"), 400);
	ck_assert_int_eq(syscall_table_number_for("i386", "getppid"), 64);
	ck_assert_int_eq(syscall_table_number_for("i386", "socketcall"), 102);
	ck_assert_int_eq(syscall_table_number_for("x86_64", "socketcall"), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("syscall_table");
	TCase *tc = tcase_create("compat");

	tcase_add_test(tc, compat_numbers_translate_by_name);
	tcase_add_test(tc, the_i386_table_is_generated);
	suite_add_tcase(s, tc);
	return run_suite_with_tap(s);
}
