/* A small streaming JSON writer into a growing buffer: compact output, exact 64-bit integers,
 * strings checked to be UTF-8 and escaped. Errors are sticky and reported once, by jw_finish. */
#ifndef PCMC_COMMON_JSON_WRITER_H
#define PCMC_COMMON_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 32

struct json_writer {
	char *buf;                 /* NUL-terminated text so far (owned) */
	size_t len, cap;
	int err;                   /* first error: -ENOMEM, -EINVAL (invalid UTF-8, misuse) */
	int depth;
	bool need_comma[JW_MAX_DEPTH + 1];
	bool after_key;
};

/* A zeroed struct json_writer is ready to use too. */
void jw_init(struct json_writer *w);
/* Frees the buffer (after jw_finish took it, nothing). */
void jw_free(struct json_writer *w);
/* Takes the text: 0 with *text (malloc'ed, NUL-terminated, caller frees) and *len, or the first
 * error (the writer is then freed and *text NULL). */
int jw_finish(struct json_writer *w, char **text, size_t *len);

void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);
/* The member name of the next value in an object. */
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s);   /* NULL writes null */
void jw_int(struct json_writer *w, int64_t v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);
/* key + value shorthands. */
void jw_key_string(struct json_writer *w, const char *key, const char *s);
void jw_key_int(struct json_writer *w, const char *key, int64_t v);
void jw_key_bool(struct json_writer *w, const char *key, bool v);

/* True when s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

#endif
