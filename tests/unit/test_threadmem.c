/* Unit tests for core/threadmem.c (giving pages back) and for
 * tls_release_session_chains (core/tls_thread.c), which uses it on
 * wolfSSL's session object. Residency is read with mincore(2); under
 * AddressSanitizer threadmem releases nothing, and only the rest is
 * checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "core/sanitizer.h"
#include "core/threadmem.h"
#include "core/tls.h"

#ifdef MP_ASAN
static const bool releases = false;
#else
static const bool releases = true;
#endif

static uintptr_t page(void)
{
	return (uintptr_t)sysconf(_SC_PAGESIZE);
}

/* Number of resident pages among the whole pages inside [from, to). */
static int resident_pages(const void *from, const void *to, int *whole)
{
	uintptr_t pg = page();
	uintptr_t lo = ((uintptr_t)from + pg - 1) & ~(pg - 1);
	uintptr_t hi = (uintptr_t)to & ~(pg - 1);
	unsigned char vec[64];
	int n = 0;

	*whole = hi > lo ? (int)((hi - lo) / pg) : 0;
	assert_true(*whole <= (int)sizeof(vec));
	if (*whole == 0)
		return 0;
	assert_int_equal(mincore((void *)lo, hi - lo, vec), 0);
	for (int i = 0; i < *whole; i++)
		n += vec[i] & 1;
	return n;
}

/* The whole pages inside the range go (and read as zeros); the bytes
 * around them, on pages shared with the rest of the block, stay; the block
 * stays usable and is freed as usual. */
static void test_release_inside_block(void **state)
{
	size_t size = 16 * page();
	unsigned char *p = malloc(size);
	unsigned char *from = p + 100, *to = p + size - 100;
	int whole = 0, n;

	(void)state;
	assert_non_null(p);
	memset(p, 0xab, size);
	n = resident_pages(from, to, &whole);
	assert_true(whole >= 14);
	assert_int_equal(n, whole);
	threadmem_release_inside(from, to);
	n = resident_pages(from, to, &whole);
	assert_int_equal(n, releases ? 0 : whole);
	for (size_t i = 0; i < 100; i++) {
		assert_int_equal(p[i], 0xab);
		assert_int_equal(p[size - 1 - i], 0xab);
	}
	/* The first byte of the first whole page inside the range */
	{
		uintptr_t pg = page();
		unsigned char *in = (unsigned char *)(((uintptr_t)from + pg - 1) & ~(pg - 1));

		assert_int_equal(*in, releases ? 0 : 0xab);
		/* the byte before it shares a page with the untouched head */
		assert_int_equal(in[-1], 0xab);
	}
	memset(p, 0xcd, size);
	n = resident_pages(from, to, &whole);
	assert_int_equal(n, whole);
	assert_int_equal(p[size / 2], 0xcd);
	free(p);
}

/* A range that holds no whole page changes nothing. */
static void test_release_inside_less_than_a_page(void **state)
{
	uintptr_t pg = page();
	unsigned char *p = aligned_alloc(pg, 2 * pg);
	int whole = 0;

	(void)state;
	assert_non_null(p);
	memset(p, 0x5a, 2 * pg);
	threadmem_release_inside(p + 1, p + 2 * pg - 1);
	assert_int_equal(resident_pages(p + 1, p + 2 * pg - 1, &whole), 0);
	assert_int_equal(whole, 0); /* no whole page inside: nothing to look at */
	for (size_t i = 0; i < 2 * pg; i++)
		assert_int_equal(p[i], 0x5a);
	threadmem_release_inside(NULL, p);
	threadmem_release_inside(p, NULL);
	free(p);
}

/* The installed wolfSSL's session has the layout tls_release_session_chains
 * expects, so every handshake gives the two chain copies back: if a new
 * wolfSSL changes it, this fails instead of the memory quietly growing. */
static void test_session_chains_released(void **state)
{
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	WOLFSSL_X509_CHAIN *chain, *alt;
	unsigned char *from, *end;
	size_t n;
	int whole = 0, left;

	(void)state;
	assert_int_equal(tls_global_init(), 0);
	ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	assert_non_null(ctx);
	ssl = wolfSSL_new(ctx);
	assert_non_null(ssl);
	chain = wolfSSL_get_peer_chain(ssl);
	alt = wolfSSL_get_peer_alt_chain(ssl);
	assert_non_null(chain);
	assert_non_null(alt);
	from = wolfSSL_get_chain_cert(chain, 0);
	end = (unsigned char *)alt + ((unsigned char *)alt - (unsigned char *)chain);
	/* wolfSSL zeroed the session, so all of it is resident now */
	left = resident_pages(from, end, &whole);
	assert_int_equal(left, whole);
	/* Debian 12: two chains of 9 buffers of 2 KiB, less the first count
	 * and length */
	n = tls_release_session_chains(ssl);
	assert_true(n >= 2 * 9 * 2048);
	assert_ptr_equal(from + n, end);
	left = resident_pages(from, from + n, &whole);
	assert_true(whole >= 8);
	assert_int_equal(left, releases ? 0 : whole);
	/* The counts stay where they were (outside the range). */
	assert_int_equal(wolfSSL_get_chain_count(chain), 0);
	assert_int_equal(wolfSSL_get_chain_count(alt), 0);
	/* Twice is harmless. */
	assert_int_equal(tls_release_session_chains(ssl), n);
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	assert_int_equal(tls_release_session_chains(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_inside_block),
	    cmocka_unit_test(test_release_inside_less_than_a_page),
	    cmocka_unit_test(test_session_chains_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
