/* sasl.h - the client side of SASL (RFC 4422), independent of the protocol.
 *
 * A dialect drives one exchange like this (SMTP AUTH, RFC 4954; IMAP
 * AUTHENTICATE, RFC 9051 with SASL-IR, RFC 4959; POP3 AUTH, RFC 5034):
 *
 *   c = sasl_new(mech, &creds, &err);
 *   sasl_initial(c, &ir, &err);          ir: send with the command, or NULL
 *   while the server sends a challenge (334 / "+" line):
 *           sasl_step(c, text, &resp, &err); send resp as one line
 *           (on an error: send "*" to cancel, RFC 4954 section 4)
 *   on success (235 / OK / +OK): sasl_finish(c, success_data_or_NULL, &err)
 *   on failure: sasl_server_error(c) may say what the server told us
 *   sasl_free(c);
 *
 * Every string handed in as a challenge or as success data is untrusted
 * server data: it is bounded (MP_MAX_SASL_CHALLENGE), strictly base64-checked
 * and parsed without trusting any length or attribute. Responses and initial
 * responses carry credentials: record only a redacted form
 * (sasl_redact_line) and release them with sasl_response_free, which wipes.
 * No error message ever contains a password or token; server text quoted in
 * a message is withheld when it contains one (a server echoing a password
 * must not put it into a report).
 *
 * Credentials (user, password, authzid) must be valid UTF-8 without control
 * characters. SASLprep (RFC 4013) is approximated: ASCII is unchanged (its
 * only ASCII rule, prohibiting control characters, is enforced), non-ASCII
 * UTF-8 passes through unchanged, with no mapping and no NFKC
 * normalisation. That matches servers that store the password as typed.
 */
#ifndef MP_SASL_H
#define MP_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

enum sasl_mech {
	SASL_PLAIN,         /* RFC 4616 */
	SASL_LOGIN,         /* draft-murchison-sasl-login */
	SASL_CRAM_MD5,      /* RFC 2195 */
	SASL_SCRAM_SHA_1,   /* RFC 5802, no channel binding */
	SASL_SCRAM_SHA_256, /* RFC 7677, no channel binding */
	SASL_XOAUTH2,       /* Google/Microsoft XOAUTH2 */
	SASL_OAUTHBEARER,   /* RFC 7628 */
	SASL_MECH_COUNT
};

/* What the caller knows. Strings are copied by sasl_new; NULL means absent. */
struct sasl_creds {
	const char *user;    /* authentication identity */
	const char *pass;    /* PLAIN, LOGIN, CRAM-MD5, SCRAM-* */
	const char *token;   /* OAuth 2.0 bearer token: XOAUTH2, OAUTHBEARER */
	const char *authzid; /* authorisation identity (PLAIN, SCRAM, OAUTHBEARER), or NULL */
	const char *host;    /* server name for OAUTHBEARER host=, or NULL */
	uint16_t port;       /* server port for OAUTHBEARER port=, or 0 */
};

struct sasl_client;

/* The IANA name of a mechanism ("SCRAM-SHA-256"). */
const char *sasl_mech_name(enum sasl_mech mech);
/* The mechanism named name (case-insensitive, as servers advertise it), or
 * -1 when unknown or unsupported (e.g. "SCRAM-SHA-1-PLUS", "GSSAPI"). */
int sasl_mech_parse(const char *name);
/* True when creds hold what mech needs (a password or a token, a user). */
bool sasl_mech_usable(enum sasl_mech mech, const struct sasl_creds *creds);

/* Starts an exchange. Returns NULL with err set (MP_ERR_INTERNAL) when creds
 * do not fit mech (missing field, control character, invalid UTF-8, longer
 * than MP_MAX_SASL_CRED, token not RFC 6750 b64token) or memory runs out.
 * The message names the field, never its value. */
struct sasl_client *sasl_new(enum sasl_mech mech, const struct sasl_creds *creds,
                             struct mp_error *err);

/* The initial response for SASL-IR / "AUTH <mech> <ir>", base64, in a new
 * string; *ir_b64 is NULL when the mechanism starts with an empty response
 * (LOGIN, CRAM-MD5: wait for the first challenge). Returns MP_OK, or
 * MP_ERR_INTERNAL (no randomness, out of memory, called twice). */
enum mp_status sasl_initial(struct sasl_client *c, char **ir_b64, struct mp_error *err);

