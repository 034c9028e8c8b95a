/* Test clients: TCP connect + read greeting, UDP echo, UDP blast, against test pod servers.
 * Run from the host netns or from inside a pod (testpod_spawn); IPv4 and IPv6 literals. */
#ifndef PCMC_TEST_POD_TESTCLIENT_H
#define PCMC_TEST_POD_TESTCLIENT_H

#include <stddef.h>
#include <stdint.h>

/* 0 when connected and the server's greeting ("pcmc ...\n") was read; -ETIMEDOUT when nothing
 * answers (dropped), -ECONNREFUSED / -ECONNRESET / -EHOSTUNREACH ... otherwise. */
int testclient_tcp_connect(const char *ip, uint16_t port, int timeout_ms);
/* Same, and copies the greeting (NUL-terminated, newline stripped) into buf. */
int testclient_tcp_greeting(const char *ip, uint16_t port, int timeout_ms, char *buf, size_t len);
/* 0 when a datagram came back with the same payload; -ETIMEDOUT, -ECONNREFUSED ... */
int testclient_udp_echo(const char *ip, uint16_t port, int timeout_ms);
/* Sends count small datagrams, ignores replies; count sent or -errno. */
int testclient_udp_send(const char *ip, uint16_t port, int count);

#endif
