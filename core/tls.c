/* tls.c - TLS (wolfSSL) as a stream layered on any other stream.
 *
 * wolfSSL reads and writes through custom I/O callbacks whose context is the
 * stream below, so TLS runs the same over a socket, a proxy tunnel or after
 * STARTTLS. A callback can only return a WOLFSSL_CBIO_ERR_* code, so the real
 * error (timeout, reset, EOF) is kept beside it in struct tls_io.
 * The handshake itself verifies nothing: a callback copies the chain the
 * peer sent, and it is verified afterwards against the trust store
 * (trust.h), so certificate problems never fail the handshake.
 */
#include "core/tls.h"
#include "core/deadline.h"
#include "core/der.h"
#include "core/threadmem.h"
#include "core/trust.h"
#include "core/tls_peer.h"
#include "core/x509_names.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Handshakes computing at once: CPU slots per online processor, and bounds. */
#define TLS_SLOTS_PER_CPU 2
#define TLS_MIN_SLOTS     2
#define TLS_MAX_SLOTS     64
/* Rounds of wolfSSL_connect(); each normally makes all the progress it can. */
#define TLS_MAX_CONNECT_ROUNDS 64

/* The client context. One WOLFSSL_CTX serves every verifying handshake: it
 * has no CAs and verifies nothing, so nothing a peer sends can stay in it
 * (wolfSSL adds the CA certificates a peer sends to the trust store of the
 * context that verified them, wolfSSL PR #11110). The CA store is parsed
 * once into `trust`, read-only, and each chain is verified against it after
 * the handshake (trust_verify). */
struct tls_ctx {
	struct tls_config cfg; /* the versions (the CA store is in trust) */
	struct trust_store *trust;
	WOLFSSL_CTX *shared;
	/* For tls_try_version: one context per version (TLS 1.1, 1.2, 1.3),
	 * made on first use under lock; they verify nothing. */
	pthread_mutex_t lock;
	WOLFSSL_CTX *only[3];
};

/* Context of the I/O callbacks: the stream below, the deadline of the
 * current operation, and the real error behind a WOLFSSL_CBIO_ERR_* code. */
struct tls_io {
	struct stream *lower;
	int64_t deadline;
	bool handshaking;      /* in tls_start: received bytes are sniffed */
	struct mp_error err;   /* code MP_OK when no lower-level error happened */
	bool eof;              /* the lower stream reached EOF */
	struct tls_info *info; /* the caller's, during tls_start only */
	/* The certificates the peer sent, leaf first, copied by capture_cb
	 * during a describing handshake; freed once verified. */
	unsigned char *peer[MP_MAX_CHAIN];
	size_t peer_len[MP_MAX_CHAIN];
	int peer_n;
	bool peer_truncated; /* it sent more than MP_MAX_CHAIN */
	/* wolfSSL's own decoded copy of the leaf (see drop_leaf_key) */
	WOLFSSL_X509 *kept_leaf;
	bool has_slot; /* holds one of the CPU slots (cpu_slot_take) */
	/* The caller's copy of the first bytes received (tls_try_version). */
	unsigned char *capture;
	size_t capture_size;
	size_t capture_len;
};

/* State of one TLS stream. */
struct tls_conn {
	WOLFSSL *ssl;
	struct tls_io io;
};

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_result = -1;
static int tls_ex_idx = -1; /* wolfSSL ex_data slot holding the struct tls_io */
/* Its destructor runs tls_thread_cleanup() in every exiting thread that
 * started a handshake (see tls_thread_exit). */
static pthread_key_t tls_thread_key;
/* CPU slots: a handshake computes (key exchange, signatures, the chain's
 * verification) only while it holds one, and gives it back while it waits
 * for the network. With a thousand probes in flight on a few cores, the
 * scheduler would otherwise interleave hundreds of half-done computations,
 * each holding tens of KiB of big-number temporaries at once. */
static sem_t cpu_slots;

/* ---- one-time setup ---- */

/* Debian's wolfSSL keeps a per-thread ECC cache (FP_ECC, HAVE_THREAD_LS) that
 * leaks megabytes per thread unless the thread frees it before it ends.
 * Threads that forget tls_thread_cleanup() get it from this destructor;
 * calling it twice is harmless. */
static void tls_thread_exit(void *mark)
{
	(void)mark;
	tls_thread_cleanup();
}

