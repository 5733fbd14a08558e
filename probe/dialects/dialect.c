/* dialect.c - the dialect table and lookups in it, and the reply plumbing
 * smtp.c, imap.c and pop3.c share: one bounded reply reader, greeting and
 * capability bookkeeping. */
#include "probe/dialects/dialect.h"
#include "core/deadline.h"
#include "probe/dialects/sasl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dialect table: every protocol's facts and steps, one line each. */
const struct dialect *const dialect_table[PROTO_COUNT] = {
    [PROTO_SMTP] = &smtp_dialect,
    [PROTO_IMAP] = &imap_dialect,
    [PROTO_POP3] = &pop3_dialect,
};

const struct dialect *dialect_for(enum protocol p)
{
	return (unsigned)p < PROTO_COUNT ? dialect_table[p] : NULL;
}

const struct dialect *dialect_of_tls_port(uint16_t port)
{
	for (int p = 0; port != 0 && p < PROTO_COUNT; p++)
		if (dialect_table[p] && dialect_table[p]->port_tls == port)
			return dialect_table[p];
	return NULL;
}

const struct dialect *dialect_of_port(uint16_t port)
{
	for (int p = 0; port != 0 && p < PROTO_COUNT; p++)
		for (size_t i = 0; dialect_table[p] && i < DIALECT_MAX_PORTS &&
		                   dialect_table[p]->well_known_ports[i] != 0;
		     i++)
			if (dialect_table[p]->well_known_ports[i] == port)
				return dialect_table[p];
	return NULL;
}

/* Fills w for a reply due within timeout_ms (capped by the probe deadline). */
static void wait_start(struct session *s, struct reply_wait *w, const char *what, int timeout_ms,
                       bool greeting)
{
	int64_t now = mono_ms();

	memset(w, 0, sizeof(*w));
	w->what = what;
	w->greeting = greeting;
	w->deadline = session_step_deadline(s, timeout_ms);
	w->timeout_ms = w->deadline > now ? (int)deadline_min(w->deadline - now, timeout_ms) : 0;
}

void dialect_wait_greeting(struct session *s, struct reply_wait *w)
{
	wait_start(s, w, "the greeting", s->cfg->greeting_timeout_ms, true);
}

void dialect_wait_command(struct session *s, struct reply_wait *w, const char *what)
{
	wait_start(s, w, what, s->cfg->command_timeout_ms, false);
}

void dialect_wait_quit(struct session *s, struct reply_wait *w, const char *what)
{
	int ms = s->cfg->command_timeout_ms;

	wait_start(s, w, what, ms < MP_QUIT_TIMEOUT_MS ? ms : MP_QUIT_TIMEOUT_MS, false);
}

/* Rewrites a reader failure into a message that says what was awaited. */
static enum mp_status wait_failed(struct session *s, struct reply_wait *w, enum mp_status st)
{
	bool mid = w->lines > 0 || w->bytes > 0;

	switch (st) {
	case MP_ERR_TIMEOUT:
		if (w->greeting)
			return mp_error_set(&s->err, MP_ERR_GREETING_TIMEOUT,
			                    mid ? "server stopped in the middle of its greeting "
			                          "(no complete greeting within %d ms)"
			                        : "server sent no greeting within %d ms",
			                    w->timeout_ms);
		return mp_error_set(&s->err, MP_ERR_TIMEOUT,
		                    mid ? "server stopped in the middle of its reply to %s "
		                          "(no complete reply within %d ms)"
		                        : "server did not answer %s within %d ms",
		                    w->what, w->timeout_ms);
	case MP_ERR_CLOSED:
		if (w->greeting)
			return mp_error_set(&s->err, MP_ERR_CLOSED,
			                    mid ? "server closed the connection in the middle of "
			                          "its greeting"
			                        : "server closed the connection without a "
			                          "greeting");
		return mp_error_set(&s->err, MP_ERR_CLOSED,
		                    mid ? "server closed the connection in the middle of its reply "
		                          "to %s"
		                        : "server closed the connection instead of answering %s",
		                    w->what);
	default:
		return st; /* line too long, network, TLS: the reader's message says it */
	}
}

