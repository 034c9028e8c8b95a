/* A growable, always NUL-terminated byte buffer: HTTP replies collected by libcurl, JSON
 * documents assembled from pre-encoded parts. */
#ifndef PCMC_COMMON_TEXT_BUFFER_H
#define PCMC_COMMON_TEXT_BUFFER_H

#include <stddef.h>

struct text_buffer {
	char *data;     /* NULL until the first append; owned */
	size_t len, cap;
	size_t limit;   /* 0: none; an append past it fails with -E2BIG */
};

/* 0, -ENOMEM or -E2BIG. */
int text_buffer_append(struct text_buffer *b, const char *p, size_t n);
int text_buffer_append_str(struct text_buffer *b, const char *s);
/* s as a JSON string literal (quotes, escapes; control bytes as \u00XX). */
int text_buffer_append_json_string(struct text_buffer *b, const char *s);
int text_buffer_printf(struct text_buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* libcurl CURLOPT_WRITEFUNCTION with the buffer as CURLOPT_WRITEDATA. */
size_t text_buffer_curl_write(char *p, size_t size, size_t nmemb, void *ud);
/* Hands the data to the caller (may be NULL when empty) and resets the buffer. */
char *text_buffer_take(struct text_buffer *b, size_t *len);
void text_buffer_clear(struct text_buffer *b);

#endif