static void tls_init_once(void)
{
	if (tls_point_pool_init() != 0 || wolfSSL_Init() != WOLFSSL_SUCCESS)
		return;
	tls_ex_idx = wolfSSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (tls_ex_idx < 0)
		return;
	if (pthread_key_create(&tls_thread_key, tls_thread_exit) != 0)
		return;
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		long slots = cpus > 0 ? cpus * TLS_SLOTS_PER_CPU : TLS_MIN_SLOTS;

		if (slots < TLS_MIN_SLOTS)
			slots = TLS_MIN_SLOTS;
		if (slots > TLS_MAX_SLOTS)
			slots = TLS_MAX_SLOTS;
		if (sem_init(&cpu_slots, 0, (unsigned)slots) != 0)
			return;
	}
	tls_init_result = 0;
}

int tls_global_init(void)
{
	if (pthread_once(&tls_once, tls_init_once) != 0)
		return -1;
	return tls_init_result;
}

/* ---- CPU slots ---- */

/* Takes a CPU slot, waiting at most until io's deadline; without one by
 * then the handshake goes on unthrottled and its own I/O times out. */
static void cpu_slot_take(struct tls_io *io)
{
	int rc;

	if (io->has_slot)
		return;
	if (io->deadline == DEADLINE_NONE) {
		while ((rc = sem_wait(&cpu_slots)) != 0 && errno == EINTR)
			;
	} else {
		struct timespec at = {.tv_sec = (time_t)(io->deadline / 1000),
		                      .tv_nsec = (long)(io->deadline % 1000) * 1000000L};

		while ((rc = sem_clockwait(&cpu_slots, CLOCK_MONOTONIC, &at)) != 0 &&
		       errno == EINTR)
			;
	}
	io->has_slot = rc == 0;
}

static void cpu_slot_give(struct tls_io *io)
{
	if (!io->has_slot)
		return;
	sem_post(&cpu_slots);
	io->has_slot = false;
}

/* ---- I/O callbacks ---- */

/* Appends received bytes to info->sniff while the handshake runs. */
static void sniff_bytes(struct tls_io *io, const char *buf, size_t n)
{
	struct tls_info *info = io->info;
	size_t room;

	if (!info || !io->handshaking || info->sniff_len >= MP_TLS_SNIFF_BYTES)
		return;
	room = MP_TLS_SNIFF_BYTES - info->sniff_len;
	if (n > room)
		n = room;
	memcpy(info->sniff + info->sniff_len, buf, n);
	info->sniff_len += n;
	info->sniff[info->sniff_len] = '\0';
}

/* wolfSSL receive callback: reads from the stream below until io->deadline.
 * A timeout answers WANT_READ, which wolfSSL treats as "try again later", so
 * a TLS stream survives a read that timed out (like a socket does). */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls_io *io = ctx;
	struct mp_error e = {0};
	bool had_slot;
	ssize_t n;

	(void)ssl;
	if (sz <= 0)
		return 0;
	had_slot = io->has_slot;
	cpu_slot_give(io);
	/* A handshake waiting (for the server, then for a slot) keeps neither
	 * the ECC tables nor the stack its last computation (a key share, a
	 * signature check) made resident. */
	if (had_slot)
		tls_thread_cleanup();
	threadmem_trim_stack();
	n = stream_read(io->lower, buf, (size_t)sz, io->deadline, &e);
	if (had_slot)
		cpu_slot_take(io);
	if (n > 0) {
		sniff_bytes(io, buf, (size_t)n);
		if (io->capture && io->capture_len < io->capture_size) {
			size_t take = io->capture_size - io->capture_len;

			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(io->capture + io->capture_len, buf, take);
			io->capture_len += take;
		}
		return (int)n;
	}
	if (n == 0) {
		io->eof = true;
		mp_error_set(&io->err, MP_ERR_CLOSED, "server closed the connection");
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	if (e.code == MP_ERR_TIMEOUT) {
		io->err = e;
		return WOLFSSL_CBIO_ERR_WANT_READ;
	}
	io->err = e;
	return e.code == MP_ERR_CLOSED ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_GENERAL;
}

/* wolfSSL send callback: writes the whole record to the stream below. A
 * write that times out may have sent part of it, so every failure is fatal. */
static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct tls_io *io = ctx;
	struct mp_error e = {0};

	(void)ssl;
	if (sz <= 0)
		return 0;
	/* The slot is kept: a handshake's writes are small and seldom wait. */
	if (stream_write(io->lower, buf, (size_t)sz, io->deadline, &e) < 0) {
		io->err = e;
		return e.code == MP_ERR_CLOSED ? WOLFSSL_CBIO_ERR_CONN_CLOSE
		                               : WOLFSSL_CBIO_ERR_GENERAL;
	}
	return sz;
}

/* Copies the certificates the peer sent, as sent, the first time it is
 * called in a handshake; wolfSSL calls it for every certificate, even
 * without verification (WOLFSSL_ALWAYS_VERIFY_CB, WOLFSSL_VERIFY_CB_ALL_CERTS
 * in Debian's build). wolfSSL's own copy in the session skips certificates
 * larger than 2 KiB, so it would not do. Returns 1: nothing fails here. */
