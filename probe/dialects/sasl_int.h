/* sasl_int.h - inside the SASL client: the state of an exchange and the
 * helpers its files share (sasl_client.c, sasl_util.c, sasl_plain.c, sasl_cram.c,
 * sasl_scram.c, sasl_oauth.c, apop.c). Not for use outside them: the
 * contract is sasl.h. */
#ifndef MP_SASL_INT_H
#define MP_SASL_INT_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/status.h"
#include "probe/dialects/quote.h"
#include "probe/dialects/sasl.h"

/* Largest digest we use (SHA-256). */
#define SASL_MAX_DIGEST WC_SHA256_DIGEST_SIZE
/* Longest SCRAM client nonce accepted from the test seam. */
#define SASL_MAX_NONCE 128
/* Room for sasl_server_error(): a few quoted fields and their labels. */
#define SASL_SERVER_ERROR_SIZE (3 * DIALECT_QUOTE_SIZE + 64)
/* Largest message we build (credentials and server text, with escaping). */
#define SASL_MAX_MESSAGE (8 * MP_MAX_SASL_CRED + 2 * MP_MAX_SASL_CHALLENGE)

enum sasl_state {
	ST_START,      /* nothing sent yet */
	ST_SENT_FIRST, /* LOGIN: user name sent; SCRAM: client-first sent */
	ST_SENT_FINAL, /* SCRAM: client-final sent, server-final awaited */
	ST_DONE,       /* everything sent (SCRAM: and the server verified) */
	ST_FAILED,     /* the server reported an error inside the exchange */
	ST_SPENT,      /* a protocol or internal error ended the exchange */
};

struct sasl_client {
	enum sasl_mech mech;
	enum sasl_state state;
	char *user;
	char *pass;
	char *token;
	char *authzid;
	char *host;
	uint16_t port;
	char nonce[SASL_MAX_NONCE + 1]; /* SCRAM client nonce, "" until made */
	char *gs2_header;               /* SCRAM: "n,," or "n,a=...," */
	char *client_first_bare;        /* SCRAM: kept for the AuthMessage */
	unsigned char server_sig[SASL_MAX_DIGEST];
	bool verified;
	bool has_server_error;
	char server_error[SASL_SERVER_ERROR_SIZE];
};

/* A growing byte buffer for messages that may hold secrets. */
struct sasl_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static inline bool sasl_is_scram(enum sasl_mech mech)
{
	return mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256;
}

static inline bool sasl_is_oauth(enum sasl_mech mech)
{
	return mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER;
}

/* True for a SCRAM nonce character: printable ASCII except ','
 * (RFC 5802 section 7). */
static inline bool sasl_nonce_char(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != ',';
}

/* Appends n bytes (and keeps a NUL after them); past SASL_MAX_MESSAGE or
 * out of memory the buffer is marked failed. */
void sasl_buf_add(struct sasl_buf *b, const void *data, size_t n);

/* Appends a string. */
void sasl_buf_str(struct sasl_buf *b, const char *s);

/* Appends s as a SCRAM saslname / GS2 authzid: '=' as "=3D", ',' as "=2C"
 * (RFC 5802 section 5.1, RFC 5801 section 4). */
void sasl_buf_saslname(struct sasl_buf *b, const char *s);

/* Wipes and frees the buffer. */
void sasl_buf_wipe(struct sasl_buf *b);

/* Wipes and frees a NUL-terminated secret string. */
void sasl_free_secret(char *s);

/* Compares in time independent of where the bytes differ. */
bool sasl_ct_equal(const unsigned char *a, const unsigned char *b, size_t n);

/* Lower-case hex of in[0..n) into out (2n + 1 bytes). */
void sasl_hex_encode(const unsigned char *in, size_t n, char *out);

/* Quotes untrusted server text for a message (dialect_quote), withholding it
 * when it contains one of our secrets: a server echoing a password must not
 * put it into a report. */
