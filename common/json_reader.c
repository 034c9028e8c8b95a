/* Strict JSON pull reader: a cursor over the text, the JSON path of the current value kept as a
 * string (containers push a segment, *_next replaces it), every error recorded once with it. */
#include "common/json_reader.h"

#include "common/json_writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INT_LIMIT 9007199254740992ULL /* 2^53 */

void jr_init(struct json_reader *r, const char *text, size_t len, struct json_error *err)
{
	memset(r, 0, sizeof(*r));
	r->text = r->p = text ? text : "";
	r->end = r->p + (text ? len : 0);
	r->err = err;
	memset(err, 0, sizeof(*err));
	r->path_len = (size_t)snprintf(r->path, sizeof(r->path), "$");
}

static int record(struct json_reader *r, const char *suffix, const char *fmt, va_list ap)
{
	if (r->error)
		return r->error;
	r->error = -EINVAL;
	snprintf(r->err->path, sizeof(r->err->path), "%s%s", r->path, suffix ? suffix : "");
	vsnprintf(r->err->message, sizeof(r->err->message), fmt, ap);
	return r->error;
}

int jr_fail(struct json_reader *r, const char *fmt, ...)
{
	va_list ap;
	int e;

	va_start(ap, fmt);
	e = record(r, NULL, fmt, ap);
	va_end(ap);
	return e;
}

int jr_fail_at(struct json_reader *r, const char *suffix, const char *fmt, ...)
{
	va_list ap;
	int e;

	va_start(ap, fmt);
	e = record(r, suffix, fmt, ap);
	va_end(ap);
	return e;
}

static size_t offset(const struct json_reader *r)
{
	return (size_t)(r->p - r->text);
}

static int syntax(struct json_reader *r, const char *what)
{
	return jr_fail(r, "invalid JSON at byte %zu: %s", offset(r), what);
}

static int no_memory(struct json_reader *r)
{
	if (!r->error) {
		jr_fail(r, "out of memory");
		r->error = -ENOMEM;
	}
	return r->error;
}

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = { "invalid JSON", "null", "a boolean", "a number", "a string",
					     "an array", "an object" };

	return names[t];
}

static void skip_space(struct json_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

enum json_type jr_peek(struct json_reader *r)
{
	if (r->error)
		return JSON_INVALID;
	skip_space(r);
	if (r->p == r->end) {
		syntax(r, "a value expected, the body ends");
		return JSON_INVALID;
	}
	switch (*r->p) {
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case '"': return JSON_STRING;
	case 't': case 'f': return JSON_BOOL;
	case 'n': return JSON_NULL;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
		return JSON_NUMBER;
	default:
		syntax(r, "a value expected");
		return JSON_INVALID;
	}
}

static bool literal(struct json_reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) {
		syntax(r, "unknown literal (true, false or null expected)");
		return false;
	}
	r->p += n;
	return true;
}

bool jr_null(struct json_reader *r)
{
	return jr_peek(r) == JSON_NULL && literal(r, "null");
}

/* Wrong type: the error names what was found. */
static int want(struct json_reader *r, enum json_type t, const char *what)
{
	enum json_type got = jr_peek(r);

	if (got == t)
		return 0;
	if (got == JSON_INVALID)
		return r->error;
	return jr_fail(r, "must be %s, not %s", what, json_type_name(got));
}

static void path_set(struct json_reader *r, size_t len)
{
	r->path_len = len < sizeof(r->path) ? len : sizeof(r->path) - 1;
	r->path[r->path_len] = '\0';
}

static void path_append(struct json_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_append(struct json_reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->path_len >= sizeof(r->path) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->path + r->path_len, sizeof(r->path) - r->path_len, fmt, ap);
	va_end(ap);
	path_set(r, r->path_len + (size_t)(n > 0 ? n : 0));
}

static int enter(struct json_reader *r, char open)
{
	if (r->depth == JR_MAX_DEPTH)
		return jr_fail(r, "nested deeper than %d levels", JR_MAX_DEPTH);
	r->p++; /* the bracket jr_peek saw */
	(void)open;
	r->depth++;
	r->level_path[r->depth] = r->path_len;
	r->index[r->depth] = -1;
	return 0;
}

int jr_object_begin(struct json_reader *r)
{
	int e = want(r, JSON_OBJECT, "an object");

	return e ? e : enter(r, '{');
}

int jr_array_begin(struct json_reader *r)
{
	int e = want(r, JSON_ARRAY, "an array");

	return e ? e : enter(r, '[');
}

long jr_index(const struct json_reader *r)
{
	return r->index[r->depth];
}