static int capture_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl = NULL;
	struct tls_io *io = NULL;

	(void)preverify;
	/* The key exchange is done; the signature checks come next. */
	tls_thread_cleanup();
	ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl)
		io = wolfSSL_get_ex_data(ssl, tls_ex_idx);
#if defined(KEEP_PEER_CERT) && defined(OPENSSL_ALL)
	/* For the leaf, wolfSSL hands over the copy it keeps in the
	 * connection (KEEP_PEER_CERT); the others are temporary. */
	if (io && store->error_depth == 0 && store->current_cert)
		io->kept_leaf = store->current_cert;
#endif
	if (!io || io->peer_n || !store->certs)
		return 1;
	for (int i = 0; i < store->totalCerts; i++) {
		const WOLFSSL_BUFFER_INFO *b = &store->certs[i];

		if (io->peer_n >= MP_MAX_CHAIN) {
			io->peer_truncated = true;
			break;
		}
		if (!b->buffer || !b->length || !(io->peer[io->peer_n] = malloc(b->length)))
			break;
		memcpy(io->peer[io->peer_n], b->buffer, b->length);
		io->peer_len[io->peer_n++] = b->length;
	}
	return 1;
}

/* wolfSSL keeps the leaf decoded for the whole connection and, in Debian's
 * build (OPENSSL_ALL), its public key decoded once more as an EVP_PKEY: 12
 * KiB for a P-256 key (big numbers of 1 KiB each), more for RSA. The
 * handshake verified the server's signature with its own copy of the key,
 * and we describe the certificate from our copies, so the EVP_PKEY is
 * freed once the handshake is done; wolfSSL frees the certificate later
 * and skips a key that is not there. */
static void drop_leaf_key(struct tls_io *io)
{
	WOLFSSL_X509_PUBKEY *key =
	    io->kept_leaf ? wolfSSL_X509_get_X509_PUBKEY(io->kept_leaf) : NULL;

	if (key && key->pkey) {
		wolfSSL_EVP_PKEY_free(key->pkey);
		key->pkey = NULL;
	}
	io->kept_leaf = NULL;
}

/* Frees the copies capture_cb made. */
static void free_peer_certs(struct tls_io *io)
{
	for (int i = 0; i < io->peer_n; i++)
		free(io->peer[i]);
	io->peer_n = 0;
}

/* ---- context ---- */

/* Text for a wire version number, for messages. */
static const char *version_text(int v)
{
	const char *name = tlsprobe_version_name(v);

	return name ? name : "unknown";
}

/* Restricts the protocol versions to cfg's range; the default is TLS 1.1
 * (the oldest this wolfSSL build speaks) up to TLS 1.3. The minimum goes
 * through wolfSSL_CTX_SetMinVersion because wolfSSL_CTX_set_min_proto_version
 * reports success for TLS 1.0 although this build cannot speak it. */
static enum mp_status set_versions(WOLFSSL_CTX *c, const struct tls_config *cfg,
                                   struct mp_error *err)
{
	int max = cfg && cfg->max_version ? cfg->max_version : 0;
	int min = cfg && cfg->min_version ? cfg->min_version : MP_TLS_V1_1;
	int wolf_min;

	if (!(cfg && cfg->min_version) && max && max < min)
		min = max;
	if (min < MP_TLS_V1_0 || min > MP_TLS_V1_3 || (max && (max < min || max > MP_TLS_V1_3)))
		return mp_error_set(err, MP_ERR_INTERNAL, "invalid TLS version range 0x%04x-0x%04x",
		                    (unsigned)min, (unsigned)max);
	wolf_min = min == MP_TLS_V1_0   ? WOLFSSL_TLSV1
	           : min == MP_TLS_V1_1 ? WOLFSSL_TLSV1_1
	           : min == MP_TLS_V1_2 ? WOLFSSL_TLSV1_2
	                                : WOLFSSL_TLSV1_3;
	if (wolfSSL_CTX_SetMinVersion(c, wolf_min) != WOLFSSL_SUCCESS)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "%s is not available in this wolfSSL build", version_text(min));
	if (max && wolfSSL_CTX_set_max_proto_version(c, max) != WOLFSSL_SUCCESS)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "%s is not available in this wolfSSL build", version_text(max));
	return MP_OK;
}

/* A client context for cfg's versions without CAs that verifies nothing;
 * with capture, capture_cb copies the peer's certificates. */
