/* A line-by-line reader of the text exposition format: name, optional {label="value",...} with
 * \\, \" and \n escapes, then the value (Go's float syntax incl. +Inf, -Inf, NaN). */
#include "kubectl-pcmc/prom_text.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *prom_label(const struct prom_sample *s, const char *label)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (!strcmp(s->label[i], label))
			return s->value_text[i];
	return NULL;
}

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* Copies a name at *p into buf; 0 or -EINVAL. */
static int read_name(const char **p, char *buf, size_t cap)
{
	size_t n = 0;

	if (!name_char(**p, true))
		return -EINVAL;
	while (name_char(**p, n == 0)) {
		if (n + 1 >= cap)
			return -EINVAL;
		buf[n++] = *(*p)++;
	}
	buf[n] = '\0';
	return 0;
}

static int read_quoted(const char **p, char *buf, size_t cap)
{
	size_t n = 0;

	if (*(*p)++ != '"')
		return -EINVAL;
	while (**p && **p != '"' && **p != '\n') {
		char c = *(*p)++;

		if (c == '\\') {
			c = *(*p)++;
			c = c == 'n' ? '\n' : c;
			if (c != '\n' && c != '\\' && c != '"')
				return -EINVAL;
		}
		if (n + 1 >= cap)
			return -EINVAL;
		buf[n++] = c;
	}
	if (*(*p)++ != '"')
		return -EINVAL;
	buf[n] = '\0';
	return 0;
}

static int parse_line(const char *p, const char *end, struct prom_sample *s)
{
	char *num_end;

	s->n_labels = 0;
	if (read_name(&p, s->name, sizeof(s->name)))
		return -EINVAL;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (s->n_labels == PROM_MAX_LABELS || read_name(&p, s->label[s->n_labels], sizeof(s->label[0])) ||
			    *p++ != '=' || read_quoted(&p, s->value_text[s->n_labels], sizeof(s->value_text[0])))
				return -EINVAL;
			s->n_labels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -EINVAL;
		}
		p++;
	}
	if (*p != ' ')
		return -EINVAL;
	while (*p == ' ')
		p++;
	s->value = strtod(p, &num_end);
	if (num_end == p)
		return -EINVAL;
	while (num_end < end && *num_end == ' ') /* an optional timestamp is ignored */
		num_end++;
	while (num_end < end && isdigit((unsigned char)*num_end))
		num_end++;
	return num_end == end ? 0 : -EINVAL;
}

int prom_text_each(const char *text, int (*fn)(void *ud, const struct prom_sample *s), void *ud, int *bad_line)
{
	struct prom_sample s;
	int line = 0, rc;

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		char buf[1024];
		size_t len;

		end = end ? end : p + strlen(p);
		len = (size_t)(end - p);
		line++;
		if (len && *p != '#') {
			if (len >= sizeof(buf)) {
				*bad_line = line;
				return -EINVAL;
			}
			memcpy(buf, p, len);
			buf[len] = '\0';
			if (parse_line(buf, buf + len, &s)) {
				*bad_line = line;
				return -EINVAL;
			}
			if ((rc = fn(ud, &s)))
				return rc;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}
