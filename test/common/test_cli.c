/* The command line every pcmc binary shares: flag forms, environment fallback and precedence,
 * errors that name the flag and the value, --help/--version, positional arguments, --log-level. */
#include "common/build_info.h"
#include "common/cli.h"
#include "common/log.h"
#include "test/common/tap_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct settings {
	const char *listen, *node, *auth;
	int workers;
	bool push;
};

static struct settings s;
static char *out_text, *err_text;
static size_t out_len, err_len;
static FILE *out, *err;

static void setup(void)
{
	s = (struct settings){ .listen = "0.0.0.0:9090", .auth = "tokenreview", .workers = 2 };
	unsetenv("PCMC_TEST_NODE");
	unsetenv("PCMC_TEST_PUSH");
	unsetenv("PCMC_TEST_WORKERS");
	unsetenv("PCMC_LOG_LEVEL");
	out = open_memstream(&out_text, &out_len);
	err = open_memstream(&err_text, &err_len);
}

static void teardown(void)
{
	fclose(out);
	fclose(err);
	free(out_text);
	free(err_text);
}

/* Parses a NULL-terminated argument list (argv[0] is added) with the test program's table. */
static int parse_n(int max_positional, int *n_pos, char **argv_out, const char *const *args)
{
	static const struct cli_flag table[] = {
		{ .name = "listen", .value = &s.listen, .metavar = "ADDR:PORT", .help = "where to listen" },
		{ .name = "node-name", .short_name = 'n', .value = &s.node, .metavar = "NAME", .env = "PCMC_TEST_NODE",
		  .help = "this node" },
		{ .name = "auth", .value = &s.auth, .choices = "tokenreview|none", .help = "who may push" },
		{ .name = "workers", .kind = CLI_INT, .value = &s.workers, .metavar = "N", .min = 1, .max = 64,
		  .env = "PCMC_TEST_WORKERS", .help = "threads" },
		{ .name = "push", .kind = CLI_BOOL, .value = &s.push, .env = "PCMC_TEST_PUSH", .help = "push" },
	};
	const struct cli_program prog = { .name = "pcmc-test", .summary = "A test program.", .flags = table,
					  .n_flags = 5, .max_positional = max_positional, .out = out, .err = err,
					  .footer = "See the docs.\n" };
	int argc = 1;

	argv_out[0] = "pcmc-test";
	for (; args[argc - 1]; argc++)
		argv_out[argc] = (char *)args[argc - 1];
	argv_out[argc] = NULL;
	return cli_parse(&prog, argc, argv_out, n_pos);
}

#define PARSE(...) ({ char *argv_[32]; parse_n(0, NULL, argv_, (const char *const[]){ __VA_ARGS__, NULL }); })

static const char *err_output(void)
{
	fflush(err);
	return err_text;
}

static const char *out_output(void)
{
	fflush(out);
	return out_text;
}

START_TEST(defaults_stay_when_nothing_is_given)
{
	char *argv[2];

	ck_assert_int_eq(parse_n(0, NULL, argv, (const char *const[]){ NULL }), 0);
	ck_assert_str_eq(s.listen, "0.0.0.0:9090");
	ck_assert_ptr_null(s.node);
	ck_assert_int_eq(s.workers, 2);
	ck_assert(!s.push);
}
END_TEST

START_TEST(both_flag_forms_and_short_flags_set_values)
{
	ck_assert_int_eq(PARSE("--listen", "127.0.0.1:1", "--workers=7", "-n", "node-a"), 0);
	ck_assert_str_eq(s.listen, "127.0.0.1:1");
	ck_assert_int_eq(s.workers, 7);
	ck_assert_str_eq(s.node, "node-a");
	ck_assert_int_eq(PARSE("-nnode-b", "--push"), 0);
	ck_assert_str_eq(s.node, "node-b");
	ck_assert(s.push);
	ck_assert_int_eq(PARSE("--push=false", "--listen="), 0);
	ck_assert(!s.push);
	ck_assert_str_eq(s.listen, "");
}
END_TEST

START_TEST(environment_applies_and_a_flag_wins_over_it)
{
	setenv("PCMC_TEST_NODE", "from-env", 1);
	setenv("PCMC_TEST_WORKERS", "5", 1);
	setenv("PCMC_TEST_PUSH", "True", 1);
	ck_assert_int_eq(PARSE("--workers", "9"), 0);
	ck_assert_str_eq(s.node, "from-env");
	ck_assert_int_eq(s.workers, 9);
	ck_assert(s.push);
	/* The flag is exported, so code reading the variable itself sees the flag's value. */
	ck_assert_str_eq(getenv("PCMC_TEST_WORKERS"), "9");
	ck_assert_int_eq(PARSE("--push=0"), 0);
	ck_assert_str_eq(getenv("PCMC_TEST_PUSH"), "false");
}
END_TEST

START_TEST(bad_values_name_the_flag_or_variable_and_the_value)
{
	ck_assert_int_eq(PARSE("--workers", "0"), -EINVAL);
	ck_assert_str_eq(err_output(), "pcmc-test: --workers must be an integer from 1 to 64, got \"0\"\n");
	ck_assert_int_eq(PARSE("--workers=12x"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "got \"12x\""));
	ck_assert_int_eq(PARSE("--auth", "basic"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "--auth must be one of tokenreview|none, got \"basic\""));
	ck_assert_int_eq(PARSE("--push=maybe"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "--push must be true or false, got \"maybe\""));
	setenv("PCMC_TEST_WORKERS", "100", 1);
	ck_assert_int_eq(PARSE("--listen", "x:1"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "environment variable PCMC_TEST_WORKERS must be an integer from 1 to 64, got \"100\""));
	ck_assert_int_eq(s.workers, 2);
}
END_TEST

