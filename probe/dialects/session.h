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
#include "core/linereader.h"
#include "core/stream.h"
#include "core/status.h"
#include "core/model/options.h"
#include "core/model/result.h"

struct tls_resume;

struct session {
	const struct endpoint *ep;
	const struct probe_config *cfg;
	struct probe_result *res;
	struct stream *stream; /* top of the stack */
	struct linereader lr;
	int64_t deadline;    /* the endpoint's overall deadline */
	bool tls_active;     /* capabilities go to *_after when true */
	unsigned imap_tag;   /* last IMAP tag number used */
	struct mp_error err; /* message of the last failure */
	/* a helper connection's TLS session to resume (tls_session.h), or NULL */
	const struct tls_resume *resume;
	/* called once a handshake completed (the engine starts the
	 * --enumerate-tls attempts then), or NULL */
	void (*on_tls)(void *arg, const struct tls_info *info);
	void *on_tls_arg;
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
