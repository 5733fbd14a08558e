/* tls_thread.c - per-thread TLS clean-up, a pool for wolfSSL's ECC points,
 * and giving back the pages of the session's fixed chain copies.
 *
 * Debian's wolfSSL is built with FP_ECC and HAVE_THREAD_LS: each thread that
 * does ECC arithmetic gets its own fixed-point cache, which only
 * wc_ecc_fp_free() in that thread releases (wolfSSL PR #1458). Every ECC
 * multiplication through that cache allocates and zeroes 257 points (one
 * base and a 256-entry table that is only filled on a later use) for each
 * base point it has not seen: 1.6 MiB for one ECDSA check. From malloc that
 * is a thousand calls and, once the heap is trimmed, hundreds of page faults
 * per check. Blocks of exactly that size come from a pool instead: one
 * reserved region, handed out and taken back under a lock, never returned;
 * its high-water mark is what the handshakes computing at once (the CPU
 * slots of tls.c) hold. Anything else, or once the region is used up, goes
 * to malloc.
 */
#include "core/tls.h"
#include "core/sanitizer.h"
#include "core/threadmem.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/memory.h>
#include <wolfssl/ssl.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Under AddressSanitizer wolfSSL keeps malloc, so that every block is
 * checked. */
#ifndef MP_ASAN
/* Reserved address space of the pool; pages are touched as blocks are used. */
#define POINT_POOL_BYTES (32u * 1024 * 1024)

#define POINT_BLOCK sizeof(ecc_point)

static unsigned char *pool_base;
static size_t pool_blocks, pool_used; /* capacity, blocks ever handed out */
static void *pool_free_list;          /* linked through the blocks' first bytes */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static bool in_pool(const void *p)
{
	const unsigned char *b = p;

	return pool_base && b >= pool_base && b < pool_base + pool_blocks * POINT_BLOCK;
}

static void *pool_malloc(size_t size)
{
	void *p = NULL;

	if (size == POINT_BLOCK && pool_base) {
		pthread_mutex_lock(&pool_lock);
		if (pool_free_list) {
			p = pool_free_list;
			memcpy(&pool_free_list, p, sizeof(void *));
		} else if (pool_used < pool_blocks) {
			p = pool_base + pool_used++ * POINT_BLOCK;
		}
		pthread_mutex_unlock(&pool_lock);
		if (p)
			return p;
	}
	return malloc(size);
}

static void pool_free(void *p)
{
	if (!in_pool(p)) {
		free(p);
		return;
	}
	pthread_mutex_lock(&pool_lock);
	memcpy(p, &pool_free_list, sizeof(void *));
	pool_free_list = p;
	pthread_mutex_unlock(&pool_lock);
}

static void *pool_realloc(void *p, size_t size)
{
	void *q = NULL;

	if (!p)
		return pool_malloc(size);
	if (!in_pool(p))
		return realloc(p, size);
	q = pool_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, size < POINT_BLOCK ? size : POINT_BLOCK);
	pool_free(p);
	return q;
}

int tls_point_pool_init(void)
{
	void *base = mmap(NULL, POINT_POOL_BYTES, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED)
		return 0; /* no pool: wolfSSL keeps malloc */
	pool_base = base;
	pool_blocks = POINT_POOL_BYTES / POINT_BLOCK;
	return wolfSSL_SetAllocators(pool_malloc, pool_free, pool_realloc) == 0 ? 0 : -1;
}
#else
int tls_point_pool_init(void)
{
	return 0;
}
#endif

void tls_thread_cleanup(void)
{
#if defined(FP_ECC) && defined(HAVE_ECC)
	wc_ecc_fp_free();
#endif
}

/* wolfSSL's internal.h is not installed, so the layout is found through
 * the public accessors and checked: the chain, then the alternative chain
 * right after it, each an int count and equal buffers (an int length and
 * the certificate). Only the buffers are released, counts stay. */
size_t tls_release_session_chains(WOLFSSL *ssl)
{
#ifdef WOLFSSL_ALT_CERT_CHAINS
	unsigned char *chain = (unsigned char *)wolfSSL_get_peer_chain(ssl);
	unsigned char *alt = (unsigned char *)wolfSSL_get_peer_alt_chain(ssl);
	unsigned char *first, *second;
	size_t stride, size;

	if (!chain || !alt || alt <= chain)
		return 0;
	first = wolfSSL_get_chain_cert((WOLFSSL_X509_CHAIN *)chain, 0);
	second = wolfSSL_get_chain_cert((WOLFSSL_X509_CHAIN *)chain, 1);
	if (first != chain + 2 * sizeof(int) || second <= first || second >= alt)
		return 0;
	stride = (size_t)(second - first);
	size = (size_t)(alt - chain);
	if (stride < 1024 || (size - sizeof(int)) % stride ||
	    wolfSSL_get_chain_cert((WOLFSSL_X509_CHAIN *)alt, 0) != first + size)
		return 0;
	threadmem_release_inside(first, alt + size);
	return (size_t)(alt + size - first);
#else
	(void)ssl;
	return 0;
#endif
}
