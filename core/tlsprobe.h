/* tlsprobe.h - which TLS versions a server accepts (--enumerate-tls).
 *
 * Each version is tried on a fresh connection of its own:
 *  - SSLv3 and TLS 1.0 with a hand-built ClientHello and a parser for the
 *    server's first answer (ServerHello or alert). wolfSSL as Debian builds
 *    it has no SSLv3 or TLS 1.0 client (NO_OLD_TLS is off only down to 1.1),
 *    so it cannot even ask. No key exchange is made: a ServerHello that
 *    selects the version offered (RFC 5246 7.4.1.3, RFC 6101 5.6.1.3) means
 *    "accepted", an alert or any other version means "refused".
 *  - TLS 1.1, 1.2 and 1.3 with a complete wolfSSL handshake restricted to
 *    exactly that version (tls_try_version), so "accepted" means a real
 *    client could finish a handshake with it.
 * The attempts run concurrently, each on its own thread when the run's
 * thread budget allows, and all end by the caller's deadline.
 *
 * Everything the server sends is untrusted: the parser checks every length
 * against the bytes really present and never reads past them.
 */
#ifndef MP_TLSPROBE_H
#define MP_TLSPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/status.h"
#include "core/stream.h"
#include "core/tls.h"
#include "core/tls_version.h"

/* The versions --enumerate-tls tries, oldest first (index into results). */
enum tlsprobe_index {
	TLSPROBE_SSL3,
	TLSPROBE_TLS10,
	TLSPROBE_TLS11,
	TLSPROBE_TLS12,
	TLSPROBE_TLS13,
	TLSPROBE_NVERSIONS
};

/* What one version attempt showed. */
struct tls_version_check {
	int version;               /* wire value: MP_SSL_V3 ... MP_TLS_V1_3 */
	bool accepted;             /* the server selected this version */
	bool conclusive;           /* false: the attempt could not get an answer
	                              (connection, STARTTLS or timeout); detail says why */
	char detail[MP_MAX_ERROR]; /* cipher when accepted, alert or reason otherwise */
};

/* Wire version of results[i] (MP_SSL_V3 ... MP_TLS_V1_3). */
int tlsprobe_version_at(int i);
/* RFC 8446 6.2 / RFC 5246 7.2 name of an alert description, e.g.
 * "protocol_version"; NULL when unknown. */
const char *tlsprobe_alert_name(int desc);

/* ---- ClientHello ---- */

/* Builds one TLSPlaintext record holding a ClientHello for `version` into
 * buf: a broad list of cipher suites (legacy ones included, so an old server
 * finds one it knows), SNI for sni unless it is NULL or an address literal
 * (RFC 6066 3), the common groups and signature algorithms, and for TLS 1.3
 * supported_versions and an X25519 key share (RFC 8446 4.2.1, 4.2.8) made of
 * key_share's 32 bytes. SSLv3 hellos carry no extensions. random is the
 * ClientHello.random. Returns 0 with *len set, or -1 when buf is too small
 * or version is not one of the five. */
int tlsprobe_build_hello(unsigned char *buf, size_t size, int version, const char *sni,
                         const unsigned char random[32], const unsigned char key_share[32],
                         size_t *len);

/* ---- The server's first answer ---- */

enum tlsprobe_kind {
	TLSPROBE_NEED_MORE,    /* no verdict yet: more bytes are needed */
	TLSPROBE_SERVER_HELLO, /* a well-formed ServerHello (or HelloRetryRequest) */
	TLSPROBE_ALERT,        /* an alert record */
	TLSPROBE_MALFORMED,    /* not a TLS answer, or lengths that lie; why says what */
};

