/* text_buffer: doubling growth, a terminating NUL kept after every append. */
#include "common/text_buffer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct text_buffer *b, size_t n)
{
	size_t cap;
	char *d;

	if (b->limit && b->len + n > b->limit)
		return -E2BIG;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int text_buffer_append(struct text_buffer *b, const char *p, size_t n)
{
	int err = reserve(b, n);

	if (err)
		return err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int text_buffer_append_str(struct text_buffer *b, const char *s)
{
	return text_buffer_append(b, s, strlen(s));
}

int text_buffer_append_json_string(struct text_buffer *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int err = text_buffer_append(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s; !err && *p; p++) {
		char esc[7] = "\\u00";

		if (*p == '"' || *p == '\\') {
			esc[1] = (char)*p;
			err = text_buffer_append(b, esc, 2);
		} else if (*p < 0x20) {
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			err = text_buffer_append(b, esc, 6);
		} else {
			err = text_buffer_append(b, (const char *)p, 1);
		}
	}
	return err ? err : text_buffer_append(b, "\"", 1);
}

int text_buffer_printf(struct text_buffer *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	err = reserve(b, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

size_t text_buffer_curl_write(char *p, size_t size, size_t nmemb, void *ud)
{
	return text_buffer_append(ud, p, size * nmemb) ? 0 : size * nmemb;
}

char *text_buffer_take(struct text_buffer *b, size_t *len)
{
	char *d = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void text_buffer_clear(struct text_buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
