/* Streaming JSON output: a comma state per nesting level, escapes for '"', '\\' and control
 * characters, integers printed with %lld (cJSON's %g printing loses digits past 2^31). */
#include "common/json_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void jw_free(struct json_writer *w)
{
	free(w->buf);
	jw_init(w);
}

static void fail(struct json_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *grown;

		while (cap < w->len + n + 1)
			cap *= 2;
		grown = realloc(w->buf, cap);
		if (!grown) {
			fail(w, -ENOMEM);
			return;
		}
		w->buf = grown;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Before any value: the comma between siblings (a value after a key takes none). */
static void separate(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		put(w, ",", 1);
	w->need_comma[w->depth] = true;
}

static void open_level(struct json_writer *w, char c)
{
	separate(w);
	if (w->depth == JW_MAX_DEPTH) {
		fail(w, -EINVAL);
		return;
	}
	put(w, &c, 1);
	w->need_comma[++w->depth] = false;
}

static void close_level(struct json_writer *w, char c)
{
	if (w->depth == 0 || w->after_key) {
		fail(w, -EINVAL);
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void jw_object_begin(struct json_writer *w) { open_level(w, '{'); }
void jw_object_end(struct json_writer *w) { close_level(w, '}'); }
void jw_array_begin(struct json_writer *w) { open_level(w, '['); }
void jw_array_end(struct json_writer *w) { close_level(w, ']'); }

static void put_string(struct json_writer *w, const char *s)
{
	size_t n = strlen(s), run = 0;

	if (!utf8_valid(s, n)) {
		fail(w, -EINVAL);
		return;
	}
	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (c == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		put(w, esc, strlen(esc));
	}
	put(w, s + run, n - run);
	put(w, "\"", 1);
}

void jw_key(struct json_writer *w, const char *key)
{
	if (w->after_key || w->depth == 0) {
		fail(w, -EINVAL);
		return;
	}
	separate(w);
	put_string(w, key);
	put(w, ":", 1);
	w->after_key = true;
}

void jw_string(struct json_writer *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	separate(w);
	put_string(w, s);
}

void jw_int(struct json_writer *w, int64_t v)
{
	char num[24];

	separate(w);
	put(w, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)v));
}

void jw_bool(struct json_writer *w, bool v)
{
	separate(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct json_writer *w)
{
	separate(w);
	put(w, "null", 4);
}

void jw_key_string(struct json_writer *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_string(w, s);
}

void jw_key_int(struct json_writer *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void jw_key_bool(struct json_writer *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

int jw_finish(struct json_writer *w, char **text, size_t *len)
{
	int err = w->err;

	*text = NULL;
	if (!err && (w->depth != 0 || w->after_key))
		err = -EINVAL;
	if (!err && !w->buf)
		put(w, "", 0), err = w->err;
	if (err) {
		jw_free(w);
		return err;
	}
	*text = w->buf;
	if (len)
		*len = w->len;
	w->buf = NULL;
	jw_free(w);
	return 0;
}

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;

	while (s < end) {
		unsigned c = *s, need, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - s) <= need)
			return false;
		for (unsigned i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += need + 1;
	}
	return true;
}
