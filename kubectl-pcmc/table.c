/* Table cells are kept as strings until printing, when the column widths are known. */
#include "kubectl-pcmc/table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct table {
	size_t n_columns;
	char **cells;       /* headers first, then rows, n_columns per row */
	size_t n_cells, cap;
};

static int push(struct table *t, char *cell)
{
	if (!cell)
		return -ENOMEM;
	if (t->n_cells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **c = realloc(t->cells, cap * sizeof(*c));

		if (!c) {
			free(cell);
			return -ENOMEM;
		}
		t->cells = c;
		t->cap = cap;
	}
	t->cells[t->n_cells++] = cell;
	return 0;
}

struct table *table_new(size_t n_columns, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t || n_columns == 0 || n_columns > TABLE_MAX_COLUMNS) {
		free(t);
		return NULL;
	}
	t->n_columns = n_columns;
	for (size_t i = 0; i < n_columns; i++) {
		if (push(t, strdup(headers[i]))) {
			table_free(t);
			return NULL;
		}
	}
	return t;
}

int table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *cell;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&cell, fmt, ap);
	va_end(ap);
	return push(t, n < 0 ? NULL : cell);
}

int table_end_row(struct table *t)
{
	while (t->n_cells % t->n_columns)
		if (push(t, strdup("")))
			return -ENOMEM;
	return 0;
}

size_t table_rows(const struct table *t)
{
	return t->n_cells / t->n_columns - 1;
}

void table_print(const struct table *t, FILE *out, const char *indent)
{
	size_t width[TABLE_MAX_COLUMNS] = { 0 };

	for (size_t i = 0; i < t->n_cells; i++) {
		size_t len = strlen(t->cells[i]);

		if (len > width[i % t->n_columns])
			width[i % t->n_columns] = len;
	}
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t col = i % t->n_columns, rest_empty = 1;

		for (size_t k = i + 1; k < i - col + t->n_columns; k++)
			rest_empty &= !t->cells[k][0];
		if (col == 0)
			fputs(indent, out);
		if (rest_empty) { /* no trailing blanks */
			fprintf(out, "%s\n", t->cells[i]);
			i += t->n_columns - col - 1;
			continue;
		}
		fprintf(out, "%-*s   ", (int)width[col], t->cells[i]);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
