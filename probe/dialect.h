/* dialect.h - one table of functions per mail protocol.
 *
 * The engine drives every protocol through the same steps and never asks
 * which protocol it has. Each function returns MP_OK or an error status with
 * s->err holding the message, and records what it saw in s->res.
 */
#ifndef MP_DIALECT_H
#define MP_DIALECT_H

#include "session.h"

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
};

extern const struct dialect smtp_dialect;
extern const struct dialect imap_dialect;
extern const struct dialect pop3_dialect;

const struct dialect *dialect_for(enum protocol p);

#endif