/* The separator before the next member/item, or the closing bracket (then 0). */
static int next_in(struct json_reader *r, char close)
{
	if (r->error)
		return r->error;
	if (r->depth == 0)
		return jr_fail(r, "internal: no open object or array");
	path_set(r, r->level_path[r->depth]);
	skip_space(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		return 0;
	}
	if (r->index[r->depth] >= 0) {
		if (r->p == r->end || *r->p != ',')
			return syntax(r, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
		r->p++;
		skip_space(r);
	}
	r->index[r->depth]++;
	return 1;
}

/* Reads a string at r->p (after '"' was seen) into out (cap bytes; NULL: only validate). Returns
 * the decoded length or a negative errno; a string longer than cap - 1 is reported as too long. */
static long scan_string(struct json_reader *r, char *out, size_t cap, size_t max_len)
{
	size_t n = 0;

	r->p++;
	for (;;) {
		unsigned char c;
		char buf[4];
		size_t k = 1;

		if (r->p == r->end)
			return syntax(r, "unterminated string");
		c = (unsigned char)*r->p;
		if (c == '"') {
			r->p++;
			break;
		}
		if (c < 0x20)
			return c ? syntax(r, "control character in a string (must be escaped)")
				 : syntax(r, "NUL byte in a string");
		if (c == '\\') {
			unsigned cp = 0;

			if (r->end - r->p < 2)
				return syntax(r, "unterminated string");
			switch (r->p[1]) {
			case '"': buf[0] = '"'; break;
			case '\\': buf[0] = '\\'; break;
			case '/': buf[0] = '/'; break;
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u': {
				const char *q = r->p + 2;

				for (int pass = 0; pass < 2; pass++) {
					unsigned v = 0;

					if (r->end - q < 4)
						return syntax(r, "\\u needs 4 hex digits");
					for (int i = 0; i < 4; i++) {
						char h = q[i];

						v <<= 4;
						if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
						else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
						else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
						else return syntax(r, "\\u needs 4 hex digits");
					}
					q += 4;
					if (pass == 0) {
						cp = v;
						if (cp < 0xd800 || cp > 0xdfff)
							break;
						if (cp >= 0xdc00)
							return syntax(r, "unpaired UTF-16 surrogate in \\u escape");
						if (r->end - q < 2 || q[0] != '\\' || q[1] != 'u')
							return syntax(r, "unpaired UTF-16 surrogate in \\u escape");
						q += 2;
					} else {
						if (v < 0xdc00 || v > 0xdfff)
							return syntax(r, "unpaired UTF-16 surrogate in \\u escape");
						cp = 0x10000 + ((cp - 0xd800) << 10) + (v - 0xdc00);
					}
				}
				if (cp == 0)
					return syntax(r, "\\u0000 (NUL) is not allowed in strings");
				if (cp < 0x80) {
					buf[0] = (char)cp;
				} else if (cp < 0x800) {
					buf[0] = (char)(0xc0 | cp >> 6);
					buf[1] = (char)(0x80 | (cp & 0x3f));
					k = 2;
				} else if (cp < 0x10000) {
					buf[0] = (char)(0xe0 | cp >> 12);
					buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
					buf[2] = (char)(0x80 | (cp & 0x3f));
					k = 3;
				} else {
					buf[0] = (char)(0xf0 | cp >> 18);
					buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
					buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
					buf[3] = (char)(0x80 | (cp & 0x3f));
					k = 4;
				}
				r->p = q - 2; /* the common step below skips 2 */
				break;
			}
			default:
				return syntax(r, "invalid escape in a string");
			}
			r->p += 2;
		} else if (c < 0x80) {
			buf[0] = (char)c;
			r->p++;
		} else {
			size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

			if ((size_t)(r->end - r->p) < need || !utf8_valid(r->p, need))
				return syntax(r, "invalid UTF-8 in a string");
			memcpy(buf, r->p, need);
			k = need;
			r->p += need;
		}
		if (n + k > max_len)
			return jr_fail(r, "longer than %zu characters", max_len);
		if (out)
			memcpy(out + n, buf, k);
		n += k;
	}
	if (out && cap)
		out[n] = '\0';
	return (long)n;
}

int jr_object_next(struct json_reader *r)
{
	long n;
	int e = next_in(r, '}');

	if (e != 1)
		return e;
	if (r->p == r->end || *r->p != '"')
		return syntax(r, "a member name (string) expected");
	n = scan_string(r, r->key, sizeof(r->key), JR_KEY_MAX);
	if (n < 0)
		return (int)n;
	skip_space(r);
	if (r->p == r->end || *r->p != ':')
		return syntax(r, "':' expected after a member name");
	r->p++;
	path_append(r, ".%s", r->key);
	return 1;
}