static WOLFSSL_CTX *new_wolf_ctx(const struct tls_config *cfg, bool capture, struct mp_error *err)
{
	WOLFSSL_CTX *c = wolfSSL_CTX_new(wolfSSLv23_client_method());

	if (!c) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot create the TLS context");
		goto fail;
	}
	if (set_versions(c, cfg, err) != MP_OK)
		goto fail;
	/* Offer every suite wolfSSL has (weak ones included, so a server that
	 * picks one can be reported) except anonymous, NULL-encryption and PSK
	 * suites, which we could not use; "!eNULL" alone leaves
	 * DHE-PSK-NULL-SHA384 in. */
	if (wolfSSL_CTX_set_cipher_list(c, "ALL:!aNULL:!eNULL:!PSK") != WOLFSSL_SUCCESS) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot set the TLS cipher list");
		goto fail;
	}
	wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_NONE, capture ? capture_cb : NULL);
	/* Sessions are never resumed: without this, every session ticket a
	 * server sends has wolfSSL copy the whole session (37 KiB with the
	 * peer's chain) into its process-wide cache, under one lock. */
	wolfSSL_CTX_set_session_cache_mode(c, WOLFSSL_SESS_CACHE_OFF);
	wolfSSL_CTX_SetIORecv(c, io_recv);
	wolfSSL_CTX_SetIOSend(c, io_send);
	return c;
fail:
	if (c)
		wolfSSL_CTX_free(c);
	return NULL;
}

struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, struct mp_error *err)
{
	struct tls_ctx *t = NULL;
	bool ok = false;

	if (tls_global_init() != 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "wolfSSL initialisation failed");
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		t = NULL;
		mp_error_set(err, MP_ERR_INTERNAL, "cannot create a mutex");
		goto out;
	}
	if (cfg) {
		t->cfg.min_version = cfg->min_version;
		t->cfg.max_version = cfg->max_version;
	}
	/* The versions and the CA store are checked now, so that a bad
	 * --cafile is a usage error, not a failure of every probe. */
	t->shared = new_wolf_ctx(&t->cfg, true, err);
	if (!t->shared ||
	    trust_load(cfg ? cfg->cafile : NULL, cfg ? cfg->capath : NULL, &t->trust, err) != MP_OK)
		goto out;
	ok = true;
out:
	if (!ok && t) {
		tls_ctx_free(t);
		t = NULL;
	}
	return t;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->shared)
		wolfSSL_CTX_free(ctx->shared);
	trust_free(ctx->trust);
	for (size_t i = 0; i < sizeof(ctx->only) / sizeof(ctx->only[0]); i++)
		if (ctx->only[i])
			wolfSSL_CTX_free(ctx->only[i]);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

/* The context that speaks exactly `version` (TLS 1.1 to 1.3), made on first
 * use; NULL with err set when this build cannot. */
static WOLFSSL_CTX *version_ctx(struct tls_ctx *t, int version, struct mp_error *err)
{
	struct tls_config cfg = {.min_version = version, .max_version = version};
	WOLFSSL_CTX *c = NULL;
	int i = version - MP_TLS_V1_1;

	if (i < 0 || i >= (int)(sizeof(t->only) / sizeof(t->only[0]))) {
		mp_error_set(err, MP_ERR_INTERNAL, "wolfSSL cannot try %s on its own",
		             version_text(version));
		return NULL;
	}
	pthread_mutex_lock(&t->lock);
	if (!t->only[i])
		t->only[i] = new_wolf_ctx(&cfg, false, err);
	c = t->only[i];
	pthread_mutex_unlock(&t->lock);
	return c;
}

/* ---- handshake ---- */

/* Normalised protocol version name ("TLSv1.3"). */
static void fill_version(WOLFSSL *ssl, struct tls_info *info)
{
	const char *v = tlsprobe_version_name(wolfSSL_version(ssl));

	if (!v)
		v = wolfSSL_get_version(ssl);
	snprintf(info->version, sizeof(info->version), "%s", v ? v : "");
}

/* Key-exchange group in the names of the IANA TLS Supported Groups registry
 * as OpenSSL prints them ("X25519", "P-256", "ffdhe2048"). */
static void fill_group(WOLFSSL *ssl, struct tls_info *info)
{
	static const struct {
		const char *wolf;
		const char *name;
	} map[] = {
	    {"SECP256R1", "P-256"},
	    {"SECP384R1", "P-384"},
	    {"SECP521R1", "P-521"},
	    {"X25519", "X25519"},
	    {"X448", "X448"},
	    {"FFDHE_2048", "ffdhe2048"},
	    {"FFDHE_3072", "ffdhe3072"},
	    {"FFDHE_4096", "ffdhe4096"},
	};
	const char *g = wolfSSL_get_curve_name(ssl);

	info->group[0] = '\0';
	if (!g)
		return;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(g, map[i].wolf) == 0) {
			snprintf(info->group, sizeof(info->group), "%s", map[i].name);
			return;
		}
	}
	snprintf(info->group, sizeof(info->group), "%s", g);
}

