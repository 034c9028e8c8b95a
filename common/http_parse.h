/* The head of an HTTP/1.1 request (request line and header fields, RFC 9112) parsed from a buffer:
 * a pure function, strict where leniency lets a request mean two things (obs-fold, space before
 * a colon, a Content-Length that is not all digits or given twice, Transfer-Encoding). */
#ifndef PCMC_COMMON_HTTP_PARSE_H
#define PCMC_COMMON_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD        16384 /* request line + header fields: more is 431 */
#define HTTP_MAX_HEADER_LINES 100

/* A slice of the parsed buffer (valid while the buffer is). */
struct http_slice {
	size_t at, len;
};

struct http_head {
	char method[16];
	struct http_slice path;       /* origin-form target up to '?' */
	struct http_slice query;      /* after '?', raw (len 0: none) */
	int minor;                    /* HTTP/1.<minor>: 0 or 1 */
	bool has_authorization, has_content_type;
	struct http_slice authorization, content_type; /* values without surrounding whitespace */
	bool has_content_length;
	uint64_t content_length;
	bool transfer_encoding;       /* present at all (this server takes no chunked bodies) */
	bool expect_continue;         /* Expect: 100-continue */
	bool close;                   /* Connection: close, or HTTP/1.0 without keep-alive */
};

/* Parses the head at buf[0..len). Returns the head's length (through the empty line) when it is
 * complete, 0 when more bytes are needed, or -status when the request must be refused: -400
 * (malformed, with *why set), -431 (head over HTTP_MAX_HEAD or too many lines), -505 (not
 * HTTP/1.0 or 1.1). Leading empty lines are skipped (counted in the returned length). */
long http_parse_head(const char *buf, size_t len, struct http_head *out, const char **why);

#endif
