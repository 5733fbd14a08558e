/* tls_thread.c - per-thread TLS clean-up.
 *
 * Debian's wolfSSL is built with FP_ECC and HAVE_THREAD_LS: each thread that
 * does ECC arithmetic gets its own fixed-point cache, which only
 * wc_ecc_fp_free() in that thread releases (wolfSSL PR #1458).
 */
#include "tls.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

void tls_thread_cleanup(void)
{
#if defined(FP_ECC) && defined(HAVE_ECC)
	wc_ecc_fp_free();
#endif
}