/* Negotiated suite by its IANA name ("TLS_AES_128_GCM_SHA256"). */
static void fill_cipher(WOLFSSL *ssl, struct tls_info *info)
{
	int suite = wolfSSL_get_current_cipher_suite(ssl);
	const char *name = NULL;

	if (suite >= 0)
		name = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)((suite >> 8) & 0xff),
		                                               (unsigned char)(suite & 0xff));
	if (!name || !*name || strcmp(name, "None") == 0)
		name = wolfSSL_get_cipher_name(ssl);
	snprintf(info->cipher, sizeof(info->cipher), "%s", name ? name : "");
}

/* Records and verifies the chain the peer sent (capture_cb's copies, see
 * tls_peer.h), then frees the copies. */
static void describe_peer(const struct trust_store *trust, struct tls_io *io,
                          const char *verify_host, struct tls_info *info)
{
	struct tls_peer_verdict v;

	tls_peer_describe(trust, (const unsigned char *const *)io->peer, io->peer_len, io->peer_n,
	                  verify_host, info->chain, &info->chain_len, &v);
	info->chain_truncated = io->peer_truncated;
	info->verified = v.verified;
	info->hostname_matched = v.hostname_matched;
	info->verify_reasons = v.reasons;
	snprintf(info->verify_error, sizeof(info->verify_error), "%s", v.error);
	free_peer_certs(io);
}

/* True if the sniffed bytes look like a plaintext mail server reply. */
static bool sniff_is_plaintext(const struct tls_info *info)
{
	static const char *const greetings[] = {"220", "* OK", "* PREAUTH", "* BYE",
	                                        "+OK", "-ERR", "554",       "421"};

	if (info->sniff_len == 0)
		return false;
	for (size_t i = 0; i < sizeof(greetings) / sizeof(greetings[0]); i++) {
		size_t gl = strlen(greetings[i]);
		size_t n = info->sniff_len < gl ? info->sniff_len : gl;

		if (n >= 3 && memcmp(info->sniff, greetings[i], n) == 0)
			return true;
	}
	for (size_t i = 0; i < info->sniff_len; i++) {
		unsigned char c = (unsigned char)info->sniff[i];

		if (!(isprint(c) || c == '\r' || c == '\n' || c == '\t'))
			return false;
	}
	return true;
}

/* The sniffed bytes quoted for a message, CR/LF/TAB escaped. */
static void quote_sniff(const struct tls_info *info, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < info->sniff_len && o + 3 < size; i++) {
		char c = info->sniff[i];
		const char *esc = c == '\r' ? "\\r" : c == '\n' ? "\\n" : c == '\t' ? "\\t" : NULL;

		if (esc) {
			memcpy(out + o, esc, 2);
			o += 2;
		} else if (isprint((unsigned char)c)) {
			out[o++] = c;
		} else {
			out[o++] = '?';
		}
	}
	out[o] = '\0';
}

/* After a failed handshake whose first bytes look like text, takes whatever
 * else of the reply has already arrived (without waiting) so the message can
 * quote it, then sets the error. */
static enum mp_status plaintext_error(struct tls_io *io, struct tls_info *info,
                                      struct mp_error *err)
{
	char more[MP_TLS_SNIFF_BYTES];
	char q[4 * MP_TLS_SNIFF_BYTES + 1];
	struct mp_error e = {0};
	ssize_t n;

	if (info->sniff_len < MP_TLS_SNIFF_BYTES && !io->eof) {
		n = stream_read(io->lower, more, MP_TLS_SNIFF_BYTES - info->sniff_len,
		                deadline_in(0), &e);
		if (n > 0)
			sniff_bytes(io, more, (size_t)n);
	}
	info->peer_spoke_plaintext = true;
	quote_sniff(info, q, sizeof(q));
	return mp_error_set(err, MP_ERR_TLS,
	                    "peer answered in plaintext (\"%s\"), not TLS: the port may expect "
	                    "STARTTLS or no TLS at all",
	                    q);
}

/* Sets err for a handshake that failed with wolfSSL error code e. */
static enum mp_status handshake_error(WOLFSSL *ssl, struct tls_io *io, int e, struct tls_info *info,
                                      struct mp_error *err)
{
	WOLFSSL_ALERT_HISTORY h;
	char why[MP_MAX_ERROR / 2];
	char alert[96] = "";