struct tlsprobe_reply {
	enum tlsprobe_kind kind;
	int legacy_version; /* ServerHello.server_version */
	int version;        /* selected: supported_versions if present, else legacy */
	int cipher;         /* selected cipher suite */
	bool hello_retry;   /* a TLS 1.3 HelloRetryRequest (RFC 8446 4.1.4) */
	bool plaintext;     /* MALFORMED because the bytes look like text */
	int alert_level;    /* 1 warning, 2 fatal */
	int alert_desc;
	char why[MP_MAX_ERROR / 2];
};

/* Parses the first len bytes a server sent after our ClientHello. Handshake
 * messages may span several records. Returns (and sets out->kind) the
 * verdict; TLSPROBE_NEED_MORE until one is possible. */
enum tlsprobe_kind tlsprobe_parse(const unsigned char *buf, size_t len, struct tlsprobe_reply *out);

/* Sends a ClientHello for `version` over s and reads the answer until a
 * verdict or deadline (at most MP_TLSPROBE_MAX_REPLY bytes). MP_OK with
 * *out filled (ServerHello, alert or malformed); MP_ERR_TLS_TIMEOUT,
 * MP_ERR_CLOSED (no answer at all) or the stream's error otherwise. */
enum mp_status tlsprobe_hello_exchange(struct stream *s, int version, const char *sni,
                                       int64_t deadline, struct tlsprobe_reply *out,
                                       struct mp_error *err);

/* Fills chk (version, accepted, conclusive, detail) from one exchange. */
void tlsprobe_judge(int version, enum mp_status st, const struct tlsprobe_reply *reply,
                    const struct mp_error *err, struct tls_version_check *chk);

/* ---- Enumeration ---- */

/* One endpoint to enumerate. open() gives a fresh connection that is ready
 * for a ClientHello (for STARTTLS endpoints: after the server's go-ahead),
 * keeping its socket in *fd_slot for an interrupt, and close() closes it;
 * both are called from several threads at once (the helper runner's), with
 * the attempt's index (enum tlsprobe_index). */
struct tlsprobe_target {
	enum mp_status (*open)(void *arg, int index, volatile int *fd_slot, int64_t deadline,
	                       struct stream **out, struct mp_error *err);
	void (*close)(void *arg, int index, volatile int *fd_slot, struct stream *s);
	void *arg;
	struct tls_ctx *tls; /* for tls_try_version */
	const char *sni;     /* may be NULL */
	int tls_timeout_ms;  /* per handshake */
	int64_t deadline;    /* every attempt ends by then */
	int defer_version;   /* tried only in tlsprobe_enum_finish, unless
	                        tlsprobe_enum_known() gave its verdict (0: none) */
};

struct tlsprobe_run;

/* Starts the attempts, up to `threads` of them on threads of their own (the
 * newest versions first); the rest wait for tlsprobe_enum_more or
 * tlsprobe_enum_finish. t is copied; t->arg must live until
 * tlsprobe_enum_finish returns. Returns NULL when out of memory. */
struct tlsprobe_run *tlsprobe_enum_start(const struct tlsprobe_target *t, int threads);
/* Starts up to `threads` more of the waiting attempts; returns how many. */
int tlsprobe_enum_more(struct tlsprobe_run *run, int threads);
/* Lets tlsprobe_enum_more start the deferred version too (its verdict was
 * not learnt elsewhere). */
void tlsprobe_enum_release(struct tlsprobe_run *run);
/* Records a verdict learnt elsewhere (the probe's own handshake selected
 * chk->version) for an attempt that has not started; ignored otherwise. */
void tlsprobe_enum_known(struct tlsprobe_run *run, const struct tls_version_check *chk);
/* Shuts down the sockets of the attempts running (an interrupt; any thread). */
void tlsprobe_enum_interrupt(struct tlsprobe_run *run);
/* Runs the attempts still waiting in this thread, waits for the others and
 * frees run. out (may be NULL) gets one entry per version, oldest first. */
void tlsprobe_enum_finish(struct tlsprobe_run *run,
                          struct tls_version_check out[TLSPROBE_NVERSIONS]);

#endif
