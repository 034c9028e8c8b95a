/* Reading Prometheus text exposition (format 0.0.4) as served by pcmc-agent's /metrics: each
 * sample's name, labels and value. For `kubectl pcmc top`; not a general parser (no timestamps
 * are needed, none are served). */
#ifndef PCMC_KUBECTL_PROM_TEXT_H
#define PCMC_KUBECTL_PROM_TEXT_H

#include <stddef.h>

#define PROM_MAX_LABELS 8

struct prom_sample {
	char name[128];
	size_t n_labels;
	char label[PROM_MAX_LABELS][64];
	char value_text[PROM_MAX_LABELS][256]; /* unescaped label values */
	double value;
};

/* The label's value in s, or NULL. */
const char *prom_label(const struct prom_sample *s, const char *label);

/* Calls fn for every sample of text (comments and blank lines skipped) until fn returns non-zero.
 * Returns 0, fn's value, or -EINVAL with *bad_line (1-based) for a line that does not parse. */
int prom_text_each(const char *text, int (*fn)(void *ud, const struct prom_sample *s), void *ud, int *bad_line);

#endif
