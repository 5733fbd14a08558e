/* session.c - one endpoint's live connection: send, read, push TLS. */
#include "probe/dialects/session.h"
#include "core/deadline.h"
#include "core/tls.h"
#include "core/tls_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void session_init(struct session *s, const struct endpoint *ep, const struct probe_config *cfg,
                  struct probe_result *res, struct stream *stream, int64_t deadline)
{
	memset(s, 0, sizeof(*s));
	s->ep = ep;
	s->cfg = cfg;
	s->res = res;
	s->stream = stream;
	s->deadline = deadline;
	lr_init(&s->lr, stream);
}

void session_close(struct session *s)
{
	stream_close(s->stream);
	s->stream = NULL;
	lr_init(&s->lr, NULL);
}

int64_t session_step_deadline(const struct session *s, int timeout_ms)
{
	return deadline_min(deadline_in(timeout_ms), s->deadline);
}

enum mp_status session_send_redacted(struct session *s, const char *line, const char *shown)
{
	size_t len = strlen(line);
	char *buf = NULL;
	enum mp_status st = MP_OK;

	if (!s->stream)
		return mp_error_set(&s->err, MP_ERR_CLOSED, "connection is closed");
	buf = malloc(len + 2);
	if (!buf)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	memcpy(buf, line, len);
	buf[len] = '\r';
	buf[len + 1] = '\n';
	transcript_add(&s->res->transcript, TR_CLIENT, shown, strlen(shown));
	if (stream_write(s->stream, buf, len + 2,
	                 session_step_deadline(s, s->cfg->command_timeout_ms), &s->err) != 0)
		st = s->err.code;
	explicit_bzero(buf, len + 2); /* it may have held credentials */
	free(buf);
	return st;
}

enum mp_status session_send(struct session *s, const char *line)
{
	return session_send_redacted(s, line, line);
}

enum mp_status session_read_line(struct session *s, int64_t deadline, char *buf, size_t bufsz,
                                 size_t *len)
{
	size_t n = 0;
	enum mp_status st;

	if (!s->stream)
		return mp_error_set(&s->err, MP_ERR_CLOSED, "connection is closed");
	st = lr_read_line(&s->lr, deadline_min(deadline, s->deadline), buf, bufsz, &n, &s->err);
	if (st != MP_OK)
		return st;
	transcript_add(&s->res->transcript, TR_SERVER, buf, n < bufsz ? n : strlen(buf));
	if (s->lr.had_nul)
		result_add_finding(s->res, FINDING_NUL_IN_REPLY,
		                   "server sent NUL bytes inside a reply line");
	if (s->lr.bare_lf)
		result_add_finding(s->res, FINDING_BARE_LF,
		                   "server ended a line with a bare LF instead of CRLF");
	if (len)
		*len = n;
	return MP_OK;
}

/* Reads and drops bytes that already sit in the socket (sent by the server
 * after its STARTTLS go-ahead, before our ClientHello). Never waits. */
static size_t drain_unsolicited(struct session *s)
{
	char junk[4096];
	size_t total = 0;
	struct mp_error ignored;

	while (total < MP_MAX_REPLY_BYTES) {
		ssize_t n = stream_read(s->stream, junk, sizeof(junk), mono_ms(), &ignored);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	return total;
}

enum mp_status session_start_tls(struct session *s, int timeout_ms, bool after_starttls)
{
	struct stream *tls = NULL;
	const char *name = s->cfg->sni ? s->cfg->sni : s->ep->host;
	int64_t t0 = mono_ms();
	size_t stale;
	enum mp_status st;

	/* RFC 3207 section 4.2 / RFC 2595 section 3.1: anything the server sent
	 * after the go-ahead and before the handshake is not part of the TLS
	 * session; it is discarded, never trusted (cf. CVE-2011-0411). */
	stale = lr_discard(&s->lr);
	if (after_starttls)
		stale += drain_unsolicited(s);
	if (after_starttls && stale > 0) {
		result_add_finding(
		    s->res, FINDING_STARTTLS_INJECTION,
		    "server sent %zu bytes of plaintext after the STARTTLS go-ahead, "
		    "before the TLS handshake (discarded)",
		    stale);
		transcript_note(&s->res->transcript,
		                "discarded %zu bytes received after the "
		                "STARTTLS go-ahead",
		                stale);
	}
	st = tls_start_resume(s->cfg->tls, s->resume, s->stream, name, name,
	                      session_step_deadline(s, timeout_ms), &tls, &s->res->tls, &s->err);
	s->res->t.tls = mono_ms() - t0;
	s->res->tls_used = true;
	if (st != MP_OK)
		return st;
	s->stream = tls;
	lr_set_stream(&s->lr, tls);
	s->tls_active = true;
	transcript_note(&s->res->transcript, "TLS established: %s %s%s", s->res->tls.version,
	                s->res->tls.cipher, s->res->tls.resumed ? " (session resumed)" : "");
	if (s->on_tls)
		s->on_tls(s->on_tls_arg, &s->res->tls);
	return MP_OK;
}