	if (sniff_is_plaintext(info))
		return plaintext_error(io, info, err);
	if (io->err.code == MP_ERR_TIMEOUT)
		return mp_error_set(err, MP_ERR_TLS_TIMEOUT,
		                    "TLS handshake did not finish before the deadline");
	if (io->err.code == MP_ERR_CLOSED)
		return mp_error_set(err, MP_ERR_CLOSED,
		                    "server closed the connection during the TLS handshake");
	if (io->err.code != MP_OK)
		return mp_error_set(err, io->err.code, "during the TLS handshake: %s", io->err.msg);
	memset(&h, 0, sizeof(h));
	if (wolfSSL_get_alert_history(ssl, &h) == WOLFSSL_SUCCESS && h.last_rx.code > 0)
		snprintf(alert, sizeof(alert), " (server sent alert: %s)",
		         wolfSSL_alert_desc_string_long(h.last_rx.code));
	wolfSSL_ERR_error_string_n((unsigned long)e, why, sizeof(why));
	return mp_error_set(err, MP_ERR_TLS, "TLS handshake failed: %s%s", why, alert);
}

/* Sends SNI (RFC 6066 section 3) unless sni is an address literal, and
 * offers the common key-exchange groups (RFC 8446 4.2.7). */
static enum mp_status set_extensions(WOLFSSL *ssl, const char *sni, struct tls_info *info,
                                     struct mp_error *err)
{
	static const word16 groups[] = {
	    WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1, WOLFSSL_ECC_SECP521R1,
	    WOLFSSL_ECC_X448,   WOLFSSL_FFDHE_2048,    WOLFSSL_FFDHE_3072,
	};
	struct host_id id;
	size_t len = 0;

	/* The name goes as IDNA2008 A-labels without a trailing dot (RFC 6066
	 * section 3); an address in any spelling (also an IPv6 one with a
	 * zone id, hence the ':') is never sent. */
	if (sni && !strchr(sni, ':') && host_canonical(sni, &id) == HOST_NAME)
		len = strlen(id.text);
	if (len && len <= 255) {
		if (wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, id.text, (word16)len) !=
		    WOLFSSL_SUCCESS)
			return mp_error_set(err, MP_ERR_INTERNAL, "cannot set TLS server name");
		info->sni_sent = true;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (wolfSSL_UseSupportedCurve(ssl, groups[i]) != WOLFSSL_SUCCESS)
			return mp_error_set(err, MP_ERR_INTERNAL,
			                    "cannot offer TLS key-exchange group %u",
			                    (unsigned)groups[i]);
	/* TLS 1.3's key share (RFC 8446 4.2.8) in X25519, not wolfSSL's
	 * default P-256: a P-256 key share and an ECDSA signature both use the
	 * P-256 base point, which makes Debian's wolfSSL (FP_ECC) build an
	 * ~800 KiB table for it in every handshake: memory per probe in flight
	 * and CPU. A server without X25519 asks again (HelloRetryRequest). */
	if (wolfSSL_UseKeyShare(ssl, WOLFSSL_ECC_X25519) != WOLFSSL_SUCCESS) {
		/* not fatal: the default key share stays */
	}
	return MP_OK;
}

/* ---- the TLS stream ---- */

/* Sets err after a failed wolfSSL_read/wolfSSL_write, preferring the real
 * error of the stream below. */
static void io_error(struct tls_conn *c, int ret, const char *what, struct mp_error *err)
{
	char why[MP_MAX_ERROR / 2];
	int e = wolfSSL_get_error(c->ssl, ret);

	if (c->io.err.code != MP_OK) {
		*err = c->io.err;
		return;
	}
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) {
		mp_error_set(err, MP_ERR_TIMEOUT, "no data before the deadline");
		return;
	}
	wolfSSL_ERR_error_string_n((unsigned long)e, why, sizeof(why));
	mp_error_set(err, MP_ERR_TLS, "TLS %s failed: %s", what, why);
}

/* Returns decrypted bytes; those wolfSSL already holds come back without
 * touching the network. A close_notify or TCP EOF reads as EOF (0). */
static ssize_t tls_read(struct stream *s, void *buf, size_t len, int64_t deadline,
                        struct mp_error *err)
{
	struct tls_conn *c = s->ctx;
	int ret;
	int e;

	if (len == 0)
		return 0;
	if (len > INT_MAX)
		len = INT_MAX;
	c->io.deadline = deadline;
	mp_error_clear(&c->io.err);
	ret = wolfSSL_read(c->ssl, buf, (int)len);
	if (ret > 0)
		return ret;
	e = wolfSSL_get_error(c->ssl, ret);
	if (e == WOLFSSL_ERROR_ZERO_RETURN || c->io.eof)
		return 0;
	io_error(c, ret, "read", err);
	return -1;
}

