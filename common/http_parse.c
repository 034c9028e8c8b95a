/* Request head parsing: the request line (token SP origin-form SP HTTP/1.x CRLF), then field lines
 * "name:" OWS value OWS CRLF up to an empty line; a bare LF ends a line as well (RFC 9112 2.2). */
#include "common/http_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A target character: visible ASCII (no space, no control, no DEL, nothing above 0x7e). */
static bool vchar(char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool slice_is(const char *buf, struct http_slice s, const char *word)
{
	return s.len == strlen(word) && !strncasecmp(buf + s.at, word, s.len);
}

/* Whether a comma list (Connection) holds token, case-insensitively. */
static bool list_has(const char *v, size_t len, const char *token)
{
	size_t n = strlen(token), i = 0;

	while (i < len) {
		size_t start, end;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == n && !strncasecmp(v + start, token, n))
			return true;
	}
	return false;
}

static long fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -400;
}

/* The end of the line starting at i (index of its LF), or -1 when none yet. */
static long line_end(const char *buf, size_t len, size_t i)
{
	const char *lf = memchr(buf + i, '\n', len - i);

	return lf ? lf - buf : -1;
}

static long parse_request_line(const char *buf, size_t start, size_t end, struct http_head *h, const char **why)
{
	size_t i = start, m = 0, t;

	if (end > start && buf[end - 1] == '\r')
		end--;
	while (i < end && tchar(buf[i])) {
		if (m == sizeof(h->method) - 1)
			return fail(why, "method too long");
		h->method[m++] = buf[i++];
	}
	h->method[m] = '\0';
	if (!m || i == end || buf[i] != ' ')
		return fail(why, "malformed request line (method)");
	t = ++i;
	if (i == end || buf[i] != '/')
		return fail(why, "request target must be a path (origin-form)");
	while (i < end && vchar(buf[i]))
		i++;
	if (i == end || buf[i] != ' ')
		return fail(why, "malformed request line (target)");
	h->path = (struct http_slice){ t, i - t };
	for (size_t q = t; q < i; q++)
		if (buf[q] == '?') {
			h->path.len = q - t;
			h->query = (struct http_slice){ q + 1, i - q - 1 };
			break;
		}
	if (h->path.len == 0)
		return fail(why, "empty path");
	i++;
	if (end - i != 8 || strncmp(buf + i, "HTTP/1.", 7))
		return end - i == 8 && !strncmp(buf + i, "HTTP/", 5) && buf[i + 5] >= '0' && buf[i + 5] <= '9'
			       ? -505 : fail(why, "malformed request line (version)");
	if (buf[i + 7] != '0' && buf[i + 7] != '1')
		return -505;
	h->minor = buf[i + 7] - '0';
	return 0;
}

/* One field line [start, end) (CR stripped by the caller). */
static long parse_field(const char *buf, size_t start, size_t end, struct http_head *h, bool *keep_alive,
			const char **why)
{
	size_t i = start, name_end, v, ve;
	struct http_slice name, value;

	if (buf[start] == ' ' || buf[start] == '\t')
		return fail(why, "folded header line (obs-fold) not accepted");
	while (i < end && tchar(buf[i]))
		i++;
	name_end = i;
	if (i == start || i == end || buf[i] != ':')
		return fail(why, i < end && (buf[i] == ' ' || buf[i] == '\t') ? "whitespace before ':' in a header"
									      : "malformed header line");
	v = i + 1;
	while (v < end && (buf[v] == ' ' || buf[v] == '\t'))
		v++;
	ve = end;
	while (ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
		ve--;
	for (size_t k = v; k < ve; k++)
		if ((unsigned char)buf[k] < 0x20 && buf[k] != '\t')
			return fail(why, "control character in a header value");
	name = (struct http_slice){ start, name_end - start };
	value = (struct http_slice){ v, ve - v };
	if (slice_is(buf, name, "content-length")) {
		uint64_t n = 0;

		if (h->has_content_length)
			return fail(why, "Content-Length given twice");
		if (!value.len || value.len > 15)
			return fail(why, "Content-Length must be 1-15 digits");
		for (size_t k = 0; k < value.len; k++) {
			char c = buf[value.at + k];

			if (c < '0' || c > '9')
				return fail(why, "Content-Length must be digits only");
			n = n * 10 + (uint64_t)(c - '0');
		}
		h->has_content_length = true;
		h->content_length = n;
	} else if (slice_is(buf, name, "transfer-encoding")) {
		h->transfer_encoding = true;
	} else if (slice_is(buf, name, "authorization")) {
		if (h->has_authorization)
			return fail(why, "Authorization given twice");
		h->has_authorization = true;
		h->authorization = value;
	} else if (slice_is(buf, name, "content-type")) {
		h->has_content_type = true;
		h->content_type = value;
	} else if (slice_is(buf, name, "expect")) {
		h->expect_continue = slice_is(buf, value, "100-continue");
	} else if (slice_is(buf, name, "connection")) {
		h->close |= list_has(buf + value.at, value.len, "close");
		*keep_alive |= list_has(buf + value.at, value.len, "keep-alive");
	}
	return 0;
}

long http_parse_head(const char *buf, size_t len, struct http_head *h, const char **why)
{
	size_t i = 0, lines = 0;
	bool keep_alive = false;
	long end, e;

	memset(h, 0, sizeof(*h));
	if (why)
		*why = NULL;
	/* Empty lines before a request are ignored (RFC 9112 2.2), within the head limit. */
	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		if (++i > HTTP_MAX_HEAD)
			return -431;
	end = line_end(buf, len, i);
	if (end < 0)
		return len - i > HTTP_MAX_HEAD ? -431 : 0;
	if ((size_t)end - i > HTTP_MAX_HEAD)
		return -431;
	if ((e = parse_request_line(buf, i, (size_t)end, h, why)))
		return e;
	for (i = (size_t)end + 1;; i = (size_t)end + 1) {
		size_t stop;

		end = line_end(buf, len, i);
		if (end < 0)
			return len > HTTP_MAX_HEAD ? -431 : 0;
		if ((size_t)end + 1 > HTTP_MAX_HEAD)
			return -431;
		stop = (size_t)end;
		if (stop > i && buf[stop - 1] == '\r')
			stop--;
		if (stop == i)
			break;
		if (++lines > HTTP_MAX_HEADER_LINES)
			return -431;
		if ((e = parse_field(buf, i, stop, h, &keep_alive, why)))
			return e;
	}
	if (h->minor == 0 && !keep_alive)
		h->close = true;
	return end + 1;
}