/* Counts n more bytes (and a line, if line) against the reply limits. */
static enum mp_status wait_count(struct session *s, struct reply_wait *w, size_t n, bool line)
{
	if (line)
		w->lines++;
	w->bytes += n;
	if (w->lines > MP_MAX_REPLY_LINES) {
		result_add_finding(s->res, FINDING_LIMIT_HIT, "reply to %s has more than %d lines",
		                   w->what, MP_MAX_REPLY_LINES);
		return mp_error_set(&s->err, MP_ERR_REPLY_TOO_LARGE,
		                    "server sent more than %d lines in its reply to %s",
		                    MP_MAX_REPLY_LINES, w->what);
	}
	if (w->bytes > MP_MAX_REPLY_BYTES) {
		result_add_finding(s->res, FINDING_LIMIT_HIT, "reply to %s is larger than %d bytes",
		                   w->what, MP_MAX_REPLY_BYTES);
		return mp_error_set(&s->err, MP_ERR_REPLY_TOO_LARGE,
		                    "server sent more than %d bytes in its reply to %s",
		                    MP_MAX_REPLY_BYTES, w->what);
	}
	return MP_OK;
}

enum mp_status dialect_read_line(struct session *s, struct reply_wait *w, char *buf, size_t bufsz,
                                 size_t *len)
{
	char q[DIALECT_QUOTE_SIZE];
	size_t n = 0;
	enum mp_status st;

	st = session_read_line(s, w->deadline, buf, bufsz, &n);
	if (st != MP_OK)
		return wait_failed(s, w, st);
	st = wait_count(s, w, n + 2, true);
	if (st != MP_OK)
		return st;
	if (s->lr.had_nul) {
		/* session_read_line recorded FINDING_NUL_IN_REPLY already. */
		dialect_quote(q, sizeof(q), buf, n < bufsz ? n : bufsz - 1);
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent a NUL byte in its reply to %s: \"%s\"", w->what,
		                    q);
	}
	if (n >= bufsz)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "reply line buffer too small");
	*len = n;
	return MP_OK;
}

enum mp_status dialect_skip_bytes(struct session *s, struct reply_wait *w, size_t n)
{
	enum mp_status st;

	st = wait_count(s, w, n, false);
	if (st != MP_OK)
		return st;
	st = lr_read_bytes(&s->lr, w->deadline, NULL, n, &s->err);
	if (st != MP_OK)
		return wait_failed(s, w, st);
	transcript_note(&s->res->transcript, "(%zu bytes of literal data skipped)", n);
	return MP_OK;
}

void dialect_greeting_append(struct session *s, const char *line, size_t len)
{
	struct probe_result *r = s->res;
	size_t have = r->greeting ? strlen(r->greeting) : 0;
	size_t sep = have > 0 ? 1 : 0;
	size_t room;
	char *ng = NULL;

	if (have + sep >= MP_MAX_GREETING) {
		result_add_finding(r, FINDING_LIMIT_HIT, "greeting longer than %d bytes, truncated",
		                   MP_MAX_GREETING);
		return;
	}
	room = MP_MAX_GREETING - have - sep;
	if (len > room) {
		result_add_finding(r, FINDING_LIMIT_HIT, "greeting longer than %d bytes, truncated",
		                   MP_MAX_GREETING);
		len = room;
	}
	ng = realloc(r->greeting, have + sep + len + 1);
	if (!ng)
		return;
	if (sep)
		ng[have] = '\n';
	memcpy(ng + have + sep, line, len);
	ng[have + sep + len] = '\0';
	r->greeting = ng;
}

struct strlist *dialect_caps(struct session *s)
{
	return s->tls_active ? &s->res->caps_after : &s->res->caps_before;
}

struct strlist *dialect_auth(struct session *s)
{
	return s->tls_active ? &s->res->auth_after : &s->res->auth_before;
}