/* Encrypts and sends all len bytes. */
static int tls_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                     struct mp_error *err)
{
	struct tls_conn *c = s->ctx;
	const char *p = buf;

	c->io.deadline = deadline;
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		int ret;

		mp_error_clear(&c->io.err);
		ret = wolfSSL_write(c->ssl, p, chunk);
		if (ret <= 0) {
			io_error(c, ret, "write", err);
			return -1;
		}
		p += ret;
		len -= (size_t)ret;
	}
	return 0;
}

/* Decrypted bytes waiting in wolfSSL plus whatever the layers below hold. */
static size_t tls_pending(struct stream *s)
{
	struct tls_conn *c = s->ctx;
	int n = wolfSSL_pending(c->ssl);

	return (n > 0 ? (size_t)n : 0) + stream_pending(s->lower);
}

/* Sends close_notify (RFC 8446 6.1) without waiting for the peer's, then
 * frees the session and the stack below. */
static void tls_close(struct stream *s)
{
	struct tls_conn *c = s->ctx;

	if (c) {
		if (c->ssl) {
			if (!c->io.eof && c->io.err.code != MP_ERR_CLOSED &&
			    c->io.err.code != MP_ERR_NETWORK) {
				c->io.deadline = deadline_in(MP_TLS_SHUTDOWN_MS);
				wolfSSL_shutdown(c->ssl);
			}
			wolfSSL_free(c->ssl);
		}
		free(c);
	}
	stream_close(s->lower);
	free(s);
}

static const struct stream_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .close = tls_close,
};

void tls_info_free(struct tls_info *info)
{
	if (!info)
		return;
	for (int i = 0; i < info->chain_len && i < MP_MAX_CHAIN; i++) {
		struct cert_info *ci = &info->chain[i];

		free(ci->subject);
		free(ci->issuer);
		free(ci->serial);
		strlist_clear(&ci->san);
		free(ci->not_before);
		free(ci->not_after);
		free(ci->key_type);
		free(ci->sig_alg);
		memset(ci, 0, sizeof(*ci));
	}
	info->chain_len = 0;
}

/* Where tls_try_version wants the first bytes of the server's answer. */
struct capture {
	unsigned char *buf;
	size_t size;
	size_t *len;
};

/* The client handshake over lower with context c (see tls_start). With a
 * trust store, the chain, the host name and the verification are recorded;
 * cap (may be NULL) receives the first bytes the server sent. */
static enum mp_status handshake(WOLFSSL_CTX *c_ctx, const struct trust_store *trust,
                                struct stream *lower, const char *sni, const char *verify_host,
                                int64_t deadline, const struct capture *cap,
                                WOLFSSL_SESSION *resume, bool *resumed, struct stream **out,
                                struct tls_info *info, struct mp_error *err)
{
	struct tls_conn *c = NULL;
	struct stream *s = NULL;
	enum mp_status st = MP_ERR_INTERNAL;
	int ret = WOLFSSL_FATAL_ERROR;
	int e = 0;

