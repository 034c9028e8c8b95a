/* restart-container STATE_DIR NAME K: restarts container K of a pcmc-testpod CLI pod the way a
 * kubelet restarts a crashed container (new id and cgroup, server back) and saves its state. */
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "test/pod/testpod.h"

int main(int argc, char **argv)
{
	struct testpod *pod;
	char path[512];
	int err;

	if (argc != 4) {
		fprintf(stderr, "usage: restart-container STATE_DIR NAME CONTAINER\n");
		return 2;
	}
	log_set_component("restart-container");
	snprintf(path, sizeof(path), "%s/%s.json", argv[1], argv[2]);
	err = testpod_load(path, &pod);
	if (err) {
		fprintf(stderr, "restart-container: loading %s: %s\n", path, log_strerror(err));
		return 1;
	}
	err = testpod_restart_container(pod, atoi(argv[3]));
	err = err ?: testpod_save(pod, path);
	if (err)
		fprintf(stderr, "restart-container: %s\n", log_strerror(err));
	else
		printf("%s\n", testpod_container_cgroup_dir(pod, atoi(argv[3])));
	testpod_release(pod);
	return err ? 1 : 0;
}