START_TEST(unknown_flags_missing_values_and_stray_arguments_are_refused)
{
	ck_assert_int_eq(PARSE("--listne", "x"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "pcmc-test: unknown flag \"--listne\" (see pcmc-test --help)"));
	ck_assert_int_eq(PARSE("--listen"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "--listen needs a value (ADDR:PORT)"));
	ck_assert_int_eq(PARSE("status"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "unexpected argument \"status\""));
	ck_assert_int_eq(PARSE("-x"), -EINVAL);
}
END_TEST

START_TEST(help_prints_flags_defaults_and_variables_even_beside_errors)
{
	ck_assert_int_eq(PARSE("--workers", "0", "--help"), CLI_EXIT);
	ck_assert_str_eq(err_output(), "");
	ck_assert_ptr_nonnull(strstr(out_output(), "usage: pcmc-test [FLAGS]\nA test program.\n"));
	ck_assert_ptr_nonnull(strstr(out_text, "--listen ADDR:PORT"));
	ck_assert_ptr_nonnull(strstr(out_text, "where to listen (default 0.0.0.0:9090)\n"));
	ck_assert_ptr_nonnull(strstr(out_text, "-n, --node-name NAME"));
	ck_assert_ptr_nonnull(strstr(out_text, "this node [$PCMC_TEST_NODE]\n"));
	ck_assert_ptr_nonnull(strstr(out_text, "--auth tokenreview|none"));
	ck_assert_ptr_nonnull(strstr(out_text, "threads (default 2) [$PCMC_TEST_WORKERS]\n"));
	ck_assert_ptr_nonnull(strstr(out_text, "--log-level debug|info|warn|error"));
	ck_assert_ptr_nonnull(strstr(out_text, "[$PCMC_LOG_LEVEL]\n"));
	ck_assert_ptr_nonnull(strstr(out_text, "--version"));
	ck_assert_ptr_nonnull(strstr(out_text, "\nSee the docs.\n"));
	ck_assert_int_eq(PARSE("-h"), CLI_EXIT);
}
END_TEST

START_TEST(version_names_the_program_version_and_revision)
{
	const struct build_info *b = build_info();
	FILE *f = fopen("VERSION", "r");
	char version[64] = "", expected[256];

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(version, sizeof(version), f));
	fclose(f);
	version[strcspn(version, "\n")] = '\0';
	ck_assert_str_eq(b->version, version);
	ck_assert_int_ge(strlen(b->revision), 7);
	ck_assert_int_eq(PARSE("--version"), CLI_EXIT);
	snprintf(expected, sizeof(expected), "pcmc-test %s (revision %s, %s, %s)\n", version, b->revision, b->compiler,
		 b->arch);
	ck_assert_str_eq(out_output(), expected);
}
END_TEST

START_TEST(positional_arguments_move_to_the_front_in_order)
{
	char *argv[32];
	int n = -1;

	ck_assert_int_eq(parse_n(2, &n, argv, (const char *const[]){ "why", "--workers", "3", "--", "-odd-pod", NULL }), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(argv[1], "why");
	ck_assert_str_eq(argv[2], "-odd-pod");
	ck_assert_int_eq(s.workers, 3);
	ck_assert_int_eq(parse_n(2, &n, argv, (const char *const[]){ "a", "b", "c", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "unexpected argument \"c\""));
}
END_TEST

/* Reads what log_* wrote to stderr while fn ran. */
static void capture_stderr_of(void (*fn)(void), char *buf, size_t cap)
{
	char path[] = "/tmp/pcmc-cli-test-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void log_one_debug_and_one_info(void)
{
	log_debug("debug line");
	log_info("info line");
}

START_TEST(log_level_flag_and_variable_set_the_lowest_level_logged)
{
	char text[1024];

	ck_assert_int_eq(PARSE("--log-level", "debug"), 0);
	capture_stderr_of(log_one_debug_and_one_info, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "\"msg\":\"debug line\""));
	ck_assert_ptr_nonnull(strstr(text, "\"msg\":\"info line\""));

	setenv("PCMC_LOG_LEVEL", "warn", 1);
	ck_assert_int_eq(PARSE("--listen", "x:1"), 0);
	capture_stderr_of(log_one_debug_and_one_info, text, sizeof(text));
	ck_assert_str_eq(text, "");

	ck_assert_int_eq(PARSE("--log-level=verbose"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "--log-level must be one of debug|info|warn|error, got \"verbose\""));
	setenv("PCMC_LOG_LEVEL", "loud", 1);
	ck_assert_int_eq(PARSE("--listen", "x:1"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_output(), "environment variable PCMC_LOG_LEVEL must be one of"));
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_stay_when_nothing_is_given);
	tcase_add_test(tc, both_flag_forms_and_short_flags_set_values);
	tcase_add_test(tc, environment_applies_and_a_flag_wins_over_it);
	tcase_add_test(tc, bad_values_name_the_flag_or_variable_and_the_value);
	tcase_add_test(tc, unknown_flags_missing_values_and_stray_arguments_are_refused);
	tcase_add_test(tc, help_prints_flags_defaults_and_variables_even_beside_errors);
	tcase_add_test(tc, version_names_the_program_version_and_revision);
	tcase_add_test(tc, positional_arguments_move_to_the_front_in_order);
	tcase_add_test(tc, log_level_flag_and_variable_set_the_lowest_level_logged);
	suite_add_tcase(suite, tc);
	return run_suite_with_tap(suite);
}
