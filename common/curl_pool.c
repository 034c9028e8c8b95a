/* curl_pool: easy handles on a free list plus one CURLSH holding the connection and DNS caches,
 * locked per data kind with pthread mutexes (libcurl calls the lock callbacks). */
#include "common/curl_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct curl_pool {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock;
	CURL **idle;
	unsigned nidle, max_idle, max_connections;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	struct curl_pool *p = ud;

	(void)h, (void)access;
	pthread_mutex_lock(&p->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	struct curl_pool *p = ud;

	(void)h;
	pthread_mutex_unlock(&p->share_locks[data]);
}

int curl_pool_new(unsigned max_idle, unsigned max_connections, struct curl_pool **out)
{
	struct curl_pool *p;

	pthread_once(&curl_once, curl_init_once);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->idle = calloc(max_idle ? max_idle : 1, sizeof(*p->idle));
	p->share = curl_share_init();
	if (!p->idle || !p->share) {
		free(p->idle);
		if (p->share)
			curl_share_cleanup(p->share);
		free(p);
		return -ENOMEM;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->share_locks[i], NULL);
	pthread_mutex_init(&p->lock, NULL);
	p->max_idle = max_idle;
	p->max_connections = max_connections ? max_connections : 1;
	curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	*out = p;
	return 0;
}

void curl_pool_free(struct curl_pool *p)
{
	if (!p)
		return;
	/* Handles first: a share in use cannot be cleaned up. */
	for (unsigned i = 0; i < p->nidle; i++)
		curl_easy_cleanup(p->idle[i]);
	curl_share_cleanup(p->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->share_locks[i]);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p);
}

CURL *curl_pool_take(struct curl_pool *p)
{
	CURL *h = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		h = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	if (h)
		curl_easy_reset(h);
	else if (!(h = curl_easy_init()))
		return NULL;
	curl_easy_setopt(h, CURLOPT_SHARE, p->share);
	/* With a shared connection cache, the handle performing decides how many stay open. */
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)p->max_connections);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	return h;
}

void curl_pool_give_back(struct curl_pool *p, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nidle < p->max_idle) {
		p->idle[p->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (h)
		curl_easy_cleanup(h);
}
