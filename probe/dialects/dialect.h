/* dialect.h - one table of functions per mail protocol.
 *
 * The engine drives every protocol through the same steps and never asks
 * which protocol it has. Each function returns MP_OK or an error status with
 * s->err holding the message, and records what it saw in s->res.
 */
#ifndef MP_DIALECT_H
#define MP_DIALECT_H

#include "core/model/auth.h"
#include "probe/dialects/quote.h"
#include "probe/dialects/session.h"

struct auth_request;
struct auth_outcome;
struct dialect_reply;

/* Most ports one protocol lists in each port list below (a zero port ends
 * a shorter list). */
#define DIALECT_MAX_PORTS 8

/* A port and how the protocol is spoken there: one cell of the default
 * matrix or of --auto's order. */
struct dialect_port {
	uint16_t port; /* 0 ends the list */
	enum sec_mode mode;
};

/* The methods that are SASL mechanisms (core/model/auth.h puts them first). */
#define DIALECT_SASL_METHODS ((1u << AUTH_IMAP_LOGIN) - 1u)

/* One mail protocol: the facts the planner, the logins and the checks need,
 * and the steps of its conversation. Adding a protocol means one file that
 * defines one of these, a line in dialect_table (dialect.c) and its enum
 * value and name in the data model (core/model/result.[ch]); see
 * docs/development.md. Nothing else asks "which protocol is this". */
struct dialect {
	enum protocol proto;
	const char *name; /* protocol_name(proto): --protocols, the plain URL scheme */

	/* ---- Where it is spoken (plan.c) ----
	 * URL schemes: name:// (plain), name+starttls:// (STARTTLS, when
	 * starttls_command is set) on port_plain, scheme_tls:// (implicit TLS)
	 * on port_tls. */
	const char *scheme_tls; /* "smtps", "imaps", "pop3s"; NULL: no implicit TLS */
	uint16_t port_plain;    /* 25, 143, 110 */
	uint16_t port_tls;      /* 465, 993, 995; 0: none. An implicit-TLS port: --ports
	                         * and --modes speak TLS there without being told */
	/* Ports that tell the protocol of --ports N without --protocols. */
	uint16_t well_known_ports[DIALECT_MAX_PORTS];
	/* The default matrix for a bare host (no --ports), in report order. */
	struct dialect_port matrix[DIALECT_MAX_PORTS];
	/* Probed only when asked for (--protocols, a URL, --auto, a port of
	 * its own): a new protocol leaves runs without --protocols as they
	 * were. */
	bool opt_in;
	/* --auto's preference order (implicit TLS, STARTTLS, plain). */
	struct dialect_port auto_order[DIALECT_MAX_PORTS];

	/* ---- What it offers to logins (auth.c) ---- */
	/* Bit (1 << enum auth_method) of the methods the protocol has: the SASL
	 * mechanisms (DIALECT_SASL_METHODS) when it has SASL, and its own
	 * commands (IMAP LOGIN, POP3 USER and APOP). authenticate must take
	 * every method listed here. */
	unsigned auth_methods;
	/* Marks in offered[] (AUTH_METHOD_COUNT entries) the methods that the
	 * server offers without listing them as mechanisms, judged on the
	 * final capabilities caps and the result (RFC 9051 6.2.3: IMAP LOGIN
	 * unless LOGINDISABLED; RFC 1939 7: APOP with a greeting timestamp).
	 * NULL: none. */
	void (*implied_methods)(const struct probe_result *res, const struct strlist *caps,
	                        bool *offered);
	/* A greeting starting with this (case-insensitive) means the session
	 * is logged in already, so no login is tried (IMAP "* PREAUTH", RFC
	 * 9051 7.1.4). NULL: none. */
	const char *preauth_greeting;

	/* ---- What it offers to the active checks (probe/engine/checks*) ----
	 * Read by the checks only; each protocol states them here so a check
	 * never branches on the protocol. Lines are without CRLF; with
	 * tagged set, each command gets an "aN " tag first (s->imap_tag). */
	bool tagged;                  /* commands and final replies carry a tag (IMAP) */
	const char *starttls_command; /* "STARTTLS", "STLS"; NULL: no STARTTLS */
	int starttls_go_ahead_code;   /* the go-ahead's reply code (SMTP 220); 0: any DR_OK */
	const char *noop_command;     /* "NOOP": harmless, pipelined after STARTTLS */
	const char *quit_command;     /* "QUIT", "LOGOUT" */
	int quit_code;                /* the reply code that answers quit (SMTP 221); 0: DR_OK */
	/* auth-before-tls: the login tried before TLS with an invalid
	 * credential, and the capability that governs it before TLS. */
	const char *login_probe;      /* "AUTH PLAIN", "LOGIN", "USER" */
	const char *login_probe_cap;  /* IMAP "LOGINDISABLED" (refusal promised), POP3 "USER"
	                               * (offered); NULL: the AUTH mechanism list decides */
	bool login_probe_cap_forbids; /* true when login_probe_cap present means "refuse" */
	/* Speaks the SMTP envelope (MAIL FROM, RCPT TO, VRFY, EXPN, DATA):
	 * the relay, VRFY and smuggling checks apply. */
	bool mail_envelope;

	/* ---- The conversation ---- */
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
};

extern const struct dialect smtp_dialect;
extern const struct dialect imap_dialect;
extern const struct dialect pop3_dialect;

/* The dialect table (dialect.c): one line per enum protocol, in its order. */
extern const struct dialect *const dialect_table[PROTO_COUNT];

/* The dialect of p, NULL when p is no protocol. */
const struct dialect *dialect_for(enum protocol p);
/* The dialect whose port_tls is port, NULL when none: an implicit-TLS port. */
const struct dialect *dialect_of_tls_port(uint16_t port);
/* The dialect that lists port among its well_known_ports, NULL when none. */
const struct dialect *dialect_of_port(uint16_t port);

/* ---- Helpers shared by smtp.c, imap.c and pop3.c (dialect.c) ---- */

/* One reply being awaited: its deadline (one per reply, never per line, so a
 * trickling server cannot stretch it) and what it has cost so far. */
struct reply_wait {
	const char *what; /* "the greeting", "EHLO", ... (for messages) */
	int64_t deadline;
	int timeout_ms; /* the budget the deadline was made from */
	bool greeting;  /* a timeout is MP_ERR_GREETING_TIMEOUT */
	unsigned lines; /* lines read for this reply */
	size_t bytes;   /* bytes read for this reply (lines + literals) */
};

/* What a reply said, for the active checks (read_reply above). */
enum dialect_reply_kind {
	DR_OK,   /* SMTP 2xx/3xx, IMAP OK, POP3 +OK */
	DR_NO,   /* SMTP 4xx, IMAP NO, POP3 -ERR */
	DR_BAD,  /* SMTP 5xx, IMAP BAD */
	DR_CONT, /* IMAP "+" continuation request (SMTP 334 stays DR_OK) */
};

struct dialect_reply {
	enum dialect_reply_kind kind;
	int code;                      /* SMTP: the reply code; 0 otherwise */
	char tag[16];                  /* IMAP: the tag of the tagged line, "" if none */
	char text[DIALECT_QUOTE_SIZE]; /* the (tagged / first) line, quoted */
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
