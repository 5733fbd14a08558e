/* auth.h - logging in (issue: authentication): which methods to try on an
 * endpoint, the rules for sending credentials, and one login attempt.
 *
 * After an endpoint's probe succeeded, auth_plan() decides, per method, what
 * happens: tried on a fresh connection, skipped (not allowed, no credential
 * for it, the server pre-authenticated), or not_offered (asked for with
 * --allowed-auth, not advertised). Mechanisms the server offers that we do
 * not implement are listed in res->auth_unsupported. Each attempt then runs
 * on its own connection (engine.c): connect, [TLS], greeting, capabilities,
 * [STARTTLS, TLS, capabilities], and auth_attempt().
 *
 * Credentials are sent only when the connection is encrypted and its
 * certificate verified and matched the host (--insecure lifts the second
 * rule, --allow-plaintext-auth the first). Challenge-response methods
 * (CRAM-MD5, SCRAM-*, APOP) follow the same rules: they do not reveal the
 * password, but a recorded exchange can be attacked offline, and a SCRAM or
 * CRAM-MD5 login to an impostor still tells it the account exists.
 *
 * Secrets (password, token, and every response that carries them) are
 * recorded in transcripts redacted at the point they are sent
 * (session_send_redacted); the reply and detail of a result never contain
 * them: server text that echoes one is withheld.
 */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/model/auth.h"
#include "core/model/result.h"
#include "probe/dialects/session.h"

/* After a successful probe of res->ep: fills res->auth_results (one per
 * method that is offered or explicitly allowed) and res->auth_unsupported,
 * sets res->auth_planned. Entries to be tried have `attempt` set and stay
 * "error: not attempted" until auth_attempt() fills them. Returns the
 * number of attempts, or 0 (also when out of memory: then nothing is
 * planned). */
size_t auth_plan(const struct auth_config *cfg, struct probe_result *res);

/* One login on a ready session s (after capabilities, TLS up if any):
 * applies the credential rules to this connection, runs the dialect's
 * authenticate step, and fills out (status, reply, detail, time_ms). The
 * session's transcript is scrubbed of any secret that reached it. */
void auth_attempt(struct session *s, const struct auth_config *cfg, struct auth_result *out);
/* Scrubs every secret of cfg (and its base64 form) from t: for what a server
 * says after auth_attempt (its reply to QUIT may echo the password). */
void auth_scrub(struct transcript *t, const struct auth_config *cfg);

/* Marks out as an error that happened before the login (connecting again,
 * the conversation up to the login), with st and msg. */
void auth_attempt_failed(struct auth_result *out, enum mp_status st, const char *msg);

/* ---- For dialects (smtp.c, imap.c, pop3.c) ---- */

/* One login to perform. */
struct auth_request {
	enum auth_method method;
	const struct auth_config *cfg;
	const char *scram_nonce; /* test seam: fixed SCRAM client nonce, else NULL */
};

/* How a login ended, as the dialect saw it. */
enum auth_verdict {
	AUTH_V_OK,       /* the server accepted the login (235, OK, +OK) */
	AUTH_V_REJECTED, /* the server refused it (5xx, NO, -ERR) */
	AUTH_V_TEMPFAIL, /* the server failed it temporarily or as bad syntax (4xx, BAD) */
};

/* What a dialect fills: the verdict and the server's final reply (escaped
 * for a message; the dialect never puts a credential there). */
struct auth_outcome {
	enum auth_verdict verdict;
	char reply[MP_MAX_ERROR];  /* "535 5.7.8 ...", "NO [AUTHENTICATIONFAILED] ..." */
	char detail[MP_MAX_ERROR]; /* extra: SASL server error, SCRAM verification */
};

/* One server answer inside a SASL exchange (RFC 4422 section 3). */
enum sasl_answer {
	SASL_A_CHALLENGE, /* 334 / "+ " : text is the base64 challenge */
	SASL_A_SUCCESS,   /* 235 / tagged OK / +OK */
	SASL_A_FAILURE,   /* 5xx / NO / -ERR */
	SASL_A_TEMPFAIL,  /* 4xx / BAD */
};

/* A protocol's framing of SASL: SMTP AUTH (RFC 4954), IMAP AUTHENTICATE
 * (RFC 9051 6.2.2, SASL-IR RFC 4959), POP3 AUTH (RFC 5034). */
struct sasl_framing {
	/* Sends the command that starts mechanism mech; ir is the base64
	 * initial response ("" for an empty one, "=" on the wire) or NULL.
	 * Sets *ir_sent when it went with the command (a protocol may not
	 * allow it: IMAP without SASL-IR, POP3 past 255 octets). */
	enum mp_status (*start)(struct session *s, const char *mech, const char *ir, bool *ir_sent);
	/* Reads the next answer: kind, and the challenge text (base64, NUL-
	 * terminated, in text of textsz bytes); a verdict line goes to
	 * out->reply through auth_set_reply(cfg, ...). With SASL_A_SUCCESS,
	 * text may get the "additional data with success" (RFC 4422 section
	 * 5, base64) of a protocol that carries it in its success reply
	 * (ManageSieve's OK (SASL "..."), RFC 5804 2.1); left empty, there is
	 * none (SMTP, IMAP and POP3 send it as a last challenge). */
	enum mp_status (*next)(struct session *s, const struct auth_config *cfg,
	                       enum sasl_answer *kind, char *text, size_t textsz,
	                       struct auth_outcome *out);
	/* Sends one client response: resp is base64 (possibly "") or "*" to
	 * cancel. NULL: resp is the whole line (SMTP, RFC 4954 section 4;
	 * IMAP, RFC 9051 6.2.2; POP3, RFC 5034 section 4). A protocol that
	 * wraps it (ManageSieve's quoted string, RFC 5804 2.1) sends it with
	 * session_send_redacted, showing no base64 but "" and "*". */
	enum mp_status (*respond)(struct session *s, const char *resp);
};

/* Runs a whole SASL exchange (req->method < AUTH_IMAP_LOGIN) with the
 * protocol's framing: initial response, challenges, cancel ("*") when our
 * side cannot go on, and the final check of the server (SCRAM signature).
 * Responses go out with session_send_redacted. Returns MP_OK with out
 * filled when the server gave a verdict that we could check; an error
 * status with s->err otherwise (out->reply holds the verdict, if any). */
enum mp_status auth_sasl_exchange(struct session *s, const struct auth_request *req,
                                  const struct sasl_framing *f, struct auth_outcome *out);

/* Fills out->reply from a server line (dialect_quote), withholding it when
 * it contains the password or token (or their base64 forms). */
void auth_set_reply(const struct auth_config *cfg, struct auth_outcome *out, const char *line,
                    size_t len);
/* Copies a challenge (the text after "334 " / "+ ") into text (textsz
 * bytes); MP_ERR_PROTOCOL with s->err when it does not fit. */
enum mp_status auth_challenge_text(struct session *s, char *text, size_t textsz, const char *p,
                                   size_t len);

#endif
