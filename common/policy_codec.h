/* The wire form of the eBPF policy model (docs/policy-api.md), one codec for both programs
 * (common/policy_codec.c, answers in common/policy_answers.c): the `policy` object (a pod's
 * ebpfConfig), the push document (PUT /v1/policy), what an agent holds (GET /v1/policy), and the
 * agent's answers (200 results, 4xx/409 refusals). Decoding is strict (json_reader.h): unknown or duplicate fields, wrong types,
 * values past common/policy_limits.h are errors with the JSON path; null counts as absent.
 *
 * For the controller: build a push with policy_push_write_begin/_pod/_end into a json_writer
 * (no copy of the pods' configs), read the answer with push_answer_decode (200) or
 * push_refusal_decode (4xx/409), and what an agent holds with node_state_decode.
 * For the agent: policy_push_decode with the node's architecture, node_state_write_*,
 * push_answer_write_*, push_refusal_write. Every decoded struct is freed with its _free. */
#ifndef PCMC_COMMON_POLICY_CODEC_H
#define PCMC_COMMON_POLICY_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ebpf_config.h"
#include "common/json_reader.h"
#include "common/json_writer.h"

/* --- the `policy` object ------------------------------------------------------------------- */

/* Every section and field, defaults filled in (GET /v1/policy); without it only what differs
 * from the defaults (pushes: smaller, and it decodes to the same config). */
#define POLICY_WRITE_DEFAULTS 0x1u

void ebpf_config_write(struct json_writer *w, const struct ebpf_config *c, unsigned flags);
/* Reads a `policy` object (or a CR's spec.ebpfConfig, which has the same fields) at the reader's
 * position into c (initialised by the caller). 0 or the reader's error. */
int ebpf_config_read(struct json_reader *r, struct ebpf_config *c);

/* --- the push: PUT /v1/policy, and what an agent holds: GET /v1/policy -------------------- */

enum policy_pod_state {
	POLICY_POD_PUSHED,         /* in a push */
	POLICY_POD_APPLIED,        /* GET: enforced */
	POLICY_POD_FAILED,         /* GET: not enforced (error says why); push: refused on this node */
};

struct policy_pod {
	char *uid, *namespace, *name;
	struct ebpf_config policy;
	enum policy_pod_state state;
	char *error;               /* NULL unless failed */
	char *error_path;          /* a refused pod: the offending value in the push; may be NULL */
};

struct policy_sender {
	char *identity;            /* the leader's identity (its Lease holderIdentity) */
	int64_t epoch;             /* its fencing epoch */
};

struct policy_push {
	char *node;
	bool has_sender;           /* a push: always; GET before the first accepted push: false */
	struct policy_sender sender;
	int64_t revision;
	size_t n_pods;
	struct policy_pod *pods;
};

struct policy_decode_opts {
	/* "x86_64" or "arm64": a syscall name this architecture does not know fails that pod
	 * (state POLICY_POD_FAILED, error, error_path) instead of the whole push. NULL: not checked. */
	const char *arch;
};

/* A whole PUT /v1/policy body (len bytes, need not be NUL-terminated); every pod uid unique.
 * 0 and *out, or -EINVAL with *err (nothing allocated), or -ENOMEM. */
int policy_push_decode(const char *text, size_t len, const struct policy_decode_opts *o,
		       struct policy_push **out, struct json_error *err);
/* The push as its canonical body (sender required). 0, -EINVAL (bad UTF-8), -ENOMEM. */
int policy_push_encode(const struct policy_push *p, char **text, size_t *len);
void policy_push_free(struct policy_push *p);
/* Same node, sender, revision and pods (uid, namespace, name, policy) in the same order. */
bool policy_push_equal(const struct policy_push *a, const struct policy_push *b);
/* The pod's index, or -1. O(n). */
long policy_push_find(const struct policy_push *p, const char *uid);

/* Streaming form of a push (the controller's builder; policy_push_encode uses it too). */
void policy_push_write_begin(struct json_writer *w, const char *node, const struct policy_sender *sender,
			     int64_t revision);
void policy_push_write_pod(struct json_writer *w, const char *uid, const char *namespace, const char *name,
			   const struct ebpf_config *policy);
void policy_push_write_end(struct json_writer *w);

/* GET /v1/policy: sender NULL before the first accepted push (then "sender" and "revision" are
 * null). Each pod with its whole policy, "state" applied|failed and "error" (and "path" when the
 * pod was refused as pushed). */
void node_state_write_begin(struct json_writer *w, const char *node, const struct policy_sender *sender,
			    int64_t revision);
void node_state_write_pod(struct json_writer *w, const struct policy_pod *pod, bool failed, const char *error,
			  const char *error_path);
void node_state_write_end(struct json_writer *w);
/* Reads a GET /v1/policy body: pods APPLIED or FAILED. */
int node_state_decode(const char *text, size_t len, struct policy_push **out, struct json_error *err);

/* --- the agent's answers ---------------------------------------------------------------- */

enum pod_result { POD_APPLIED, POD_UNCHANGED, POD_REMOVED, POD_FAILED, POD_RESULTS };
const char *pod_result_name(enum pod_result r);

struct pod_result_entry {
	char *uid, *namespace, *name;
	enum pod_result result;
	char *error;               /* "" unless failed */
	char *path;                /* NULL, or where in the push a refused pod's offending value is */
};

/* 200 to a push. */
struct push_answer {
	char *node;
	int64_t epoch, revision;
	size_t n_results;
	struct pod_result_entry *results;
};

void push_answer_write_begin(struct json_writer *w, const char *node, int64_t epoch, int64_t revision);
void push_answer_write_pod(struct json_writer *w, const char *uid, const char *namespace, const char *name,
			   enum pod_result result, const char *error, const char *path);
void push_answer_write_end(struct json_writer *w);
/* Unknown fields are skipped (an older controller reads a newer agent's answer). */
int push_answer_decode(const char *text, size_t len, struct push_answer **out, struct json_error *err);
void push_answer_free(struct push_answer *a);

/* Why a push was fenced (409). */
enum fence_reason {
	FENCE_NONE,
	FENCE_OLDER_EPOCH,         /* sender.epoch < the held epoch */
	FENCE_OLDER_REVISION,      /* same epoch, revision < the held revision */
	FENCE_DIFFERENT_BODY,      /* same (epoch, revision) as held, another body */
	FENCE_NOT_LEASE_HOLDER,    /* sender.identity is not the Lease's holderIdentity */
	FENCE_LEASE_EXPIRED,       /* the agent saw no renewal within leaseDurationSeconds */
	FENCE_EPOCH_ABOVE_LEASE,   /* sender.epoch > the Lease's leaseTransitions */
	FENCE_REASONS
};
const char *fence_reason_name(enum fence_reason r);

/* A refusal: {"error": ..., "path": ... (400), "reason", "identity", "epoch", "revision",
 * "lease": {"holderIdentity", "leaseTransitions"} (409: what the agent holds and sees)}. */
struct push_refusal {
	char *error;
	char *path;                /* 400: the offending value; else NULL */
	enum fence_reason reason;  /* 409; else FENCE_NONE */
	bool has_held;             /* 409: the agent holds an accepted push: */
	struct policy_sender held;
	int64_t held_revision;
	bool has_lease;            /* 409 with a Lease check: the agent's view of the Lease */
	char *lease_holder;
	int64_t lease_transitions;
};

void push_refusal_write(struct json_writer *w, const struct push_refusal *f);
int push_refusal_decode(const char *text, size_t len, struct push_refusal **out, struct json_error *err);
void push_refusal_free(struct push_refusal *f);

#endif