void sasl_quote_server(const struct sasl_client *c, char *out, size_t outsz, const char *text,
                       size_t len);

/* Ends the exchange with an error: sets err and spends the client. */
enum mp_status sasl_spent(struct sasl_client *c, struct mp_error *err, enum mp_status code,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Encodes b into a new base64 response (or reports running out of memory). */
enum mp_status sasl_encode_response(struct sasl_client *c, struct sasl_buf *b, char **resp,
                                    struct mp_error *err);

/* A new response that is a fixed, non-secret string. */
enum mp_status sasl_fixed_response(struct sasl_client *c, const char *b64, char **resp,
                                   struct mp_error *err);

/* Decodes a challenge (strict base64) into a NUL-terminated buffer;
 * what names it for the message. */
enum mp_status sasl_decode_challenge(struct sasl_client *c, const char *text, size_t len,
                                     const char *what, unsigned char **out, size_t *outlen,
                                     struct mp_error *err);

/* Records an error the server reported inside the exchange. */
void sasl_set_server_error(struct sasl_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* out = HMAC-<type>(key, data) (RFC 2104). Returns 0 or -1. */
int sasl_hmac(int type, const void *key, size_t keylen, const void *data, size_t len,
              unsigned char *out);

/* PLAIN (RFC 4616 section 2): [authzid] NUL authcid NUL passwd. */
void sasl_plain_message(const struct sasl_client *c, struct sasl_buf *b);

/* XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A. */
void sasl_xoauth2_message(const struct sasl_client *c, struct sasl_buf *b);

/* OAUTHBEARER (RFC 7628 section 3.1): gs2-header ^A [host=.. ^A] [port=.. ^A]
 * "auth=Bearer " token ^A ^A, with the user as the GS2 authzid. */
void sasl_oauthbearer_message(const struct sasl_client *c, struct sasl_buf *b);

/* An OAuth error challenge (RFC 7628 section 3.2.2: a JSON object with
 * "status", "schemes", "scope"; XOAUTH2 the same): recorded, and answered so
 * the server can fail the command: OAUTHBEARER with %x01 (section 3.2.3),
 * XOAUTH2 with an empty response. */
enum mp_status sasl_oauth_error(struct sasl_client *c, const char *text, size_t len, char **resp,
                                struct mp_error *err);

/* SCRAM client-first-message (RFC 5802 section 7): gs2-header
 * client-first-message-bare, with gs2-header "n,," or "n,a=authzid,"
 * (no channel binding) and bare "n=" saslname ",r=" c-nonce. */
enum mp_status sasl_scram_client_first(struct sasl_client *c, struct sasl_buf *b,
                                       struct mp_error *err);

/* SCRAM server-first-message (RFC 5802 section 7), untrusted:
 *   [m=ext ","] r=c-nonce s-nonce "," s=salt "," i=count ["," extensions]
 * answered with the client-final-message. */
enum mp_status sasl_scram_server_first(struct sasl_client *c, const char *text, size_t len,
                                       char **resp, struct mp_error *err);

/* SCRAM server-final-message (RFC 5802 section 7), untrusted: e=error or
 * v=ServerSignature, checked in constant time. As a challenge it is answered
 * with an empty response (resp not NULL); as success data it only verifies. */
enum mp_status sasl_scram_server_final(struct sasl_client *c, const char *text, size_t len,
                                       char **resp, struct mp_error *err);

/* LOGIN: the first challenge ("Username:") gets the user name, the second
 * ("Password:") the password; their text is not checked, since servers word
 * (and encode) it in many ways. */
enum mp_status sasl_login_step(struct sasl_client *c, char **resp, struct mp_error *err);

/* CRAM-MD5 (RFC 2195 section 2): user SP hex(HMAC-MD5(password, challenge)). */
enum mp_status sasl_cram_step(struct sasl_client *c, const char *text, size_t len, char **resp,
                              struct mp_error *err);

#endif