/* Answers one server challenge: challenge_b64 (untrusted) is the text after
 * "334 " or "+ " as received, NULL or "" for an empty challenge; trailing
 * whitespace is ignored. *resp_b64 gets our response (base64, possibly "")
 * in a new string. For a client-first mechanism whose initial response was
 * not sent, the first challenge gets it.
 * When the server reports an error inside the exchange (SCRAM "e=", an
 * XOAUTH2 / OAUTHBEARER JSON error), returns MP_OK with the response that
 * lets the server finish ("" or RFC 7628's %x01), and sasl_failed() and
 * sasl_server_error() tell what happened: the server then fails the command.
 * Returns MP_ERR_PROTOCOL for a challenge that is malformed (invalid base64,
 * too large, a SCRAM message that does not parse, a server nonce that does
 * not extend ours, an iteration count that is not a number, < 1 or above
 * MP_MAX_SCRAM_ITERATIONS), unexpected (after the exchange is complete), or
 * a server signature that does not verify; the caller should cancel ("*").
 * MP_ERR_INTERNAL on our own failures. After an error the client is spent. */
enum mp_status sasl_step(struct sasl_client *c, const char *challenge_b64, char **resp_b64,
                         struct mp_error *err);

/* The server said the exchange succeeded; final_b64 (untrusted) is the
 * success data (RFC 4422 section 5 "additional data with success", base64),
 * or NULL. SCRAM verifies the server signature (v=), given either as a last
 * challenge earlier or here; returns MP_ERR_PROTOCOL "server signature does
 * not verify: the server does not know the password (or a man in the
 * middle)" when it differs, and MP_ERR_PROTOCOL when it is missing, or when
 * any mechanism is told of success before it sent all its credentials or
 * after the server reported an error. Success data for mechanisms that
 * expect none is ignored. Returns MP_OK when the exchange is complete. */
enum mp_status sasl_finish(struct sasl_client *c, const char *final_b64, struct mp_error *err);

/* True when the client has sent everything it had to send. */
bool sasl_done(const struct sasl_client *c);
/* True when the server proved it knows the password (SCRAM v= verified). */
bool sasl_server_verified(const struct sasl_client *c);
/* True when the server reported an error inside the exchange. */
bool sasl_failed(const struct sasl_client *c);
/* What the server said when it reported an error inside the exchange (the
 * SCRAM e= value, a summary of the OAuth JSON error), escaped printable
 * ASCII, or NULL. Valid until sasl_free. */
const char *sasl_server_error(const struct sasl_client *c);

/* Test seam: uses nonce (printable ASCII without ',') as the SCRAM client
 * nonce instead of a random one, so RFC vectors can be reproduced. Call
 * before sasl_initial. Returns MP_OK or MP_ERR_INTERNAL. */
enum mp_status sasl_set_nonce_for_test(struct sasl_client *c, const char *nonce,
                                       struct mp_error *err);

/* Wipes (explicit_bzero) and frees a response or initial response. */
void sasl_response_free(char *resp_b64);
/* Wipes every secret the client holds and frees it. NULL is fine. */
void sasl_free(struct sasl_client *c);

/* POP3 APOP (RFC 1939 section 7): writes the lower-case hex MD5 of timestamp
 * followed by pass into out. Returns 0, or -1 on bad input. */
int apop_digest(const char *timestamp, const char *pass, char out[33]);
/* Finds the APOP timestamp ("<...@...>", RFC 1939 section 7) in a POP3
 * greeting (untrusted) and copies it, brackets included, into out. Returns 0,
 * or -1 when there is none (no brackets, no '@', non-printable bytes, longer
 * than MP_MAX_APOP_TIMESTAMP or outsz). */
int apop_timestamp(const char *greeting, size_t len, char *out, size_t outsz);

/* For transcripts: copies the first keep_words space-separated words of a
 * client line and replaces the rest with "[redacted]" (not even the length
 * of a secret is recorded), e.g. ("AUTH PLAIN AHRpbQB0aW0=", 2) ->
 * "AUTH PLAIN [redacted]". A rest
 * of "=" (empty SASL-IR) or "*" (cancel) is not secret and is kept. out is
 * always NUL-terminated (cut if too small). */
void sasl_redact_line(const char *line, unsigned keep_words, char *out, size_t outsz);

#endif
