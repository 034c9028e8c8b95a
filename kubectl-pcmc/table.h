/* Text tables as kubectl prints them: upper-case headers, columns padded to their widest cell
 * and separated by three spaces; no blanks at the end of a line. */
#ifndef PCMC_KUBECTL_TABLE_H
#define PCMC_KUBECTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLUMNS 8

struct table;

/* NULL on allocation failure. Headers are copied. */
struct table *table_new(size_t n_columns, const char *const *headers);
/* Cells are added left to right with table_cell; table_end_row fills a short row with "". */
int table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int table_end_row(struct table *t);
size_t table_rows(const struct table *t);
/* Prints the headers and rows, each line prefixed with `indent`. */
void table_print(const struct table *t, FILE *out, const char *indent);
void table_free(struct table *t);

#endif
