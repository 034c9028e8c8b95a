/* pcmc-testpod: the test pod for shell scripts (node simulator). create leaves the pod running
 * and records it in <state-dir>/<name>.json; exec, syscalls and delete find it there. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "test/pod/internal.h"

#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: pcmc-testpod create   --state-dir DIR --name N --uid U [--driver cgroupfs|systemd]\n"
	"                             [--qos guaranteed|burstable|besteffort] [--cgroup-root P]\n"
	"                             [--ipv4 A] [--ipv6 A] [--tcp PORT]... [--udp PORT]...\n"
	"                             [--containers K] [--serve-mask M] [--cni-dir DIR]\n"
	"       pcmc-testpod delete   --state-dir DIR --name N [--uid U] [--cgroup-root P]\n"
	"                             (without a state file: removes netns, veth and, with --uid,\n"
	"                             the pod cgroups of any driver/QoS)\n"
	"       pcmc-testpod exec     --state-dir DIR --name N [--container K] -- CMD [ARGS...]\n"
	"       pcmc-testpod syscalls --state-dir DIR --name N --count C [--syscall getppid]\n"
	"                             [--container K]\n"
	"       pcmc-testpod restart  --state-dir DIR --name N [--container K]\n"
	"                             (new container id + cgroup, server restarted; prints the JSON)\n"
	"       pcmc-testpod show     --state-dir DIR --name N\n"
	"create prints the pod's JSON (containerIDs, podIP, cgroups, pids, netns, hostVeth) and leaves\n"
	"the pod's CNI result record in --cni-dir (default " TESTPOD_DEFAULT_CNI_DIR ")/results.\n"
	"Exit status: 0 ok, 1 failure, 2 usage error; exec returns the command's status.\n";

struct options {
	const char *command, *state_dir, *name, *uid, *cgroup_root, *ipv4, *ipv6, *syscall_name, *cni_dir;
	enum testpod_driver driver;
	enum testpod_qos qos;
	uint16_t tcp[TESTPOD_MAX_PORTS], udp[TESTPOD_MAX_PORTS];
	int n_tcp, n_udp, containers, container;
	long count;
	unsigned serve_mask;
	char **argv; /* exec: the command after -- */
};

static __attribute__((noreturn, format(printf, 2, 3))) void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pcmc-testpod%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(EXIT_USAGE);
}

static long parse_number(const char *cmd, const char *flag, const char *text, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 0);
	if (errno || end == text || *end || v < min || v > max)
		usage_error(cmd, "%s: bad value '%s' (want a number %ld-%ld)", flag, text, min, max);
	return v;
}

static int pick(const char *cmd, const char *flag, const char *text, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(text, names[i]) == 0)
			return i;
	if (n == 2)
		usage_error(cmd, "%s: bad value '%s' (want %s|%s)", flag, text, names[0], names[1]);
	usage_error(cmd, "%s: bad value '%s' (want %s|%s|%s)", flag, text, names[0], names[1], names[2]);
}

static bool valid_uid(const char *uid)
{
	if (strlen(uid) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? uid[i] != '-' : !strchr("0123456789abcdefABCDEF", uid[i]))
			return false;
	}
	return true;
}

