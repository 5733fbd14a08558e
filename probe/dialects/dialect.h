/* dialect.h - one table of functions per mail protocol.
 *
 * The engine drives every protocol through the same steps and never asks
 * which protocol it has. Each function returns MP_OK or an error status with
 * s->err holding the message, and records what it saw in s->res.
 */
#ifndef MP_DIALECT_H
#define MP_DIALECT_H

#include "probe/dialects/session.h"

struct auth_request;
struct auth_outcome;
struct dialect_reply;

/* How the auth-before-tls check tries a login before TLS. */
enum dialect_login_probe {
	DLP_SASL_AUTH,   /* AUTH PLAIN with a made-up credential (RFC 4954 4) */
	DLP_IMAP_LOGIN,  /* LOGIN under LOGINDISABLED (RFC 9051 6.2.3) */
	DLP_POP3_USER,   /* USER when CAPA does not list it (RFC 2449 6.8) */
	DLP_COUNT
};
/* Commands a protocol has for the checks that need them. */
#define DIALECT_OFFERS_VRFY     0x1u /* VRFY and EXPN (RFC 5321 3.5) */
#define DIALECT_OFFERS_ENVELOPE 0x2u /* MAIL, RCPT and DATA (RFC 5321 3.3) */

struct dialect {
	enum protocol proto;
	const char *name;
	uint16_t port_plain;      /* 25, 143, 110 */
	uint16_t port_tls;        /* 465, 993, 995 */
	/* Reads the greeting (bounded by cfg->greeting_timeout_ms): stores
	 * res->greeting and what it carries (IMAP [CAPABILITY ...], POP3 APOP
	 * timestamp). MP_ERR_GREETING_TIMEOUT when silent, MP_ERR_REJECTED when
	 * the server refuses service (SMTP 554, IMAP BYE, POP3 -ERR). */
	enum mp_status (*greeting)(struct session *s);
	/* Asks for capabilities (EHLO, CAPABILITY, CAPA) and fills caps/auth
	 * _before or _after according to s->tls_active; sets
	 * res->starttls_offered when not yet in TLS. */
	enum mp_status (*capabilities)(struct session *s);
	/* Sends STARTTLS (STLS) and reads the go-ahead. MP_ERR_STARTTLS_REFUSED
	 * when the server says no. Does not start TLS. */
	enum mp_status (*starttls)(struct session *s);
	/* Polite goodbye (QUIT / LOGOUT), best effort, short deadline. */
	void (*quit)(struct session *s);
	/* Logs in with req->method (auth.h) on a ready session: SASL through
	 * auth_sasl_exchange() with the protocol's framing, or the protocol's
	 * own command (IMAP LOGIN, POP3 USER/PASS, APOP). Credentials are sent
	 * with session_send_redacted. MP_OK with out filled when the server
	 * gave a verdict; an error status with s->err when the exchange broke;
	 * MP_ERR_INTERNAL when the protocol has no such method. */
	enum mp_status (*authenticate)(struct session *s, const struct auth_request *req,
				       struct auth_outcome *out);
	/* Active checks (checks.h): reads one reply to a command the check sent
	 * itself with session_send, within timeout_ms (0: the command
	 * timeout). SMTP: a whole reply (RFC 5321 4.2); IMAP: untagged lines,
	 * then a tagged line of any tag (RFC 9051 7.1) or a continuation
	 * request; POP3: one status line (RFC 1939 3). Fills r; errors as
	 * dialect_read_line(), MP_ERR_PROTOCOL for a line that is no reply. */
	enum mp_status (*read_reply)(struct session *s, const char *what, int timeout_ms,
				     struct dialect_reply *r);
	/* ---- What the protocol offers to the active checks (probe/engine/checks/) ---- */
	const char *starttls_verb; /* "STARTTLS", "STLS" */
	const char *quit_verb;     /* "QUIT", "LOGOUT" */
	bool tagged;               /* commands carry a tag and replies name it (IMAP) */
	int quit_code;             /* the reply code that answers quit_verb (SMTP 221), 0: none */
	enum dialect_login_probe login_probe; /* how auth-before-tls asks */
	unsigned check_offers;     /* DIALECT_OFFERS_* */
};

extern const struct dialect smtp_dialect;
extern const struct dialect imap_dialect;
extern const struct dialect pop3_dialect;

const struct dialect *dialect_for(enum protocol p);

/* ---- Helpers shared by smtp.c, imap.c and pop3.c (dialect.c) ---- */

/* One reply being awaited: its deadline (one per reply, never per line, so a
 * trickling server cannot stretch it) and what it has cost so far. */
