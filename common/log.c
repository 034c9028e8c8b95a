/* Structured logging: formats one JSON object per line and writes it to stderr in one write,
 * so lines from several threads never interleave. */
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static const char *component_name;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; name && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Programs without common/cli (test helpers) still follow PCMC_LOG_LEVEL. */
static void read_level_from_env(void)
{
	log_level_parse(getenv("PCMC_LOG_LEVEL"), &min_level);
}

void log_set_level(enum log_level level)
{
	pthread_once(&env_once, read_level_from_env);
	min_level = level;
}

void log_set_component(const char *component)
{
	component_name = component;
}

const char *log_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

static char signal_names[NSIG][16];
static pthread_once_t signal_names_once = PTHREAD_ONCE_INIT;

static void fill_signal_names(void)
{
	for (int sig = 0; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev)
			snprintf(signal_names[sig], sizeof(signal_names[sig]), "SIG%s", abbrev);
		else
			snprintf(signal_names[sig], sizeof(signal_names[sig]), "SIG%d", sig);
	}
}

const char *log_signal_name(int sig)
{
	if (sig < 0 || sig >= NSIG)
		return "SIG?";
	pthread_once(&signal_names_once, fill_signal_names);
	return signal_names[sig];
}

/* A line is built in a stack buffer, moved to the heap when it outgrows it: a line is never cut,
 * so it is always one whole JSON object. */
struct line {
	char stack[4096];
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->failed)
		return;
	if (l->len + n > l->cap) {
		size_t cap = (l->len + n) * 2;
		char *heap = l->buf == l->stack ? malloc(cap) : realloc(l->buf, cap);

		if (!heap) {
			l->failed = true;
			return;
		}
		if (l->buf == l->stack)
			memcpy(heap, l->stack, l->len);
		l->buf = heap;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, above U+10FFFF */
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes that are not UTF-8
 * become U+FFFD, so every line parses. */
static void put_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p++ };
			put(l, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			putf(l, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			put(l, (const char *)p++, 1);
		} else {
			size_t n = utf8_sequence(p);

			if (n) {
				put(l, (const char *)p, n);
				p += n;
			} else {
				put(l, "\\ufffd", 6);
				p++;
			}
		}
	}
	put(l, "\"", 1);
}

/* {"ts":...,"level":...,"component":...,"msg":... (the fields every line has). */
static void put_head(struct line *l, const char *when, long ms, enum log_level level, const char *msg)
{
	putf(l, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", when, ms, level_names[level]);
	if (component_name) {
		put(l, ",\"component\":", 13);
		put_string(l, component_name);
	}
	put(l, ",\"msg\":", 7);
	put_string(l, msg);
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields)
{
	struct line l = { .len = 0, .cap = sizeof(l.stack) };
	struct timespec ts;
	struct tm tm;
	char when[40];

	pthread_once(&env_once, read_level_from_env);
	if (level < min_level)
		return;
	l.buf = l.stack;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	put_head(&l, when, ts.tv_nsec / 1000000, level, msg);

	for (const struct log_field *f = fields + 1; f->type != LOG_FIELD_END; f++) {
		put(&l, ",", 1);
		put_string(&l, f->key);
		put(&l, ":", 1);
		switch (f->type) {
		case LOG_FIELD_STR:
			if (f->v.s)
				put_string(&l, f->v.s);
			else
				put(&l, "null", 4);
			break;
		case LOG_FIELD_INT:
			putf(&l, "%lld", f->v.i);
			break;
		case LOG_FIELD_DOUBLE:
			if (isfinite(f->v.d))
				putf(&l, "%.3f", f->v.d);
			else
				put(&l, "null", 4); /* JSON has no NaN or infinity */
			break;
		case LOG_FIELD_BOOL:
			put(&l, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
			break;
		case LOG_FIELD_END:
			break;
		}
	}
	put(&l, "}\n", 2);
	if (l.failed) {
		l.len = 0;
		l.failed = false;
		put_head(&l, when, ts.tv_nsec / 1000000, LOG_LEVEL_ERROR, "log line lost: no memory");
		put(&l, "}\n", 2);
	}
	/* One write per line: concurrent writers never interleave within a line. */
	if (write(STDERR_FILENO, l.buf, l.len) < 0)
		l.len = 0;
	if (l.buf != l.stack)
		free(l.buf);
}