static void parse(int argc, char **argv, struct options *o)
{
	static const char *const drivers[] = { "cgroupfs", "systemd" };
	static const char *const qoses[] = { "guaranteed", "burstable", "besteffort" };
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'd' }, { "name", required_argument, NULL, 'n' },
		{ "uid", required_argument, NULL, 'u' },       { "driver", required_argument, NULL, 'D' },
		{ "qos", required_argument, NULL, 'q' },       { "cgroup-root", required_argument, NULL, 'r' },
		{ "ipv4", required_argument, NULL, '4' },      { "ipv6", required_argument, NULL, '6' },
		{ "tcp", required_argument, NULL, 't' },       { "udp", required_argument, NULL, 'U' },
		{ "containers", required_argument, NULL, 'k' }, { "container", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'C' },     { "syscall", required_argument, NULL, 's' },
		{ "serve-mask", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' },
		{ "cni-dir", required_argument, NULL, 'N' },
		{ 0 },
	};
	const char *cmd;
	int opt;

	if (argc < 2)
		usage_error(NULL, "missing command");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		exit(0);
	}
	cmd = o->command = argv[1];
	if (strcmp(cmd, "create") && strcmp(cmd, "delete") && strcmp(cmd, "exec") &&
	    strcmp(cmd, "syscalls") && strcmp(cmd, "show") && strcmp(cmd, "restart"))
		usage_error(NULL, "unknown command '%s'", cmd);
	o->containers = 1;
	o->count = -1;
	o->syscall_name = "getppid";
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': o->state_dir = optarg; break;
		case 'n': o->name = optarg; break;
		case 'u': o->uid = optarg; break;
		case 'D': o->driver = (enum testpod_driver)pick(cmd, "--driver", optarg, drivers, 2); break;
		case 'q': o->qos = (enum testpod_qos)pick(cmd, "--qos", optarg, qoses, 3); break;
		case 'r': o->cgroup_root = optarg; break;
		case '4': o->ipv4 = optarg; break;
		case '6': o->ipv6 = optarg; break;
		case 'N': o->cni_dir = optarg; break;
		case 't':
			if (o->n_tcp == TESTPOD_MAX_PORTS)
				usage_error(cmd, "--tcp: at most %d ports", TESTPOD_MAX_PORTS);
			o->tcp[o->n_tcp++] = (uint16_t)parse_number(cmd, "--tcp", optarg, 1, 65535);
			break;
		case 'U':
			if (o->n_udp == TESTPOD_MAX_PORTS)
				usage_error(cmd, "--udp: at most %d ports", TESTPOD_MAX_PORTS);
			o->udp[o->n_udp++] = (uint16_t)parse_number(cmd, "--udp", optarg, 1, 65535);
			break;
		case 'k': o->containers = (int)parse_number(cmd, "--containers", optarg, 1, TESTPOD_MAX_CONTAINERS); break;
		case 'c': o->container = (int)parse_number(cmd, "--container", optarg, 0, TESTPOD_MAX_CONTAINERS - 1); break;
		case 'C': o->count = parse_number(cmd, "--count", optarg, 0, LONG_MAX); break;
		case 's': o->syscall_name = optarg; break;
		case 'm': o->serve_mask = (unsigned)parse_number(cmd, "--serve-mask", optarg, 0, 0xffff); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default:
			if (optopt)
				usage_error(cmd, "%s: missing value", argv[optind - 1]);
			usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	o->argv = argv + optind;
	if (!o->state_dir)
		usage_error(cmd, "--state-dir is required");
	if (!o->name)
		usage_error(cmd, "--name is required");
	if (strlen(o->name) > TESTPOD_NAME_MAX || !o->name[0] || strchr(o->name, '/'))
		usage_error(cmd, "--name: bad value '%s' (want 1-%d chars of a-z 0-9 -)", o->name, TESTPOD_NAME_MAX);
	for (const char *p = o->name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *p) || o->name[0] == '-')
			usage_error(cmd, "--name: bad value '%s' (want 1-%d chars of a-z 0-9 -)", o->name,
				    TESTPOD_NAME_MAX);
	if (strcmp(cmd, "create") == 0 && !o->uid)
		usage_error(cmd, "--uid is required");
	if (o->uid && !valid_uid(o->uid))
		usage_error(cmd, "--uid: bad value '%s' (want a 36-char UID like 0f8a3c6e-1b2d-4e5f-8a9b-0c1d2e3f4a5b)",
			    o->uid);
	if (o->cgroup_root) {
		struct statfs st;

		if (statfs(o->cgroup_root, &st) < 0 || st.f_type != CGROUP2_SUPER_MAGIC)
			usage_error(cmd, "--cgroup-root: bad value '%s' (not a cgroup2 directory)", o->cgroup_root);
	}
	if (o->ipv4 && inet_pton(AF_INET, o->ipv4, &(struct in_addr){ 0 }) != 1)
		usage_error(cmd, "--ipv4: bad value '%s' (want an IPv4 address like 10.244.100.5)", o->ipv4);
	if (o->ipv6 && inet_pton(AF_INET6, o->ipv6, &(struct in6_addr){ 0 }) != 1)
		usage_error(cmd, "--ipv6: bad value '%s' (want an IPv6 address like fd00:10:244:64::5)", o->ipv6);
	if (strcmp(cmd, "exec") == 0 && !o->argv[0])
		usage_error(cmd, "missing command after --");
	if (strcmp(cmd, "exec") && o->argv[0])
		usage_error(cmd, "unexpected argument '%s'", o->argv[0]);
	if (strcmp(cmd, "syscalls") == 0 && o->count < 0)
		usage_error(cmd, "--count is required");
}