struct reply_wait {
	const char *what;       /* "the greeting", "EHLO", ... (for messages) */
	int64_t deadline;
	int timeout_ms;         /* the budget the deadline was made from */
	bool greeting;          /* a timeout is MP_ERR_GREETING_TIMEOUT */
	unsigned lines;         /* lines read for this reply */
	size_t bytes;           /* bytes read for this reply (lines + literals) */
};

/* Room for dialect_quote(): each byte may become "\xNN", plus "..." and NUL. */
#define DIALECT_QUOTE_SIZE (MP_MAX_QUOTE * 4 + 4)

/* What a reply said, for the active checks (read_reply above). */
enum dialect_reply_kind {
	DR_OK,          /* SMTP 2xx/3xx, IMAP OK, POP3 +OK */
	DR_NO,          /* SMTP 4xx, IMAP NO, POP3 -ERR */
	DR_BAD,         /* SMTP 5xx, IMAP BAD */
	DR_CONT,        /* IMAP "+" continuation request (SMTP 334 stays DR_OK) */
};

struct dialect_reply {
	enum dialect_reply_kind kind;
	int code;                       /* SMTP: the reply code; 0 otherwise */
	char tag[16];                   /* IMAP: the tag of the tagged line, "" if none */
	char text[DIALECT_QUOTE_SIZE];  /* the (tagged / first) line, quoted */
};

/* Starts waiting for the greeting (cfg->greeting_timeout_ms). */
void dialect_wait_greeting(struct session *s, struct reply_wait *w);
/* Starts waiting for the reply to a command (cfg->command_timeout_ms). */
void dialect_wait_command(struct session *s, struct reply_wait *w, const char *what);
/* Starts waiting for the reply to QUIT / LOGOUT (short: MP_QUIT_TIMEOUT_MS). */
void dialect_wait_quit(struct session *s, struct reply_wait *w, const char *what);
/* Reads one line of the reply w (buf should hold MP_MAX_LINE + 1 bytes).
 * Errors: the reader's (timeout turned into MP_ERR_GREETING_TIMEOUT for a
 * greeting, with messages naming w->what), MP_ERR_REPLY_TOO_LARGE past
 * MP_MAX_REPLY_LINES / MP_MAX_REPLY_BYTES, MP_ERR_PROTOCOL for a NUL byte. */
enum mp_status dialect_read_line(struct session *s, struct reply_wait *w, char *buf, size_t bufsz,
				 size_t *len);
/* Reads and drops n bytes belonging to the reply w (an IMAP literal),
 * counting them against MP_MAX_REPLY_BYTES. */
enum mp_status dialect_skip_bytes(struct session *s, struct reply_wait *w, size_t n);
/* Escapes untrusted server text for a message: printable ASCII kept, other
 * bytes as \xNN, cut after MP_MAX_QUOTE bytes with "...". */
void dialect_quote(char *out, size_t outsz, const char *text, size_t len);
/* Appends a greeting line to res->greeting (lines joined with '\n'),
 * bounded by MP_MAX_GREETING. */
void dialect_greeting_append(struct session *s, const char *line, size_t len);
/* The capability / auth lists that the current phase fills (before or
 * after TLS, by s->tls_active). */
struct strlist *dialect_caps(struct session *s);
struct strlist *dialect_auth(struct session *s);
/* Adds a capability (once, case-insensitively) to the current list; a full
 * list adds FINDING_LIMIT_HIT. */
void dialect_add_cap(struct session *s, const char *cap);
/* Adds an auth mechanism, upper-cased and once, to the current list. */
void dialect_add_auth(struct session *s, const char *mech, size_t len);
/* Adds each space-separated mechanism of list (len bytes). */
void dialect_add_auth_list(struct session *s, const char *list, size_t len);
/* Normalises a "KEYWORD params" line (SMTP EHLO, POP3 CAPA) into out:
 * keyword upper-cased, parameters kept, runs of blanks made one space.
 * Returns the keyword's length (0 for a blank line). */
size_t dialect_keyword_line(char *out, size_t outsz, const char *in, size_t len);
/* Before sending the command `what` (SMTP, POP3): fails with MP_ERR_PROTOCOL
 * when the server already sent bytes nobody asked for, which would be taken as
 * the reply to `what` and shift every later reply (pipelining confusion).
 * Never waits; a closed or failing connection is left for the command to see. */
enum mp_status dialect_check_unsolicited(struct session *s, const char *what);
/* Sends "AUTH mechanism [initial-response]" (SMTP, RFC 4954 section 4; POP3,
 * RFC 5034 section 4), "=" for an empty response. The initial response goes
 * along only when the line stays within max_line (*ir_sent says whether);
 * otherwise it waits for the first challenge. Recorded redacted. */
enum mp_status dialect_send_auth(struct session *s, const char *mech, const char *ir,
				 size_t max_line, bool *ir_sent);

#endif
