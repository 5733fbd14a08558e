/* auth.h - the login settings a run carries and the names of login methods
 * and outcomes (data only; logging in is probe/dialects/auth.c). */
#ifndef MP_MODEL_AUTH_H
#define MP_MODEL_AUTH_H

#include <stdbool.h>
#include "core/model/result.h"

/* Ways to log in. The SASL ones come first, in the order of enum sasl_mech
 * (sasl.h); then the protocols' own commands. */
enum auth_method {
	AUTH_PLAIN,         /* SASL PLAIN, RFC 4616 */
	AUTH_LOGIN,         /* SASL LOGIN */
	AUTH_CRAM_MD5,      /* RFC 2195 */
	AUTH_SCRAM_SHA_1,   /* RFC 5802 */
	AUTH_SCRAM_SHA_256, /* RFC 7677 */
	AUTH_XOAUTH2,       /* bearer token */
	AUTH_OAUTHBEARER,   /* RFC 7628 */
	AUTH_IMAP_LOGIN,    /* IMAP LOGIN command, RFC 9051 section 6.2.3: "IMAP-LOGIN" */
	AUTH_POP3_USER,     /* POP3 USER/PASS, RFC 1939 section 7: "USER" */
	AUTH_POP3_APOP,     /* POP3 APOP, RFC 1939 section 7: "APOP" */
	AUTH_METHOD_COUNT
};

/* What the user gave (run options; strings live as long as the run). */
struct auth_config {
	const char *user;     /* NULL: no login attempts at all */
	const char *password; /* NULL when not given */
	const char *token;    /* OAuth 2.0 bearer token, NULL when not given */
	unsigned allowed;     /* bit (1 << enum auth_method); 0 = every advertised one */
	bool allow_plaintext; /* --allow-plaintext-auth */
	bool insecure;        /* --insecure: credentials over unverified TLS */
};

/* The IANA / command name of a method ("SCRAM-SHA-256", "IMAP-LOGIN"). */
const char *auth_method_name(enum auth_method m);
/* The method named name (case-insensitive), or -1. */
int auth_method_parse(const char *name);
/* True for methods that send the password or token itself (PLAIN, LOGIN,
 * XOAUTH2, OAUTHBEARER, IMAP LOGIN, USER/PASS). */
bool auth_method_sends_secret(enum auth_method m);
/* The same for a mechanism or command name as a server lists it ("PLAIN",
 * "USER"); unknown names (GSSAPI, NTLM, DIGEST-MD5) are challenge-response. */
bool auth_name_sends_secret(const char *name);
/* True for the SASL mechanisms (AUTH_PLAIN .. AUTH_OAUTHBEARER). */
bool auth_method_is_sasl(enum auth_method m);
/* Stable JSON name of a status: "ok", "rejected", "not_offered", "skipped",
 * "error". */
const char *auth_status_name(enum auth_status st);

#endif
