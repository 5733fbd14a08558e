/* tls.h - TLS (wolfSSL) as a stream layered on any other stream.
 *
 * wolfSSL is bound through its custom I/O callbacks whose context is the
 * stream below (never wolfSSL_set_fd), so TLS runs the same over a socket, a
 * proxy tunnel, or after STARTTLS. Certificate verification never fails the
 * handshake: its verdict is recorded in tls_info and the probe goes on.
 */
#ifndef MP_TLS_H
#define MP_TLS_H

#include <stdbool.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/status.h"
#include "core/stream.h"
#include "core/strlist.h"
#include "core/tls_version.h"
#include "core/tls_peer.h" /* struct cert_info, TLS_VR_* */

struct tls_config {
	int min_version;    /* MP_TLS_V1_x, 0 = the widest wolfSSL offers */
	int max_version;    /* 0 = newest */
	const char *cafile; /* NULL = system store */
	const char *capath; /* NULL = system store */
};

struct tls_info {
	bool done;        /* a handshake completed */
	bool resumed;     /* it resumed a saved session (tls_session.h) */
	char version[16]; /* "TLSv1.3" */
	char cipher[96];  /* IANA name, e.g. "TLS_AES_128_GCM_SHA256" */
	char group[32];   /* key-exchange group, e.g. "X25519", "" if unknown */
	bool sni_sent;
	bool verified;                   /* chain verified against the CA store */
	char verify_error[MP_MAX_ERROR]; /* why not, "" when verified */
	bool hostname_matched;           /* leaf matches the verify host name / address */
	unsigned verify_reasons;         /* TLS_VR_* bits: every reason seen, 0 when all is well */
	struct cert_info chain[MP_MAX_CHAIN]; /* [0] is the leaf */
	int chain_len;
	bool chain_truncated;
	/* Set when a handshake failed because the peer spoke plaintext
	 * ("220 ", "* OK", "+OK" ...); sniff holds the first bytes seen. */
	bool peer_spoke_plaintext;
	char sniff[MP_TLS_SNIFF_BYTES + 1];
	size_t sniff_len;
};

struct tls_ctx;

/* Creates the shared client context (thread-safe for tls_start from many
 * threads). Returns NULL with err set (e.g. unreadable --cafile). */
struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, struct mp_error *err);
void tls_ctx_free(struct tls_ctx *ctx);

/* Runs a client handshake over lower until deadline. sni (may be NULL: not
 * sent for IP literals) is sent as server name; verify_host is the name or
 * address the leaf certificate must match. info is filled as far as the
 * handshake got. On success *out is the TLS stream, which now owns lower.
 * On failure lower is still the caller's, and the result is MP_ERR_TLS or
 * MP_ERR_TLS_TIMEOUT (or MP_ERR_CLOSED / MP_ERR_NETWORK from below). */
enum mp_status tls_start(struct tls_ctx *ctx, struct stream *lower, const char *sni,
                         const char *verify_host, int64_t deadline, struct stream **out,
                         struct tls_info *info, struct mp_error *err);

/* One handshake restricted to exactly `version` (MP_TLS_V1_1..MP_TLS_V1_3),
 * for --enumerate-tls: no certificate verification, no chain recorded. The
 * TLS session is closed again (close_notify) before returning; lower stays
 * the caller's either way. MP_OK when the handshake completed, with
 * info->version and info->cipher set; else as tls_start. The first bytes
 * the server sent (up to first_size) are copied to first (may be NULL), so
 * that a failure can be told apart: an alert, or another version chosen. */
enum mp_status tls_try_version(struct tls_ctx *ctx, int version, struct stream *lower,
                               const char *sni, int64_t deadline, unsigned char *first,
                               size_t first_size, size_t *first_len, struct tls_info *info,
                               struct mp_error *err);

/* Frees the strings tls_info owns. */
void tls_info_free(struct tls_info *info);

/* Frees what this thread's TLS work cached (wolfSSL's per-thread ECC
 * cache); call before a thread that ran tls_start exits.
 *
 * Debian's wolfSSL (FP_ECC) builds a ~800 KiB table for an elliptic-curve
 * point the second time a thread uses it (the P-256 base point: an ECDSA
 * signature check and a key share, or two signature checks), which costs
 * more CPU than the table saves for a handful of uses and memory in every
 * thread. The TLS code calls this between its own uses (after the key
 * exchange, after each signature check) so that no table is ever built. */
void tls_thread_cleanup(void);

/* Routes wolfSSL's allocations of ECC points to a pool (tls_thread.c);
 * tls_global_init calls it first. 0, or -1 when wolfSSL refused. */
int tls_point_pool_init(void);

/* Gives back the pages of the two fixed copies of the peer's chain in
 * ssl's wolfSSL session object (SESSION_CERTS and ALT_CERT_CHAINS: 37 KiB,
 * zeroed and so resident in every connection). Called on the new
 * connection (they hold only zeros then, so only the pages the handshake
 * writes come back) and again after the handshake: we read the chain from
 * our own copies, and with the session cache off wolfSSL does not read
 * them again. Returns the size of the range found (also where threadmem
 * releases nothing), 0 when the layout is not the one expected and nothing
 * was touched. */
struct WOLFSSL;
size_t tls_release_session_chains(struct WOLFSSL *ssl);

/* Once per process; tls_ctx_new calls it. */
int tls_global_init(void);

/* For core/tls_session.c only: tls_start offering sess (*resumed says
 * whether the server took it; then info has no verdict), and the wolfSSL
 * object of a TLS stream (NULL for other streams). */
struct WOLFSSL_SESSION;
enum mp_status tls_handshake_resuming(struct tls_ctx *ctx, struct WOLFSSL_SESSION *sess,
                                      struct stream *lower, const char *sni,
                                      const char *verify_host, int64_t deadline,
                                      struct stream **out, struct tls_info *info, bool *resumed,
                                      struct mp_error *err);
struct WOLFSSL *tls_stream_wolfssl(struct stream *s);

#endif
