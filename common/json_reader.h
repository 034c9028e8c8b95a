/* A strict pull reader for JSON documents pcmc receives (the policy push and the agent's answers):
 * typed reads with the JSON path of every error, no DOM, so memory stays bounded by what the caller
 * keeps. Stricter than RFC 8259 where docs/policy-api.md says so: numbers are integers only (no
 * fraction, exponent or leading zero, |n| <= 2^53), strings are UTF-8 without \u0000. */
#ifndef PCMC_COMMON_JSON_READER_H
#define PCMC_COMMON_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JR_MAX_DEPTH 32
#define JR_KEY_MAX   64

/* Where and why a document was refused: path "$.pods[3].policy.l4Firewall.allowedPorts[0]",
 * message "must be between 1 and 65535". */
struct json_error {
	char path[256];
	char message[256];
};

enum json_type { JSON_INVALID, JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_reader {
	const char *text, *p, *end;
	struct json_error *err;
	int error;                            /* sticky: the first error (-EINVAL, -ENOMEM) */
	char path[256];
	size_t path_len;
	int depth;
	size_t level_path[JR_MAX_DEPTH + 1];  /* path length of the container at each depth */
	long index[JR_MAX_DEPTH + 1];         /* items read at each depth (members for objects) */
	char key[JR_KEY_MAX + 1];             /* name of the member jr_object_next just read */
};

/* Reads text[0..len) (need not be NUL-terminated); errors go to *err. */
void jr_init(struct json_reader *r, const char *text, size_t len, struct json_error *err);

/* The next value's type without consuming it (JSON_INVALID: a syntax error, recorded). */
enum json_type jr_peek(struct json_reader *r);
/* Consumes a null and returns true, else consumes nothing and returns false. */
bool jr_null(struct json_reader *r);

/* Containers: *_begin consumes '{' / '[' (else "must be an object/array, not ..."); then call
 * *_next until it returns 0 (the closing bracket consumed). 1: a member (name in r->key, path
 * extended by ".name") or an item (path extended by "[i]") follows: read it with one typed call
 * or jr_skip. All return -EINVAL/-ENOMEM once an error is recorded. */
int jr_object_begin(struct json_reader *r);
int jr_object_next(struct json_reader *r);
int jr_array_begin(struct json_reader *r);
int jr_array_next(struct json_reader *r);
/* Index of the current item (arrays) or member (objects), 0-based. */
long jr_index(const struct json_reader *r);

/* A string of at most max_len bytes (else "longer than N characters"), malloc'ed into *out. */
int jr_string(struct json_reader *r, size_t max_len, char **out);
/* Same into buf (cap bytes, max_len = cap - 1). */
int jr_string_buf(struct json_reader *r, char *buf, size_t cap);
/* An integer between min and max (else "must be between min and max"). */
int jr_int(struct json_reader *r, int64_t min, int64_t max, int64_t *out);
int jr_bool(struct json_reader *r, bool *out);
/* Any value, checked as strictly as if it were read. */
int jr_skip(struct json_reader *r);
/* Nothing but whitespace follows the document. */
int jr_end(struct json_reader *r);

/* Records an error at the current path (or at the current path + suffix, e.g. "[2]"), returns
 * -EINVAL. Only the first error is kept. */
int jr_fail(struct json_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int jr_fail_at(struct json_reader *r, const char *suffix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Room for one more item in *items (n used, *cap allocated, each size bytes), zeroed; 0 or an
 * out-of-memory error recorded in r. */
int jr_grow(struct json_reader *r, void **items, size_t n, size_t *cap, size_t size);
/* Reads a whole document with read(r, obj) (obj NULL: out of memory); nothing but whitespace may
 * follow. 0 or the first error (details in *err). */
int jr_read_document(const char *text, size_t len, struct json_error *err, void *obj,
		     int (*read)(struct json_reader *r, void *obj));

/* "an object", "a string", ... for messages. */
const char *json_type_name(enum json_type t);

#endif
