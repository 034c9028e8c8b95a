/* A pool of libcurl easy handles sharing one connection cache: any thread takes a handle, and the
 * request reuses an idle keep-alive connection to the same host whichever handle made it. */
#ifndef PCMC_COMMON_CURL_POOL_H
#define PCMC_COMMON_CURL_POOL_H

#include <curl/curl.h>

struct curl_pool;

/* max_idle: handles kept for reuse; max_connections: idle connections kept open in the shared
 * cache (one per peer is enough: 32 for the API server, one per node for the agents). */
int curl_pool_new(unsigned max_idle, unsigned max_connections, struct curl_pool **out);
/* Frees the handles and closes every cached connection. */
void curl_pool_free(struct curl_pool *p);
/* A handle with every option reset except the shared cache (and CURLOPT_MAXCONNECTS, NOSIGNAL);
 * NULL when out of memory. Thread-safe. */
CURL *curl_pool_take(struct curl_pool *p);
/* Returns the handle (its connection stays in the shared cache). Thread-safe. */
void curl_pool_give_back(struct curl_pool *p, CURL *h);

#endif
