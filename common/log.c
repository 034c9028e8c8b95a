/* Structured logging: formats one JSON object per line and writes it to stderr in one write,
 * so lines from several threads never interleave. */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
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

struct line {
	char buf[4096];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= sizeof(l->buf) - 2)
		n = sizeof(l->buf) - 2 - l->len;
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

static void put_string(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			put(l, esc, 2);
		} else if (c < 0x20) {
			putf(l, "\\u%04x", c);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
	put(l, "\"", 1);
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields)
{
	struct line l = { .len = 0 };
	struct timespec ts;
	struct tm tm;
	char when[40];

	pthread_once(&env_once, read_level_from_env);
	if (level < min_level)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	putf(&l, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", when, ts.tv_nsec / 1000000, level_names[level]);
	if (component_name) {
		put(&l, ",\"component\":", 13);
		put_string(&l, component_name);
	}
	put(&l, ",\"msg\":", 7);
	put_string(&l, msg);

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
			putf(&l, "%.3f", f->v.d);
			break;
		case LOG_FIELD_BOOL:
			put(&l, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
			break;
		case LOG_FIELD_END:
			break;
		}
	}
	put(&l, "}\n", 2);
	/* One write per line: concurrent writers never interleave within a line. */
	if (write(STDERR_FILENO, l.buf, l.len) < 0)
		return;
}
