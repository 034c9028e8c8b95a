/* Command-line parsing shared by every pcmc binary: the flag table is the one description of each
 * setting (usage text, environment variable, type, bounds); see common/cli.h for the rules. */
#include "common/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/build_info.h"
#include "common/log.h"

/* The flags every program has, after its own. */
static const char *log_level_value = "info";
static const struct cli_flag common_flags[] = {
	{ .name = "log-level", .kind = CLI_STRING, .value = &log_level_value, .metavar = "LEVEL",
	  .help = "lowest level logged", .env = "PCMC_LOG_LEVEL", .choices = "debug|info|warn|error" },
	{ .name = "help", .short_name = 'h', .kind = CLI_BOOL, .help = "print this text and exit" },
	{ .name = "version", .kind = CLI_BOOL, .help = "print the version and exit" },
};
#define N_COMMON (sizeof(common_flags) / sizeof(common_flags[0]))

static FILE *out_of(const struct cli_program *p)
{
	return p->out ? p->out : stdout;
}

static FILE *err_of(const struct cli_program *p)
{
	return p->err ? p->err : stderr;
}

static const struct cli_flag *flag_at(const struct cli_program *p, size_t i)
{
	return i < p->n_flags ? &p->flags[i] : &common_flags[i - p->n_flags];
}

/* Go's strconv.ParseBool spellings, which users of Kubernetes tools already know. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]))
			return *out = true, 0;
		if (!strcmp(s, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *c = choices; c && *c;) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);

		if (len == n && !strncmp(c, v, n))
			return true;
		c = bar ? bar + 1 : c + len;
	}
	return !choices;
}

/* Stores v in the flag's target. `from` names where it came from for the error: "--workers" or
 * "environment variable LEADER_ELECTION_ENABLED". */
static int set_value(const struct cli_program *p, const struct cli_flag *f, const char *v, const char *from)
{
	switch (f->kind) {
	case CLI_STRING:
		if (!in_choices(f->choices, v)) {
			fprintf(err_of(p), "%s: %s must be one of %s, got \"%s\"\n", p->name, from, f->choices, v);
			return -EINVAL;
		}
		if (f->value)
			*(const char **)f->value = v;
		return 0;
	case CLI_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < f->min || n > f->max) {
			fprintf(err_of(p), "%s: %s must be an integer from %d to %d, got \"%s\"\n", p->name, from,
				f->min, f->max, v);
			return -EINVAL;
		}
		if (f->value)
			*(int *)f->value = (int)n;
		return 0;
	}
	case CLI_BOOL: {
		bool b;

		if (parse_bool(v, &b)) {
			fprintf(err_of(p), "%s: %s must be true or false, got \"%s\"\n", p->name, from, v);
			return -EINVAL;
		}
		if (f->value)
			*(bool *)f->value = b;
		return 0;
	}
	}
	return -EINVAL;
}

static void print_default(FILE *out, const struct cli_flag *f)
{
	switch (f->kind) {
	case CLI_STRING:
		if (f->value && *(const char **)f->value && **(const char **)f->value)
			fprintf(out, " (default %s)", *(const char **)f->value);
		break;
	case CLI_INT:
		if (f->value)
			fprintf(out, " (default %d)", *(int *)f->value);
		break;
	case CLI_BOOL:
		if (f->value)
			fprintf(out, " (default %s)", *(bool *)f->value ? "true" : "false");
		break;
	}
}

/* "  -n, --namespace NS" or "      --listen ADDR:PORT": the left column of the usage text. */
static int flag_head(const struct cli_flag *f, char *head, size_t cap)
{
	int n = f->short_name ? snprintf(head, cap, "  -%c, --%s", f->short_name, f->name) :
				snprintf(head, cap, "      --%s", f->name);

	if (f->kind != CLI_BOOL && n > 0 && (size_t)n < cap)
		n += snprintf(head + n, cap - (size_t)n, " %s", f->choices ? f->choices : f->metavar ? f->metavar : "VALUE");
	return n < (int)cap ? n : (int)cap - 1;
}

void cli_usage(const struct cli_program *p, FILE *out)
{
	fprintf(out, "usage: %s %s\n%s\n\nflags (a flag wins over its environment variable, shown as $NAME):\n",
		p->name, p->usage ? p->usage : "[FLAGS]", p->summary);
	int width = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->n_flags + N_COMMON; i++) {
			const struct cli_flag *f = flag_at(p, i);
			char head[128];
			int n = flag_head(f, head, sizeof(head));

			if (pass == 0) {
				width = n > width ? n : width;
				continue;
			}
			fprintf(out, "%-*s  %s", width, head, f->help);
			print_default(out, f);
			if (f->env)
				fprintf(out, " [$%s]", f->env);
			fputc('\n', out);
		}
	}
	if (p->footer)
		fprintf(out, "\n%s", p->footer);
}

