/* Command-line conventions every pcmc binary shares: --flag VALUE or --flag=VALUE, a setting read
 * from its environment variable when the flag is absent, --help, --version and --log-level. */
#ifndef PCMC_COMMON_CLI_H
#define PCMC_COMMON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_kind { CLI_STRING, CLI_INT, CLI_BOOL };

struct cli_flag {
	const char *name;    /* without the dashes: "listen" is --listen */
	char short_name;     /* -n, or 0 */
	enum cli_kind kind;
	/* const char ** (CLI_STRING), int * (CLI_INT) or bool * (CLI_BOOL), holding the default on
	 * entry; NULL for a setting only exported to the environment (see cli_parse). */
	void *value;
	const char *metavar; /* "ADDR:PORT"; unused for CLI_BOOL */
	const char *help;    /* one line; the default is printed after it */
	const char *env;     /* read when the flag is absent, or NULL */
	const char *choices; /* CLI_STRING: "tokenreview|none" restricts the value, or NULL */
	int min, max;        /* CLI_INT: the value must be in [min, max] */
};

struct cli_program {
	const char *name;    /* "pcmc-agent": usage, --version and every error start with it */
	const char *usage;   /* the synopsis after the name: "[FLAGS]", "status [CR] [FLAGS]" */
	const char *summary; /* what the program is, one or two lines */
	const struct cli_flag *flags;
	size_t n_flags;
	const char *footer;  /* printed after the flags (environment, documents), or NULL */
	int max_positional;  /* arguments that are not flags, e.g. a subcommand; 0 = none allowed */
	const char *default_log_level; /* --log-level's default; NULL: info */
	FILE *out, *err;     /* --help/--version and errors; NULL = stdout, stderr */
};

/* The value cli_parse returns after printing --help or --version: the caller exits with 0. */
#define CLI_EXIT 1

/* Applies, in order: each flag's default, its environment variable, the command line (the last one
 * given wins). A setting given on the command line is also exported to its environment variable,
 * so code that reads the environment itself (leader election, logging) sees the flag's value.
 * --log-level LEVEL ($PCMC_LOG_LEVEL) sets the log level. Arguments that are not flags are moved,
 * in order, to argv[1..*n_positional] ("--" ends the flags).
 * Returns 0 (run), CLI_EXIT (--help or --version printed) or -EINVAL (the error printed, naming the
 * flag or variable and the value: exit with 2). */
int cli_parse(const struct cli_program *p, int argc, char **argv, int *n_positional);
void cli_usage(const struct cli_program *p, FILE *out);
/* For a program whose own grammar does not fit a flag table (pcmc-dataplane's per-pod flags):
 * --help or -h anywhere before "--" calls usage(stdout), --version prints the version line.
 * Returns CLI_EXIT when it printed (exit 0), else 0. */
int cli_help_or_version(const char *name, int argc, char **argv, void (*usage)(FILE *out));

#endif
