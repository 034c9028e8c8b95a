/* Structured logging: one JSON object per line on stderr, so `kubectl logs | jq` works.
 * Usage: log_info("pod applied", LOG_STR("pod", uid), LOG_INT("slot", 3)); */
#ifndef PCMC_COMMON_LOG_H
#define PCMC_COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_field_type { LOG_FIELD_END, LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DOUBLE, LOG_FIELD_BOOL };

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s;
		long long i;
		double d;
		bool b;
	} v;
};

#define LOG_STR(k, x)    ((struct log_field){ .key = (k), .type = LOG_FIELD_STR, .v.s = (x) })
#define LOG_INT(k, x)    ((struct log_field){ .key = (k), .type = LOG_FIELD_INT, .v.i = (long long)(x) })
#define LOG_DOUBLE(k, x) ((struct log_field){ .key = (k), .type = LOG_FIELD_DOUBLE, .v.d = (double)(x) })
#define LOG_BOOL(k, x)   ((struct log_field){ .key = (k), .type = LOG_FIELD_BOOL, .v.b = (bool)(x) })
/* The schema's shapes (docs/logging.md), so that every log line names things the same way. */
/* A failed system call's errno (positive or negative): "errno": number, "error": its strerror text.
 * Only for a real errno; a failure that is not a system call's is LOG_ERROR_TEXT. */
#define LOG_ERRNO(x)     LOG_INT("errno", (x) < 0 ? -(x) : (x)), LOG_STR("error", log_strerror(x))
/* What went wrong, as text. */
#define LOG_ERROR_TEXT(text) LOG_STR("error", (text))
/* A failed Kubernetes request (struct kube_error): "http_status" (0: no reply), "reason", "error". */
#define LOG_KUBE_ERROR(kerr) \
	LOG_INT("http_status", (kerr).http_status), LOG_STR("reason", (kerr).reason), LOG_STR("error", (kerr).message)
/* A pod, a PodConfigMapConfig: the namespace and the name, never "namespace/name". */
#define LOG_POD(ns, name)  LOG_STR("namespace", (ns)), LOG_STR("pod", (name))
#define LOG_PCMC(ns, name) LOG_STR("namespace", (ns)), LOG_STR("pcmc", (name))
/* A signal by name: "signal": "SIGTERM". */
#define LOG_SIGNAL(sig)    LOG_STR("signal", log_signal_name(sig))
#define LOG_DURATION_MS(ms) LOG_DOUBLE("duration_ms", (ms))

#define log_at(level, msg, ...) \
	log_emit((level), (msg), (const struct log_field[]){ { .key = NULL, .type = LOG_FIELD_BOOL }, ##__VA_ARGS__, { .key = NULL, .type = LOG_FIELD_END } })
#define log_debug(msg, ...) log_at(LOG_LEVEL_DEBUG, msg, ##__VA_ARGS__)
#define log_info(msg, ...)  log_at(LOG_LEVEL_INFO, msg, ##__VA_ARGS__)
#define log_warn(msg, ...)  log_at(LOG_LEVEL_WARN, msg, ##__VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_LEVEL_ERROR, msg, ##__VA_ARGS__)

/* Fields start after a leading placeholder (key NULL) and end at LOG_FIELD_END. */
void log_emit(enum log_level level, const char *msg, const struct log_field *fields);
/* Messages below this level are dropped; default info, or PCMC_LOG_LEVEL=debug|info|warn|error. */
void log_set_level(enum log_level level);
/* "debug", "info", "warn" or "error" (any case) -> level. 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
/* The component name put in every line ("agent", "controller", ...). */
void log_set_component(const char *component);
const char *log_strerror(int err);
/* "SIGTERM" for SIGTERM; "SIG<n>" for a number without a name. The string lives forever. */
const char *log_signal_name(int sig);

#endif
