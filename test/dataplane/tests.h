/* The dataplane test groups, registered by test/dataplane/main.c into one Check suite. */
#ifndef PCMC_TEST_DATAPLANE_TESTS_H
#define PCMC_TEST_DATAPLANE_TESTS_H

#include <check.h>

void add_syscall_tests(TCase *tc);
void add_syscall_mkdir_tests(TCase *tc);
void add_firewall_tests(TCase *tc);
void add_packet_tests(TCase *tc);
void add_lifecycle_tests(TCase *tc);
void add_flow_tests(TCase *tc);
void add_attack_tests(TCase *tc);
void add_stateful_tests(TCase *tc);
void add_discovery_tests(TCase *tc);

#endif
