/* pcmc-dataplane: applies pod policies from flags through the dataplane API and exits, or stays
 * (following containers) until SIGTERM. Used by the restart tests and for manual checks. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/dataplane/dataplane.h"
#include "common/cli.h"
#include "common/log.h"

#define MAX_PODS  64

struct cli_pod {
	const char *uid;
	struct pod_policy policy;
	int syscalls[DATAPLANE_MAX_SYSCALLS];
	uint16_t *allowed, *blocked; /* freed at exit */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pcmc-dataplane --pin-root DIR [--cgroup-root DIR] [--cni-cache-dir DIR] [--layout N]\n"
		"         [--pod UID [--syscalls NR,..] [--allow PORT,..] [--block PORT,..] [--default-block]\n"
		"                    [--no-firewall]]...  [--remove UID] [--orphans] [--counters] [--stay]\n"
		"  Applies pod policies like the agent does, then exits (or, with --stay, follows containers\n"
		"  and sandboxes until SIGTERM). --pin-root is required: the agent's own is " DATAPLANE_DEFAULT_PIN_ROOT ".\n"
		"  Each --pod starts a pod; the policy flags after it belong to it. --orphans removes every\n"
		"  pinned pod not given with --pod. --cni-cache-dir: the runtime's CNI result cache, default\n"
		"  " DATAPLANE_DEFAULT_CNI_CACHE_DIR ". Without arguments it prints this and changes nothing.\n");
}

/* Comma-separated numbers 0..65535 into out (at most max); the count or -EINVAL. */
static int parse_list(const char *s, int *out, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > 65535 || (*end && *end != ',') || n == max)
			return -EINVAL;
		out[n++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

static int parse_ports(const char *s, uint16_t **out)
{
	int max = 1, n;
	int *tmp;

	for (const char *c = s; *c; c++)
		max += *c == ',';
	tmp = calloc((size_t)max, sizeof(int));
	*out = calloc((size_t)max, sizeof(uint16_t));
	n = tmp && *out ? parse_list(s, tmp, max) : -ENOMEM;
	for (int i = 0; i < n; i++)
		(*out)[i] = (uint16_t)tmp[i];
	free(tmp);
	return n;
}

static void free_pods(struct cli_pod *pods, int n)
{
	for (int i = 0; i < n; i++) {
		free(pods[i].allowed);
		free(pods[i].blocked);
	}
}

static void print_counters(struct dataplane *dp)
{
	static struct pod_counters c[MAX_PODS];
	int n = dataplane_read_counters(dp, c, MAX_PODS);

	for (int i = 0; i < n; i++) {
		printf("pod %s syscalls_total %llu outside_list %llu allowed %llu allowed_flow %llu blocked %llu", c[i].uid,
		       (unsigned long long)c[i].syscalls_total, (unsigned long long)c[i].syscalls_outside_list,
		       (unsigned long long)c[i].packets_allowed, (unsigned long long)c[i].packets_allowed_flow,
		       (unsigned long long)c[i].packets_blocked);
		for (int r = 0; r < DATAPLANE_FW_REASONS; r++)
			printf(" blocked_%s %llu", dataplane_fw_reason_name(r), (unsigned long long)c[i].packets_blocked_reason[r]);
		for (int j = 0; j < c[i].n_listed; j++)
			printf(" nr%d %llu", c[i].listed_nr[j], (unsigned long long)c[i].listed_count[j]);
		printf("\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct cli_pod pods[MAX_PODS];
	struct dataplane_opts opts = { 0 };
	const char *remove_uid = NULL;
	bool orphans = false, counters = false, stay = false;
	struct cli_pod *cur = NULL;
	struct dataplane *dp;
	int n_pods = 0, err = 0;

	if (cli_help_or_version("pcmc-dataplane", argc, argv, usage))
		return 0;

	log_set_component("pcmc-dataplane");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int n;

		if (!strcmp(a, "--orphans")) { orphans = true; continue; }
		if (!strcmp(a, "--counters")) { counters = true; continue; }
		if (!strcmp(a, "--stay")) { stay = true; continue; }
		if (!strcmp(a, "--default-block") && cur) { cur->policy.default_block = true; continue; }
		if (!strcmp(a, "--no-firewall") && cur) { cur->policy.firewall_enabled = false; continue; }
		if (!v) { usage(stderr); free_pods(pods, n_pods); return 2; }
		i++;
		if (!strcmp(a, "--pin-root")) opts.pin_root = v;
		else if (!strcmp(a, "--cgroup-root")) opts.cgroup_root = v;
		else if (!strcmp(a, "--cni-cache-dir")) opts.cni_cache_dir = v;
		else if (!strcmp(a, "--layout")) opts.layout_version = atoi(v);
		else if (!strcmp(a, "--remove")) remove_uid = v;
		else if (!strcmp(a, "--pod") && n_pods < MAX_PODS) {
			cur = &pods[n_pods++];
			cur->uid = v;
			cur->policy.firewall_enabled = true;
			cur->policy.syscalls_enabled = true;
		} else if (!strcmp(a, "--syscalls") && cur && (n = parse_list(v, cur->syscalls, DATAPLANE_MAX_SYSCALLS)) >= 0) {
			cur->policy.syscall_nrs = cur->syscalls;
			cur->policy.n_syscalls = n;
		} else if (!strcmp(a, "--allow") && cur && !cur->allowed && (n = parse_ports(v, &cur->allowed)) >= 0) {
			cur->policy.allowed = cur->allowed;
			cur->policy.n_allowed = n;
		} else if (!strcmp(a, "--block") && cur && !cur->blocked && (n = parse_ports(v, &cur->blocked)) >= 0) {
			cur->policy.blocked = cur->blocked;
			cur->policy.n_blocked = n;
		} else { usage(stderr); free_pods(pods, n_pods); return 2; }
	}

	if (!opts.pin_root) {
		fprintf(stderr, "pcmc-dataplane: --pin-root is required (nothing changed)\n");
		usage(stderr);
		free_pods(pods, n_pods);
		return 2;
	}
	err = dataplane_open(&opts, &dp);
	if (err) {
		free_pods(pods, n_pods);
		return 1;
	}
	for (int i = 0; i < n_pods; i++) {
		struct pod_ref ref = { .uid = pods[i].uid };

		err = dataplane_apply_pod(dp, &ref, &pods[i].policy) ?: err;
	}
	if (remove_uid)
		err = dataplane_remove_pod(dp, remove_uid) ?: err;
	if (orphans) {
		const char *uids[MAX_PODS];
		int removed;

		for (int i = 0; i < n_pods; i++)
			uids[i] = pods[i].uid;
		removed = dataplane_remove_orphans(dp, uids, n_pods);
		err = removed < 0 ? removed : err;
	}
	if (counters)
		print_counters(dp);
	if (stay) {
		struct pollfd pfd = { .fd = dataplane_event_fd(dp), .events = POLLIN };

		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		printf("ready\n");
		fflush(stdout);
		while (!stop) {
			if (poll(&pfd, 1, 1000) >= 0)
				dataplane_refresh(dp);
		}
	}
	dataplane_close(dp);
	free_pods(pods, n_pods);
	return err ? 1 : 0;
}