static void state_path(const struct options *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.json", o->state_dir, o->name);
}

static int fail(const char *what, const char *name, int err)
{
	fprintf(stderr, "pcmc-testpod: %s %s: %s\n", what, name, strerror(-err));
	return 1;
}

static int cmd_create(const struct options *o)
{
	struct testpod_spec spec = {
		.name = o->name, .uid = o->uid, .driver = o->driver, .qos = o->qos,
		.cgroup_root = o->cgroup_root, .ipv4 = o->ipv4, .ipv6 = o->ipv6, .cni_dir = o->cni_dir,
		.n_tcp = o->n_tcp, .n_udp = o->n_udp, .n_containers = o->containers,
		.serve_mask = o->serve_mask, .daemonize = true,
	};
	char path[PATH_MAX], *json;
	struct testpod *pod;
	int err;

	memcpy(spec.tcp_ports, o->tcp, sizeof(spec.tcp_ports));
	memcpy(spec.udp_ports, o->udp, sizeof(spec.udp_ports));
	if (mkdir(o->state_dir, 0755) < 0 && errno != EEXIST)
		return fail("cannot create --state-dir", o->state_dir, -errno);
	state_path(o, path, sizeof(path));
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "pcmc-testpod: pod %s already exists (%s)\n", o->name, path);
		return 1;
	}
	if ((err = testpod_create(&spec, &pod)))
		return fail("cannot create pod", o->name, err);
	if ((err = testpod_save(pod, path))) {
		testpod_destroy(pod);
		return fail("cannot save state of pod", o->name, err);
	}
	json = testpod_to_json(pod);
	if (json) {
		puts(json);
		free(json);
	}
	testpod_release(pod); /* its processes live on, in their own sessions */
	return 0;
}

static int cmd_delete(const struct options *o)
{
	char path[PATH_MAX];
	struct testpod *pod;
	int err;

	state_path(o, path, sizeof(path));
	err = testpod_load(path, &pod);
	if (err == -ENOENT) {
		/* No state: already gone, or its creator died before writing it. Remove what the
		 * name (and --uid, if given) identify, so a delete always leaves nothing behind. */
		if ((err = testpod_purge(o->cgroup_root, o->name, o->uid)))
			return fail("cannot purge pod", o->name, err);
		return 0;
	}
	if (err)
		return fail("cannot read state of pod", o->name, err);
	if ((err = testpod_destroy_checked(pod)))
		return fail("cannot delete pod", o->name, err);
	if (unlink(path) < 0 && errno != ENOENT)
		return fail("cannot remove state file of pod", o->name, -errno);
	return 0;
}

