/* Dataplane test suite (real kernel, root): syscall counting, firewall traffic, crafted packets,
 * restart/adoption/orphans/layout upgrade. TAP on stdout; every test uses its own pin dir. */
#include <check.h>
#include <stdio.h>

#include "test/dataplane/fixture.h"
#include "test/dataplane/tests.h"
#include "test/pod/testpod.h"

int main(void)
{
	Suite *s = suite_create("dataplane");
	struct { const char *name; void (*add)(TCase *tc); } groups[] = {
		{ "syscalls", add_syscall_tests },
		{ "syscalls from mkdir", add_syscall_mkdir_tests },
		{ "firewall", add_firewall_tests },
		{ "packets", add_packet_tests },
		{ "flows", add_flow_tests },
		{ "attacks", add_attack_tests },
		{ "stateful", add_stateful_tests },
		{ "discovery", add_discovery_tests },
		{ "lifecycle", add_lifecycle_tests },
	};

	/* Everyone runs `make test`: a concurrent run would share pod names and addresses. */
	if (testpod_suite_lock("test-dataplane") < 0) {
		printf("not ok 1 - cannot take the dataplane suite lock\n");
		return 1;
	}

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		TCase *tc = tcase_create(groups[i].name);

		tcase_set_timeout(tc, 120);
		tcase_add_checked_fixture(tc, NULL, fx_destroy_pods);
		groups[i].add(tc);
		suite_add_tcase(s, tc);
	}
	return fx_run_suite(s);
}