int jr_array_next(struct json_reader *r)
{
	int e = next_in(r, ']');

	if (e == 1)
		path_append(r, "[%ld]", r->index[r->depth]);
	return e;
}

int jr_string(struct json_reader *r, size_t max_len, char **out)
{
	char *buf;
	long n;
	int e = want(r, JSON_STRING, "a string");

	*out = NULL;
	if (e)
		return e;
	buf = malloc(max_len + 1);
	if (!buf)
		return no_memory(r);
	n = scan_string(r, buf, max_len + 1, max_len);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*out = buf;
	return 0;
}

int jr_string_buf(struct json_reader *r, char *buf, size_t cap)
{
	long n;
	int e = want(r, JSON_STRING, "a string");

	if (e)
		return e;
	n = scan_string(r, buf, cap, cap ? cap - 1 : 0);
	return n < 0 ? (int)n : 0;
}

/* An integer literal: -?(0|[1-9][0-9]*), |n| <= 2^53. */
static int scan_int(struct json_reader *r, int64_t *out)
{
	bool negative = false;
	uint64_t v = 0;
	const char *digits;

	if (*r->p == '-') {
		negative = true;
		r->p++;
	}
	digits = r->p;
	if (r->p == r->end || *r->p < '0' || *r->p > '9')
		return syntax(r, "a digit expected");
	for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++) {
		v = v * 10 + (uint64_t)(*r->p - '0');
		if (v > INT_LIMIT)
			return jr_fail(r, "integer out of range (at most 2^53 = %llu)", INT_LIMIT);
	}
	if (*digits == '0' && r->p - digits > 1)
		return jr_fail(r, "leading zeros are not allowed in numbers");
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
		return jr_fail(r, "must be an integer: fractions and exponents are not allowed");
	*out = negative ? -(int64_t)v : (int64_t)v;
	return 0;
}

int jr_int(struct json_reader *r, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;
	int e = want(r, JSON_NUMBER, "an integer");

	if (e || (e = scan_int(r, &v)))
		return e;
	if (v < min || v > max)
		return jr_fail(r, "must be between %lld and %lld", (long long)min, (long long)max);
	*out = v;
	return 0;
}

int jr_bool(struct json_reader *r, bool *out)
{
	int e = want(r, JSON_BOOL, "a boolean");

	if (e)
		return e;
	*out = *r->p == 't';
	return literal(r, *out ? "true" : "false") ? 0 : r->error;
}

int jr_skip(struct json_reader *r)
{
	int64_t v;
	int e;

	switch (jr_peek(r)) {
	case JSON_NULL:
		return literal(r, "null") ? 0 : r->error;
	case JSON_BOOL:
		return literal(r, *r->p == 't' ? "true" : "false") ? 0 : r->error;
	case JSON_NUMBER:
		return scan_int(r, &v);
	case JSON_STRING:
		return scan_string(r, NULL, 0, (size_t)-1) < 0 ? r->error : 0;
	case JSON_ARRAY:
		if ((e = jr_array_begin(r)))
			return e;
		while ((e = jr_array_next(r)) == 1)
			if ((e = jr_skip(r)))
				return e;
		return e;
	case JSON_OBJECT:
		if ((e = jr_object_begin(r)))
			return e;
		while ((e = jr_object_next(r)) == 1)
			if ((e = jr_skip(r)))
				return e;
		return e;
	default:
		return r->error;
	}
}

int jr_end(struct json_reader *r)
{
	if (r->error)
		return r->error;
	if (r->depth)
		return jr_fail(r, "internal: document read only partly");
	path_set(r, 1);
	skip_space(r);
	if (r->p != r->end)
		return syntax(r, "data after the JSON document");
	return 0;
}

/* Room for one more item in *items (n used, *cap allocated, each size bytes), zeroed. */
int jr_grow(struct json_reader *r, void **items, size_t n, size_t *cap, size_t size)
{
	if (n == *cap) {
		size_t more = *cap ? *cap * 2 : 16;
		void *grown = realloc(*items, more * size);

		if (!grown)
			return jr_fail(r, "out of memory");
		*items = grown;
		*cap = more;
	}
	memset((char *)*items + n * size, 0, size);
	return 0;
}

/* Reads a whole document with read(r, obj): nothing but whitespace may follow it. */
int jr_read_document(const char *text, size_t len, struct json_error *err, void *obj,
			int (*read)(struct json_reader *r, void *obj))
{
	struct json_reader r;
	int e;

	jr_init(&r, text, len, err);
	if (!obj) {
		snprintf(err->path, sizeof(err->path), "$");
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	e = read(&r, obj);
	e = e ?: jr_end(&r);
	return e && r.error ? r.error : e;
}