	*out = NULL;
	memset(info, 0, sizeof(*info));
	if (cap && cap->len)
		*cap->len = 0;
	/* Any non-NULL value makes tls_thread_exit run when this thread ends. */
	pthread_setspecific(tls_thread_key, &tls_thread_key);
	c = calloc(1, sizeof(*c));
	s = calloc(1, sizeof(*s));
	if (!c || !s) {
		st = mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	c->io.lower = lower;
	c->io.deadline = deadline;
	c->io.handshaking = true;
	c->io.info = info;
	if (cap) {
		c->io.capture = cap->buf;
		c->io.capture_size = cap->buf ? cap->size : 0;
	}
	c->ssl = wolfSSL_new(c_ctx);
	if (!c->ssl) {
		st = mp_error_set(err, MP_ERR_INTERNAL, "cannot create a TLS session");
		goto out;
	}
	/* Still all zeros: only what the handshake copies into them comes back. */
	tls_release_session_chains(c->ssl);
	/* A session to resume (tls_session.c); a server that declines it gets
	 * a full handshake. */
	if (resume && wolfSSL_set_session(c->ssl, resume) != WOLFSSL_SUCCESS)
		resume = NULL;
	wolfSSL_SetIOReadCtx(c->ssl, &c->io);
	wolfSSL_SetIOWriteCtx(c->ssl, &c->io);
	if (wolfSSL_set_ex_data(c->ssl, tls_ex_idx, &c->io) != WOLFSSL_SUCCESS) {
		st = mp_error_set(err, MP_ERR_INTERNAL, "cannot attach TLS session state");
		goto out;
	}
	st = set_extensions(c->ssl, sni, info, err);
	if (st != MP_OK)
		goto out;
	cpu_slot_take(&c->io);
	for (int round = 0; round < TLS_MAX_CONNECT_ROUNDS; round++) {
		ret = wolfSSL_connect(c->ssl);
		if (ret == WOLFSSL_SUCCESS)
			break;
		e = wolfSSL_get_error(c->ssl, ret);
		/* Our callbacks only ask to retry when the deadline passed. */
		if ((e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) ||
		    c->io.err.code != MP_OK || deadline_expired(deadline))
			break;
	}
	if (cap && cap->len)
		*cap->len = c->io.capture_len;
	c->io.capture = NULL;
	if (ret != WOLFSSL_SUCCESS) {
		if (c->io.err.code == MP_OK &&
		    (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE))
			mp_error_set(&c->io.err, MP_ERR_TIMEOUT, "deadline passed");
		st = handshake_error(c->ssl, &c->io, e, info, err);
		goto out;
	}
	info->done = true;
	tls_thread_cleanup();
	/* wolfSSL keeps the handshake's secrets and buffers (Arrays) after a
	 * TLS 1.3 handshake in case the server asks for a client certificate
	 * later; we never send one, and it handles later messages without. */
	wolfSSL_FreeArrays(c->ssl);
	tls_release_session_chains(c->ssl);
	drop_leaf_key(&c->io);
	fill_version(c->ssl, info);
	fill_cipher(c->ssl, info);
	fill_group(c->ssl, info);
	if (resumed)
		*resumed = resume && wolfSSL_session_reused(c->ssl);
	/* A resumed handshake shows no certificate: the caller hands over the
	 * verdict of the full one. */
	if (trust && !(resume && wolfSSL_session_reused(c->ssl)))
		describe_peer(trust, &c->io, verify_host, info);
	cpu_slot_give(&c->io);
	c->io.handshaking = false;
	c->io.info = NULL;
	s->ops = &tls_ops;
	s->ctx = c;
	s->lower = lower;
	s->fd = lower->fd;
	*out = s;
	s = NULL;
	c = NULL;
	st = MP_OK;
out:
	/* Whatever the handshake got to, no ECC table outlives it. */
	tls_thread_cleanup();
	if (c) {
		cpu_slot_give(&c->io);
		if (c->ssl)
			wolfSSL_free(c->ssl);
		free_peer_certs(&c->io);
		free(c);
	}
	free(s);
	return st;
}

enum mp_status tls_start(struct tls_ctx *ctx, struct stream *lower, const char *sni,
                         const char *verify_host, int64_t deadline, struct stream **out,
                         struct tls_info *info, struct mp_error *err)
{
	enum mp_status st = handshake(ctx->shared, ctx->trust, lower, sni, verify_host, deadline,
	                              NULL, NULL, NULL, out, info, err);

	/* What follows is mostly waiting for the server: the stack the
	 * handshake and the verification deepened, and the pages of the ECC
	 * cache handshake() emptied, need not stay resident. */
	threadmem_release_zero_tls();
	threadmem_trim_stack();
	return st;
}

enum mp_status tls_try_version(struct tls_ctx *ctx, int version, struct stream *lower,
                               const char *sni, int64_t deadline, unsigned char *first,
                               size_t first_size, size_t *first_len, struct tls_info *info,
                               struct mp_error *err)
{
	struct capture cap = {.buf = first, .size = first_size, .len = first_len};
	WOLFSSL_CTX *c = version_ctx(ctx, version, err);
	struct stream *tls = NULL;
	enum mp_status st;

	if (first_len)
		*first_len = 0;
	if (!c) {
		memset(info, 0, sizeof(*info));
		return err->code;
	}
	st = handshake(c, NULL, lower, sni, NULL, deadline, &cap, NULL, NULL, &tls, info, err);
	if (st == MP_OK) {
		/* Take the TLS layer off again, leaving lower open. */
		tls->lower = NULL;
		tls_close(tls);
	}
	return st;
}

/* ---- Session resumption: the two hooks core/tls_session.c uses ---- */

enum mp_status tls_handshake_resuming(struct tls_ctx *ctx, struct WOLFSSL_SESSION *sess,
                                      struct stream *lower, const char *sni,
                                      const char *verify_host, int64_t deadline,
                                      struct stream **out, struct tls_info *info, bool *resumed,
                                      struct mp_error *err)
{
	enum mp_status st = handshake(ctx->shared, ctx->trust, lower, sni, verify_host, deadline,
	                              NULL, sess, resumed, out, info, err);

	threadmem_release_zero_tls();
	threadmem_trim_stack();
	return st;
}

struct WOLFSSL *tls_stream_wolfssl(struct stream *s)
{
	return s && s->ops == &tls_ops && s->ctx ? ((struct tls_conn *)s->ctx)->ssl : NULL;
}
