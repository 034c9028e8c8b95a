/* Label selector parsing and matching with apimachinery's rules: matchLabels are ANDed with
 * matchExpressions; In/NotIn need values, Exists/DoesNotExist must have none. */
#include "controller/selector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void label_selector_free(struct label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->nreqs; i++) {
		free(sel->reqs[i].key);
		for (size_t j = 0; j < sel->reqs[i].nvalues; j++)
			free(sel->reqs[i].values[j]);
		free(sel->reqs[i].values);
	}
	free(sel->reqs);
	free(sel);
}

static int add_requirement(struct label_selector *sel, const char *key, enum selector_op op,
			   const cJSON *values, const char *single)
{
	struct selector_requirement *r;
	size_t n = values ? (size_t)cJSON_GetArraySize(values) : single ? 1 : 0;
	struct selector_requirement *reqs = realloc(sel->reqs, (sel->nreqs + 1) * sizeof(*reqs));

	if (!reqs)
		return -ENOMEM;
	sel->reqs = reqs;
	r = &reqs[sel->nreqs++];
	*r = (struct selector_requirement){ .key = strdup(key), .op = op };
	r->values = calloc(n ? n : 1, sizeof(char *));
	if (!r->key || !r->values)
		return -ENOMEM;
	if (single)
		r->values[r->nvalues++] = strdup(single);
	else if (values) {
		const cJSON *v;

		cJSON_ArrayForEach(v, values) {
			if (!cJSON_IsString(v))
				return -EINVAL;
			r->values[r->nvalues++] = strdup(v->valuestring);
		}
	}
	for (size_t i = 0; i < r->nvalues; i++)
		if (!r->values[i])
			return -ENOMEM;
	return 0;
}

static int fail(char *why, size_t why_len, int err, const char *fmt, const char *arg)
{
	if (why && why_len)
		snprintf(why, why_len, fmt, arg ? arg : "");
	return err;
}

int label_selector_parse(const cJSON *json, struct label_selector **out, char *why, size_t why_len)
{
	struct label_selector *sel = calloc(1, sizeof(*sel));
	const cJSON *labels, *exprs, *it;
	int err = 0;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (!sel)
		return -ENOMEM;
	if (!json || cJSON_IsNull(json)) {
		*out = sel;
		return 0;
	}
	if (!cJSON_IsObject(json)) {
		label_selector_free(sel);
		return fail(why, why_len, -EINVAL, "podSelector must be an object%s", NULL);
	}
	labels = cJSON_GetObjectItem(json, "matchLabels");
	cJSON_ArrayForEach(it, labels) {
		if (!cJSON_IsString(it)) {
			err = fail(why, why_len, -EINVAL, "matchLabels[%s] must be a string", it->string);
			goto out;
		}
		err = add_requirement(sel, it->string, SELECTOR_IN, NULL, it->valuestring);
		if (err)
			goto out;
	}
	exprs = cJSON_GetObjectItem(json, "matchExpressions");
	cJSON_ArrayForEach(it, exprs) {
		const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(it, "key"));
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(it, "operator"));
		const cJSON *values = cJSON_GetObjectItem(it, "values");
		int nvalues = cJSON_IsArray(values) ? cJSON_GetArraySize(values) : 0;
		enum selector_op sop;

		if (!key || !*key) {
			err = fail(why, why_len, -EINVAL, "matchExpressions entry without a key%s", NULL);
			goto out;
		}
		if (op && strcmp(op, "In") == 0)
			sop = SELECTOR_IN;
		else if (op && strcmp(op, "NotIn") == 0)
			sop = SELECTOR_NOT_IN;
		else if (op && strcmp(op, "Exists") == 0)
			sop = SELECTOR_EXISTS;
		else if (op && strcmp(op, "DoesNotExist") == 0)
			sop = SELECTOR_DOES_NOT_EXIST;
		else {
			err = fail(why, why_len, -EINVAL, "unknown matchExpressions operator \"%s\"", op ? op : "");
			goto out;
		}
		if ((sop == SELECTOR_IN || sop == SELECTOR_NOT_IN) && nvalues == 0) {
			err = fail(why, why_len, -EINVAL, "operator %s needs at least one value", op);
			goto out;
		}
		if ((sop == SELECTOR_EXISTS || sop == SELECTOR_DOES_NOT_EXIST) && nvalues != 0) {
			err = fail(why, why_len, -EINVAL, "operator %s takes no values", op);
			goto out;
		}
		err = add_requirement(sel, key, sop, nvalues ? values : NULL, NULL);
		if (err == -EINVAL)
			fail(why, why_len, err, "values of key %s must be strings", key);
		if (err)
			goto out;
	}
out:
	if (err) {
		label_selector_free(sel);
		return err;
	}
	*out = sel;
	return 0;
}

static bool has_value(const struct selector_requirement *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool label_selector_matches(const struct label_selector *sel, const struct kv_list *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->nreqs; i++) {
		const struct selector_requirement *r = &sel->reqs[i];
		const char *v = kv_get(labels, r->key);

		switch (r->op) {
		case SELECTOR_IN:
			if (!v || !has_value(r, v))
				return false;
			break;
		case SELECTOR_NOT_IN:
			if (v && has_value(r, v))
				return false;
			break;
		case SELECTOR_EXISTS:
			if (!v)
				return false;
			break;
		case SELECTOR_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}
