/* session.h - one endpoint's live connection, as a dialect sees it.
 *
 * Dialects (smtp.c, imap.c, pop3.c) talk through these helpers only: they
 * keep the transcript, apply min(step timeout, endpoint deadline), and never
 * print anything.
 */
#ifndef MP_SESSION_H
#define MP_SESSION_H

#include <stdint.h>
#include <stdbool.h>
#include "../core/linereader.h"
#include "../core/stream.h"
#include "../core/status.h"
#include "result.h"

struct auth_config;
struct check_config;

/* The limits and settings one probe works with (a part of the run options). */
struct addr_resolver;

struct probe_config {
	int connect_timeout_ms;
	int greeting_timeout_ms;
	int command_timeout_ms;
	int tls_timeout_ms;
	const char *ehlo_name;          /* name sent in EHLO/HELO */
	struct tls_ctx *tls;            /* shared TLS context */
	const char *sni;                /* override for SNI / name check, or NULL */
	const char *source_addr;        /* bind to this local address, or NULL */
	int family;                     /* --ipv4/--ipv6: AF_INET, AF_INET6, else AF_UNSPEC */
	const struct addr_resolver *resolver; /* names of targets (addrs.h); NULL: system */
	bool transcript;                /* record the transcript */
	int cert_warn_days;             /* certificate_expiring below this many days */
	bool enumerate_tls;             /* --enumerate-tls: try each TLS version on its own */
	const struct auth_config *auth; /* login attempts (auth.h), NULL for none */
	const struct check_config *checks; /* active checks (checks.h), NULL for none */
	/* Called before each new connection (the probe's, and those of its
	 * logins, checks and TLS version attempts) when set: --rate. */
	void (*before_connect)(void *arg);
	void *before_connect_arg;
};

struct session {
	const struct endpoint *ep;
	const struct probe_config *cfg;
	struct probe_result *res;
	struct stream *stream;          /* top of the stack */
	struct linereader lr;
	int64_t deadline;               /* the endpoint's overall deadline */
	bool tls_active;                /* capabilities go to *_after when true */
	unsigned imap_tag;              /* last IMAP tag number used */
	struct mp_error err;            /* message of the last failure */
};

/* Initialises s on an open stream (which it now owns). */
void session_init(struct session *s, const struct endpoint *ep, const struct probe_config *cfg,
		  struct probe_result *res, struct stream *stream, int64_t deadline);
/* Closes the stream stack. */
void session_close(struct session *s);
/* The deadline for a step: now + timeout_ms, but never after s->deadline. */
int64_t session_step_deadline(const struct session *s, int timeout_ms);

/* Sends line + CRLF, recording it in the transcript. */
enum mp_status session_send(struct session *s, const char *line);
/* Sends line + CRLF but records `shown` instead (credentials). */
enum mp_status session_send_redacted(struct session *s, const char *line, const char *shown);
/* Reads one line before `deadline`, recording it (sets s->err on failure). */
enum mp_status session_read_line(struct session *s, int64_t deadline, char *buf, size_t bufsz,
				 size_t *len);
/* Pushes TLS onto the stream (implicit TLS, or after a STARTTLS go-ahead).
 * Bytes still buffered are discarded first and reported as a finding
 * (FINDING_STARTTLS_INJECTION) when after_starttls. Fills res->tls and
 * res->t.tls; sets tls_active. */
enum mp_status session_start_tls(struct session *s, int timeout_ms, bool after_starttls);

#endif