static void print_version_of(const char *name, FILE *out)
{
	const struct build_info *b = build_info();

	fprintf(out, "%s %s (revision %s, %s, %s)\n", name, b->version, b->revision, b->compiler, b->arch);
}

static void print_version(const struct cli_program *p)
{
	print_version_of(p->name, out_of(p));
}

int cli_help_or_version(const char *name, int argc, char **argv, void (*usage)(FILE *out))
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_EXIT;
		}
		if (!strcmp(argv[i], "--version")) {
			print_version_of(name, stdout);
			return CLI_EXIT;
		}
	}
	return 0;
}

/* The flag named by argv[i] ("--name", "--name=v", "-n", "-nVALUE"), or NULL. *inline_value is the
 * text after '=' (long) or after the letter (short), if any. */
static const struct cli_flag *find_flag(const struct cli_program *p, const char *arg, const char **inline_value)
{
	*inline_value = NULL;
	if (arg[1] == '-') {
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);

		for (size_t i = 0; i < p->n_flags + N_COMMON; i++) {
			const struct cli_flag *f = flag_at(p, i);

			if (strlen(f->name) == len && !strncmp(f->name, name, len)) {
				*inline_value = eq ? eq + 1 : NULL;
				return f;
			}
		}
		return NULL;
	}
	for (size_t i = 0; i < p->n_flags + N_COMMON; i++) {
		const struct cli_flag *f = flag_at(p, i);

		if (f->short_name && f->short_name == arg[1]) {
			*inline_value = arg[2] ? arg + 2 + (arg[2] == '=') : NULL;
			return f;
		}
	}
	return NULL;
}

static bool is_flag(const char *arg)
{
	return arg[0] == '-' && arg[1] && strcmp(arg, "-") != 0;
}

/* A flag given on the command line becomes its environment variable too (booleans as true/false). */
static int export_setting(const struct cli_flag *f, const char *v)
{
	bool b;

	if (f->kind == CLI_BOOL && !parse_bool(v, &b))
		v = b ? "true" : "false";
	return setenv(f->env, v, 1);
}

/* --help and --version win over everything else on the line, even over errors in other flags. */
static int find_help_or_version(const struct cli_program *p, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *inline_value;
		const struct cli_flag *f = is_flag(argv[i]) ? find_flag(p, argv[i], &inline_value) : NULL;

		if (f == &common_flags[1]) {
			cli_usage(p, out_of(p));
			return CLI_EXIT;
		}
		if (f == &common_flags[2]) {
			print_version(p);
			return CLI_EXIT;
		}
	}
	return 0;
}

static int apply_environment(const struct cli_program *p)
{
	for (size_t i = 0; i < p->n_flags + N_COMMON; i++) {
		const struct cli_flag *f = flag_at(p, i);
		const char *v = f->env ? getenv(f->env) : NULL;
		char from[128];

		if (!v || !*v)
			continue;
		snprintf(from, sizeof(from), "environment variable %s", f->env);
		if (set_value(p, f, v, from))
			return -EINVAL;
	}
	return 0;
}

static int apply_log_level(const struct cli_program *p)
{
	enum log_level level;

	if (log_level_parse(log_level_value, &level)) {
		fprintf(err_of(p), "%s: --log-level must be one of debug|info|warn|error, got \"%s\"\n", p->name,
			log_level_value);
		return -EINVAL;
	}
	log_set_level(level);
	return 0;
}

int cli_parse(const struct cli_program *p, int argc, char **argv, int *n_positional)
{
	bool flags_done = false;
	int n_pos = 0, rc;

	log_level_value = p->default_log_level ? p->default_log_level : "info";
	rc = find_help_or_version(p, argc, argv);
	if (rc)
		return rc;
	if (apply_environment(p))
		return -EINVAL;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v;
		const struct cli_flag *f;
		char from[80];

		if (flags_done || !is_flag(arg)) {
			if (n_pos >= p->max_positional) {
				fprintf(err_of(p), "%s: unexpected argument \"%s\" (see %s --help)\n", p->name, arg, p->name);
				return -EINVAL;
			}
			argv[++n_pos] = (char *)arg;
			continue;
		}
		if (!strcmp(arg, "--")) {
			flags_done = true;
			continue;
		}
		f = find_flag(p, arg, &v);
		if (!f) {
			fprintf(err_of(p), "%s: unknown flag \"%s\" (see %s --help)\n", p->name, arg, p->name);
			return -EINVAL;
		}
		if (!v && f->kind == CLI_BOOL)
			v = "true";
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v) {
			fprintf(err_of(p), "%s: --%s needs a value (%s)\n", p->name, f->name, f->metavar ? f->metavar : "VALUE");
			return -EINVAL;
		}
		snprintf(from, sizeof(from), "--%s", f->name);
		if (set_value(p, f, v, from))
			return -EINVAL;
		if (f->env && export_setting(f, v))
			return -errno;
	}
	if (n_positional)
		*n_positional = n_pos;
	return apply_log_level(p);
}