static int load(const struct options *o, struct testpod **pod)
{
	char path[PATH_MAX];
	int err;

	state_path(o, path, sizeof(path));
	err = testpod_load(path, pod);
	if (err)
		fprintf(stderr, "pcmc-testpod: cannot read state of pod %s (%s): %s\n", o->name, path,
			strerror(-err));
	else if (o->container >= testpod_n_containers(*pod)) {
		fprintf(stderr, "pcmc-testpod: --container: bad value '%d' (pod %s has %d)\n",
			o->container, o->name, testpod_n_containers(*pod));
		testpod_release(*pod);
		exit(EXIT_USAGE);
	}
	return err;
}

static int cmd_show(const struct options *o)
{
	struct testpod *pod;
	char *json;

	if (load(o, &pod))
		return 1;
	json = testpod_to_json(pod);
	if (json)
		puts(json);
	free(json);
	testpod_release(pod);
	return json ? 0 : 1;
}

static int cmd_restart(const struct options *o)
{
	char path[PATH_MAX], *json;
	struct testpod *pod;
	int err;

	if (load(o, &pod))
		return 1;
	err = testpod_restart_container(pod, o->container);
	state_path(o, path, sizeof(path));
	/* saved whatever happened: the state must name the container's current cgroup */
	if (testpod_save(pod, path) && !err)
		err = -EIO;
	json = err ? NULL : testpod_to_json(pod);
	if (json)
		puts(json);
	free(json);
	testpod_release(pod);
	return err ? fail("cannot restart container of pod", o->name, err) : 0;
}

static int cmd_exec(const struct options *o)
{
	struct testpod *pod;
	int status;

	if (load(o, &pod))
		return 1;
	fflush(NULL);
	status = testpod_exec(pod, o->container, o->argv);
	testpod_release(pod);
	if (status < 0)
		return fail("cannot exec in pod", o->name, status);
	return status;
}

struct syscall_job {
	long nr, count;
};

/* Nothing but the loop: the BPF side counts exactly these syscalls from this cgroup. */
static int generate_syscalls(void *arg)
{
	const struct syscall_job *job = arg;

	for (long i = 0; i < job->count; i++)
		syscall(job->nr);
	return 0;
}

static int cmd_syscalls(const struct options *o)
{
	static const struct { const char *name; long nr; } known[] = {
		{ "getppid", SYS_getppid }, { "getpid", SYS_getpid }, { "gettid", SYS_gettid },
		{ "getuid", SYS_getuid },   { "getgid", SYS_getgid },
	};
	struct syscall_job job = { .nr = -1, .count = o->count };
	struct testpod *pod;
	int status;
	pid_t pid;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(o->syscall_name, known[i].name) == 0)
			job.nr = known[i].nr;
	if (job.nr < 0)
		usage_error("syscalls", "--syscall: bad value '%s' (want getppid|getpid|gettid|getuid|getgid)",
			    o->syscall_name);
	if (load(o, &pod))
		return 1;
	fflush(NULL);
	pid = testpod_spawn(pod, o->container, generate_syscalls, &job);
	status = pid < 0 ? pid : testpod_wait(pid, -1);
	if (status == 0)
		printf("{\"pid\":%d,\"syscall\":\"%s\",\"count\":%ld,\"cgroup\":\"%s\",\"cgroupId\":%llu}\n",
		       (int)pid, o->syscall_name, o->count, testpod_container_cgroup_dir(pod, o->container),
		       (unsigned long long)testpod_cgroup_id(testpod_container_cgroup_dir(pod, o->container)));
	testpod_release(pod);
	if (status < 0)
		return fail("cannot run syscall generator in pod", o->name, status);
	return status ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };

	log_set_component("pcmc-testpod");
	parse(argc, argv, &o);
	if (strcmp(o.command, "create") == 0)
		return cmd_create(&o);
	if (strcmp(o.command, "delete") == 0)
		return cmd_delete(&o);
	if (strcmp(o.command, "exec") == 0)
		return cmd_exec(&o);
	if (strcmp(o.command, "show") == 0)
		return cmd_show(&o);
	if (strcmp(o.command, "restart") == 0)
		return cmd_restart(&o);
	return cmd_syscalls(&o);
}