/* Adds str to l once; a full list is reported as FINDING_LIMIT_HIT. */
static void list_add_once(struct session *s, struct strlist *l, const char *str, const char *kind)
{
	if (strlist_has(l, str))
		return;
	if (strlist_add_str(l, str) != 0 && l->truncated)
		result_add_finding(s->res, FINDING_LIMIT_HIT,
		                   "server advertised more than %d %s; the rest were ignored",
		                   MP_MAX_CAPS, kind);
}

void dialect_add_cap(struct session *s, const char *cap)
{
	list_add_once(s, dialect_caps(s), cap, "capabilities");
}

void dialect_add_auth(struct session *s, const char *mech, size_t len)
{
	char up[MP_MAX_CAP_LEN + 1];

	if (len == 0)
		return;
	if (len > MP_MAX_CAP_LEN)
		len = MP_MAX_CAP_LEN;
	for (size_t i = 0; i < len; i++)
		up[i] = (char)toupper((unsigned char)mech[i]);
	up[len] = '\0';
	list_add_once(s, dialect_auth(s), up, "authentication mechanisms");
}

void dialect_add_auth_list(struct session *s, const char *list, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		while (i < len && isblank((unsigned char)list[i]))
			i++;
		start = i;
		while (i < len && !isblank((unsigned char)list[i]))
			i++;
		dialect_add_auth(s, list + start, i - start);
	}
}

size_t dialect_keyword_line(char *out, size_t outsz, const char *in, size_t len)
{
	size_t o = 0, kwlen = 0;
	size_t i = 0;
	bool first = true;

	if (outsz == 0)
		return 0;
	while (i < len) {
		while (i < len && isblank((unsigned char)in[i]))
			i++;
		if (i == len)
			break;
		if (!first && o + 1 < outsz)
			out[o++] = ' ';
		while (i < len && !isblank((unsigned char)in[i])) {
			char c = in[i++];

			if (o + 1 < outsz)
				out[o++] = first ? (char)toupper((unsigned char)c) : c;
		}
		if (first)
			kwlen = o;
		first = false;
	}
	out[o] = '\0';
	return kwlen;
}

enum mp_status dialect_check_unsolicited(struct session *s, const char *what)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct mp_error saved = s->err;
	size_t len = 0;
	enum mp_status st;

	if (!s->stream)
		return MP_OK;
	/* RFC 5321 4.1.1 and RFC 1939 3: the server speaks only to answer a
	 * command (we never pipeline). Look at what already arrived, without
	 * waiting: a deadline of now. */
	st = session_read_line(s, mono_ms(), line, sizeof(line), &len);
	if (st == MP_OK) {
		dialect_quote(q, sizeof(q), line, len);
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent \"%s\" before %s was sent: a reply to no command "
		                    "(later replies would be shifted)",
		                    q, what);
	}
	if (lr_pending(&s->lr) > 0)
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent %zu bytes before %s was sent: a reply to no "
		                    "command (later replies would be shifted)",
		                    lr_pending(&s->lr), what);
	s->err = saved;
	return MP_OK;
}

enum mp_status dialect_send_auth(struct session *s, const char *mech, const char *ir,
                                 size_t max_line, bool *ir_sent)
{
	size_t irlen = ir ? (ir[0] ? strlen(ir) : 1) : 0;
	size_t len = 5 + strlen(mech) + 1 + irlen;
	char shown[128];
	char *line = NULL;
	enum mp_status st;

	st = dialect_check_unsolicited(s, "AUTH");
	if (st != MP_OK)
		return st;
	*ir_sent = ir && len + 2 <= max_line;
	line = malloc(len + 1);
	if (!line)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	snprintf(line, len + 1, "AUTH %s%s%s", mech, *ir_sent ? " " : "",
	         *ir_sent ? (ir[0] ? ir : "=") : "");
	sasl_redact_line(line, 2, shown, sizeof(shown));
	st = session_send_redacted(s, line, shown);
	explicit_bzero(line, len);
	free(line);
	return st;
}
